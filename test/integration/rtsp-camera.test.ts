import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { launchChromium } from '../../support/browser.js';
import {
  countDescendants,
  descendantPids,
  freePort,
  pidsByCommandLine,
  waitFor,
} from '../../support/processes.js';
import type { RtspCamera } from '../../support/rtsp.js';
import { requireTool, startRtspCamera } from '../../support/rtsp.js';

const FFMPEG = '/usr/bin/ffmpeg';
const PULL_DEADLINE_MS = 15_000;

interface PullResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  elapsedMs: number;
}

/** Pulls one frame from an RTSP url as JPEG with a real ffmpeg, killed at the deadline. */
function pullOneJpeg(url: string): Promise<PullResult> {
  const started = Date.now();
  const args = [
    ...'-loglevel error -rtsp_transport tcp -analyzeduration 500000 -i'.split(' '),
    url,
    ...'-frames:v 1 -f mjpeg -'.split(' '),
  ];
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4096);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PULL_DEADLINE_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(chunks),
        stderr,
        elapsedMs: Date.now() - started,
      });
    });
  });
}

function isJpeg(bytes: Buffer): boolean {
  return (
    bytes.length > 4 &&
    bytes[0] === 0xff &&
    bytes[1] === 0xd8 &&
    bytes[bytes.length - 2] === 0xff &&
    bytes[bytes.length - 1] === 0xd9
  );
}

describe('GStreamer RTSP test camera', () => {
  let camera: RtspCamera;

  before(async () => {
    requireTool(FFMPEG, 'apt-get install -y ffmpeg');
    camera = await startRtspCamera({ paths: ['/cam', '/second'] });
  });

  after(async () => {
    await camera?.stop();
  });

  it('listens on an OS-chosen port and builds rtsp urls for its mount paths', () => {
    assert.ok(camera.port > 0 && camera.port < 65536);
    assert.equal(camera.url(), `rtsp://127.0.0.1:${camera.port}/cam`);
    assert.equal(camera.url('/second'), `rtsp://127.0.0.1:${camera.port}/second`);
  });

  it('serves a stream that ffmpeg decodes to a complete JPEG frame', async () => {
    const result = await pullOneJpeg(camera.url());
    assert.equal(result.code, 0, `ffmpeg failed: ${result.stderr}`);
    assert.ok(
      isJpeg(result.stdout),
      `not a JPEG (${result.stdout.length} bytes): ${result.stderr}`,
    );
  });

  it('serves every requested mount path', async () => {
    const result = await pullOneJpeg(camera.url('/second'));
    assert.equal(result.code, 0, `ffmpeg failed: ${result.stderr}`);
    assert.ok(
      isJpeg(result.stdout),
      `not a JPEG (${result.stdout.length} bytes): ${result.stderr}`,
    );
  });

  it('sees a pulling ffmpeg as a descendant of the test process', async () => {
    const pull = pullOneJpeg(`${camera.url()}?probe=descendants`);
    const [pid] = await waitFor(
      () => {
        const pids = pidsByCommandLine('probe=descendants');
        return pids.length > 0 ? pids : undefined;
      },
      { timeoutMs: 5_000, what: 'the ffmpeg pull to appear in /proc' },
    );
    assert.ok(descendantPids(process.pid).includes(pid ?? -1));
    assert.ok(countDescendants(process.pid, 'ffmpeg') >= 1);
    await pull;
    await waitFor(() => pidsByCommandLine('probe=descendants').length === 0, {
      timeoutMs: 5_000,
      what: 'the ffmpeg pull to leave /proc',
    });
  });

  it('exits cleanly on stop and then refuses new pulls quickly', async () => {
    const url = camera.url();
    await camera.stop();
    assert.equal(await camera.exited, 0);
    const result = await pullOneJpeg(url);
    assert.ok(
      result.code !== 0 || !isJpeg(result.stdout),
      `a stopped camera still served a frame (exit ${result.code})`,
    );
    assert.ok(result.elapsedMs < 5_000, `the failed pull took ${result.elapsedMs}ms`);
  });
});

describe('RTSP camera start-up failures', () => {
  it('rejects with the script stderr when the port cannot be bound', async () => {
    const port = await freePort();
    const holder = await startRtspCamera({ port });
    try {
      await assert.rejects(startRtspCamera({ port }), (error: Error) => {
        assert.match(error.message, /rtsp camera failed to start/);
        assert.match(error.message, /cannot listen on 127\.0\.0\.1/);
        return true;
      });
    } finally {
      await holder.stop();
    }
  });
});

describe('headless Chromium', () => {
  let server: Server;
  let origin: string;

  before(async () => {
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        '<!doctype html><title>probe</title><p id="answer"></p>' +
          '<script>document.getElementById("answer").textContent = String(6 * 7);</script>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('opens a page from a local http server and reads a value its script wrote', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${origin}/`, { timeout: 10_000 });
      assert.equal(await page.textContent('#answer', { timeout: 5_000 }), '42');
      assert.equal(await page.evaluate(() => window.isSecureContext), true);
    } finally {
      await browser.close();
    }
  });
});
