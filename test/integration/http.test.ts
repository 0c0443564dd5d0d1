/**
 * The plain HTTP side against a running camplex: dashboard files, camera list, snapshots (also of
 * a dead camera), the MJPEG fallback, health, and clear JSON errors. Credentials never leak.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { freePort } from '../../support/processes.js';

describe('HTTP routes', () => {
  let camplex: CamplexProcess;

  before(async () => {
    const closedPort = await freePort(); // nothing listens there: connection refused
    camplex = await startCamplexProcess({
      args: ['--demo', '2'],
      config: [
        'cameras:',
        '  dead:',
        `    url: rtsp://admin:hunter2@127.0.0.1:${closedPort}/stream`,
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
  });

  it('serves the dashboard, its bundle and a favicon', async () => {
    const page = await fetch(camplex.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /Stream All/);
    const app = await fetch(`${camplex.url}app.js`);
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`${camplex.url}favicon.svg`)).status, 200);
  });

  it('lists cameras with names and states but never their URLs', async () => {
    const response = await fetch(`${camplex.url}api/cameras`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.doesNotMatch(text, /hunter2|rtsp:|127\.0\.0\.1/);
    const { cameras } = JSON.parse(text) as { cameras: Array<{ id: string; state: string }> };
    assert.deepEqual(
      cameras.map((camera) => camera.id),
      ['dead', 'demo-01', 'demo-02'],
    );
    for (const camera of cameras) assert.equal(typeof camera.state, 'string');
  });

  it('answers a snapshot of an idle camera by waking it', async () => {
    const response = await fetch(`${camplex.url}snapshot/demo-01.jpg`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    const jpeg = Buffer.from(await response.arrayBuffer());
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
    assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9]);
  });

  it('answers 503 with the reason when a camera has no frame, without its credentials', async () => {
    const response = await fetch(`${camplex.url}snapshot/dead.jpg`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '2');
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'CAMPLEX_ERR_NO_FRAME');
    assert.match(
      body.error.message,
      /^camera "dead" has no frame yet \(((retrying|offline) - .*Connection refused.*|starting)\)$/,
    );
    assert.doesNotMatch(body.error.message, /hunter2|rtsp:/);
    // The log names the failure but redacts the password.
    const failures = camplex.lines.filter((line) => line.includes('camera failed'));
    assert.ok(failures.length > 0, 'a log line for the failing camera');
    assert.ok(
      camplex.lines.every((line) => !line.includes('hunter2')),
      'password in the log',
    );
  });

  it('streams a camera as multipart/x-mixed-replace', async () => {
    const { contentType, firstPart } = await readMjpeg(`${camplex.url}mjpeg/demo-02`);
    assert.match(contentType, /^multipart\/x-mixed-replace; boundary=camplexmjpeg$/);
    assert.match(
      firstPart.toString('latin1', 0, 80),
      /^--camplexmjpeg\r\nContent-Type: image\/jpeg\r\nContent-Length: \d+\r\n\r\n\xff\xd8/,
    );
  });

  it('answers unknown cameras, paths and methods with JSON errors', async () => {
    const unknown = await fetch(`${camplex.url}snapshot/nope.jpg`);
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), {
      error: { code: 'CAMPLEX_ERR_UNKNOWN_CAMERA', message: 'unknown camera "nope"' },
    });
    assert.equal((await fetch(`${camplex.url}mjpeg/nope`)).status, 404);
    const traversal = await fetch(`${camplex.url}snapshot/..%2f..%2fetc%2fpasswd.jpg`);
    assert.equal(traversal.status, 404);
    const missing = await fetch(`${camplex.url}no/such/page`);
    assert.equal(missing.status, 404);
    assert.equal(
      ((await missing.json()) as { error: { code: string } }).error.code,
      'CAMPLEX_ERR_NOT_FOUND',
    );
    const post = await fetch(camplex.url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('exposes Prometheus metrics per camera and for the process', async () => {
    const stat = readFileSync(`/proc/${camplex.pid}/stat`, 'utf8');
    const [utime, stime] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(11, 13);
    const response = await fetch(`${camplex.url}metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    // demo-01 was woken by the snapshot test above.
    assert.match(text, /^camplex_frames_total\{camera="demo-01"\} [1-9]\d*$/m);
    assert.match(text, /^camplex_camera_live\{camera="dead"\} 0$/m);
    assert.match(text, /^camplex_camera_failures_total\{camera="dead"\} [1-9]\d*$/m);
    assert.match(text, /^camplex_viewers 0$/m);
    assert.match(text, /^camplex_process_resident_memory_bytes \d+$/m);
    assert.doesNotMatch(text, /hunter2/);
    // CPU since the process started, not since this first scrape: at least what /proc said
    // just before it (utime and stime, in clock ticks of 1/100 s).
    const cpu = Number(/^camplex_process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
    const before = (Number(utime) + Number(stime)) / 100;
    assert.ok(cpu >= before - 0.01, `process CPU ${cpu} s, /proc said ${before} s before`);
  });

  it('reports health', async () => {
    const response = await fetch(`${camplex.url}healthz`);
    assert.equal(response.status, 200);
    const health = (await response.json()) as { status: string; cameras: number };
    assert.equal(health.status, 'ok');
    assert.equal(health.cameras, 3);
  });

  it('refuses a WebSocket upgrade on any other path with 404', async () => {
    const ws = new WebSocket(`${camplex.url.replace('http', 'ws')}ws/other`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 404);
  });
});

/** Reads the response headers and the first part (up to 4 KiB) of an endless MJPEG response. */
function readMjpeg(url: string): Promise<{ contentType: string; firstPart: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let received = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 4096) {
          req.destroy();
          resolve({ contentType: String(res.headers['content-type']), firstPart: received });
        }
      });
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no MJPEG data within 15 s')));
    req.end();
  });
}
