/**
 * The core promise with real parts: 2 GStreamer RTSP cameras (H.264) + 2 demo cameras, 5
 * WebSocket viewers that decode JPEG only, subscribed to all of them: exactly one ffmpeg pulling
 * each camera, plus one JPEG transcoder per H.264 camera fed by it (no second connection), and
 * every ffmpeg stopped only after the grace period once the last viewer left.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { countDescendants, descendantPids, waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const GRACE_SECONDS = 3;

describe('one connection per camera, many viewers', () => {
  const rtsp: RtspCamera[] = [];
  let camplex: CamplexProcess;
  let viewers: TestViewer[] = [];
  let cameraIds: string[] = [];

  before(async () => {
    rtsp.push(
      await startRtspCamera({ pattern: 'ball' }),
      await startRtspCamera({ pattern: 'smpte' }),
    );
    camplex = await startCamplexProcess({
      args: ['--demo', '2'],
      config: [
        'stream:',
        `  graceSeconds: ${GRACE_SECONDS}`,
        'cameras:',
        '  porch:',
        `    url: ${rtsp[0]?.url()}`,
        '    name: Porch (RTSP)',
        '  yard:',
        `    url: ${rtsp[1]?.url()}`,
        '    fps: 10',
        '    width: 320',
      ].join('\n'),
    });
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await camplex?.stop();
    await Promise.all(rtsp.map((camera) => camera.stop()));
  });

  it('announces every camera in hello without its URL', async () => {
    const viewer = await connectViewer(camplex.wsUrl);
    const hello = viewer.messages[0];
    assert.equal(hello?.type, 'hello');
    assert.ok(hello?.type === 'hello');
    cameraIds = hello.cameras.map((camera) => camera.id);
    assert.deepEqual(cameraIds, ['porch', 'yard', 'demo-01', 'demo-02']);
    assert.equal(hello.cameras[0]?.name, 'Porch (RTSP)');
    assert.ok(!JSON.stringify(hello).includes('rtsp://'), 'hello must not leak camera URLs');
    assert.equal(countDescendants(camplex.pid, 'ffmpeg'), 0, 'no ffmpeg before anyone subscribes');
    viewer.ws.close();
  });

  it('sends 5 viewers valid JPEGs from every camera through exactly one ffmpeg each', async () => {
    viewers = await Promise.all(Array.from({ length: 5 }, () => connectViewer(camplex.wsUrl)));
    for (const viewer of viewers) viewer.send({ cmd: 'subscribe', cameras: cameraIds });
    await waitFor(
      () => viewers.every((viewer) => cameraIds.every((id) => viewer.framesOf(id) >= 5)),
      { timeoutMs: 30_000, what: '5 frames of every camera at every viewer' },
    );
    for (const viewer of viewers) {
      assert.equal(viewer.badFrames, 0);
      assert.ok(viewer.messages.some((m) => m.type === 'subscribed'));
    }
    assert.deepEqual(ffmpegs(camplex.pid), { sources: cameraIds.length, transcoders: rtsp.length });
    // Each RTSP camera is pulled by one process, whatever the number of viewers.
    for (const camera of rtsp) {
      const pulling = descendantPids(camplex.pid).filter((pid) =>
        commandLine(pid).includes(camera.url()),
      );
      assert.equal(pulling.length, 1, `ffmpeg processes pulling ${camera.url()}`);
    }
  });

  it('keeps ffmpeg running while any viewer remains', async () => {
    for (const viewer of viewers.slice(0, 4))
      viewer.send({ cmd: 'unsubscribe', cameras: cameraIds });
    const last = viewers[4];
    assert.ok(last);
    const before = last.framesOf('porch');
    await waitFor(() => last.framesOf('porch') >= before + 10, {
      timeoutMs: 10_000,
      what: 'the remaining viewer to keep receiving frames',
    });
    assert.deepEqual(ffmpegs(camplex.pid), { sources: cameraIds.length, transcoders: rtsp.length });
  });

  it('stops every ffmpeg after the grace period once the last viewer left, not before', async () => {
    const last = viewers[4];
    assert.ok(last);
    const leftAt = Date.now();
    last.ws.close();
    await last.closed;
    // Halfway through the grace period every ffmpeg must still be there.
    await waitFor(() => Date.now() - leftAt >= (GRACE_SECONDS * 1000) / 2, {
      timeoutMs: GRACE_SECONDS * 1000,
      what: 'half the grace period',
    });
    assert.deepEqual(ffmpegs(camplex.pid), { sources: cameraIds.length, transcoders: rtsp.length });
    await waitFor(() => countDescendants(camplex.pid, 'ffmpeg') === 0, {
      timeoutMs: GRACE_SECONDS * 1000 + 10_000,
      what: 'every ffmpeg to stop',
    });
    assert.ok(Date.now() - leftAt >= GRACE_SECONDS * 1000, 'stopped before the grace period ended');
  });

  it('restarts a stopped camera for a new viewer and exits cleanly on SIGTERM', async () => {
    const viewer = await connectViewer(camplex.wsUrl);
    viewer.send({ cmd: 'subscribe', cameras: ['porch'] });
    await waitFor(() => viewer.framesOf('porch') >= 2, {
      timeoutMs: 20_000,
      what: 'porch frames again',
    });
    assert.deepEqual(ffmpegs(camplex.pid), { sources: 1, transcoders: 1 });
    const pid = camplex.pid;
    const exit = await camplex.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal((await viewer.closed).code, 1001);
    assert.equal(countDescendants(pid, 'ffmpeg'), 0);
  });
});

/** camplex's ffmpeg children: those pulling a camera, and JPEG transcoders reading stdin. */
function ffmpegs(root: number): { sources: number; transcoders: number } {
  const lines = descendantPids(root)
    .map(commandLine)
    .filter((line) => /(^|\/)ffmpeg /.test(line));
  const transcoders = lines.filter((line) => line.includes('-i pipe:0')).length;
  return { sources: lines.length - transcoders, transcoders };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
