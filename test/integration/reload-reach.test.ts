/**
 * A reload reaches every part that serves a stream, not only the camera: the JPEG transcoder of
 * a changed H.264 camera takes its new width and fps (it read the startup config), and /metrics
 * counts cameras added by a reload (it listed the startup cameras once) and forgets removed ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

/** Command lines of camplex's JPEG transcoders (ffmpeg reading the copied stream on stdin). */
function transcoders(root: number): string[] {
  return descendantPids(root)
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    })
    .filter((line) => /(^|\/)ffmpeg /.test(line) && line.includes('-i pipe:0'));
}

describe('a reload reaches the transcoder and the metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-reload-reach-'));
  const file = join(dir, 'camplex.yaml');
  let rtsp: RtspCamera;
  let camplex: CamplexProcess;
  let viewer: TestViewer;
  const write = (lines: string[]) => writeFileSync(file, `${lines.join('\n')}\n`);
  const reload = async (lines: string[], expected: string) => {
    const mark = camplex.lines.length;
    write(lines);
    process.kill(camplex.pid, 'SIGHUP');
    await waitFor(async () => camplex.lines.slice(mark).some((line) => line.includes(expected)), {
      timeoutMs: 8000,
      what: `"${expected}" in the log`,
    });
  };

  before(async () => {
    rtsp = await startRtspCamera({ width: 640, height: 360, fps: 15 });
    write(['cameras:', `  door: { url: "${rtsp.url()}", codec: h264 }`]);
    camplex = await startCamplexProcess({ args: ['--config', file] });
    viewer = await connectViewer(camplex.wsUrl);
    viewer.send({ cmd: 'subscribe', cameras: ['door'], formats: ['jpeg'] });
    await waitFor(async () => viewer.framesOf('door') > 3, {
      timeoutMs: 20_000,
      what: 'JPEGs of the H.264 camera',
    });
  });

  after(async () => {
    viewer?.ws.terminate();
    await camplex?.stop();
    await rtsp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a changed camera’s transcoder the new width and fps', async () => {
    assert.ok(
      transcoders(camplex.pid).every((line) => !line.includes('scale=')),
      'no scaling at first',
    );
    await reload(
      ['cameras:', `  door: { url: "${rtsp.url()}", codec: h264, width: 320, fps: 5 }`],
      'config reloaded: changed door',
    );
    const frames = viewer.framesOf('door');
    await waitFor(async () => viewer.framesOf('door') > frames + 3, {
      timeoutMs: 20_000,
      what: 'JPEGs again after the change',
    });
    const lines = transcoders(camplex.pid);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /fps=5,scale=320:-2|scale=320:-2/);
    assert.match(lines[0] ?? '', /fps=5/);
  });

  it('counts a camera added by a reload in /metrics', async () => {
    await reload(
      [
        'cameras:',
        `  door: { url: "${rtsp.url()}", codec: h264, width: 320, fps: 5 }`,
        '  yard: { url: "demo:2" }',
      ],
      'config reloaded: added yard',
    );
    viewer.send({ cmd: 'subscribe', cameras: ['yard'] });
    await waitFor(async () => viewer.framesOf('yard') > 3, { timeoutMs: 15_000, what: 'yard' });
    const metrics = await (await fetch(`${camplex.url}metrics`)).text();
    const yard = /camplex_frames_total\{camera="yard"\} (\d+)/.exec(metrics)?.[1];
    assert.ok(Number(yard) > 0, `yard's frames in /metrics:\n${metrics.slice(0, 2000)}`);
    const sent = /camplex_frames_sent_total\{camera="yard"\} (\d+)/.exec(metrics)?.[1];
    assert.ok(Number(sent) > 0, 'and its frames sent');
  });

  it('stops showing a camera a reload removed in the gauges of /metrics', async () => {
    const gauges = ['camplex_camera_live', 'camplex_cache_bytes', 'camplex_cache_memory_bytes'];
    const shown = (metrics: string, id: string) =>
      gauges.filter((name) => metrics.includes(`${name}{camera="${id}"}`));
    const before = await (await fetch(`${camplex.url}metrics`)).text();
    assert.deepEqual(shown(before, 'yard'), gauges, 'yard is there before');
    await reload(
      ['cameras:', `  door: { url: "${rtsp.url()}", codec: h264, width: 320, fps: 5 }`],
      'config reloaded: removed yard',
    );
    const metrics = await (await fetch(`${camplex.url}metrics`)).text();
    assert.deepEqual(shown(metrics, 'yard'), [], 'no gauge of the removed camera');
    assert.deepEqual(shown(metrics, 'door'), gauges, 'the kept camera in every gauge');
  });
});
