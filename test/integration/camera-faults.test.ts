/**
 * Camera faults with real processes: ffmpeg killed or frozen, an RTSP camera that dies and comes
 * back on the same port, a camera that refuses connections and one that accepts TCP but never
 * answers. Each recovers (or keeps retrying with a clear reason) by itself, and every camera
 * not involved keeps streaming to its viewer throughout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ffmpegArgs } from '../../src/ffmpeg/args.js';
import type { CameraInfo } from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, freePort, waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const STALL_SECONDS = 2;

describe('camera faults', () => {
  let porch: RtspCamera;
  let yard: RtspCamera;
  let blackHole: Server;
  const blackHoleSockets = new Set<Socket>();
  let camplex: CamplexProcess;
  let viewer: TestViewer;
  let ids: string[];
  const demoInput = inputOf('demo:1');

  before(async () => {
    porch = await startRtspCamera({ pattern: 'ball' });
    yard = await startRtspCamera({ pattern: 'snow' });
    blackHole = createServer((socket) => {
      blackHoleSockets.add(socket); // accepts TCP, never says a word
      socket.on('close', () => blackHoleSockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const blackHolePort = (blackHole.address() as { port: number }).port;
    const refusedPort = await freePort();
    camplex = await startCamplexProcess({
      config: [
        'cameras:',
        '  porch:',
        `    url: ${porch.url()}`,
        '  yard:',
        `    url: ${yard.url()}`,
        '  demo:',
        '    url: demo:1',
        `    stallSeconds: ${STALL_SECONDS}`,
        '  refused:',
        `    url: rtsp://admin:hunter2@127.0.0.1:${refusedPort}/stream`,
        '  silent:',
        `    url: rtsp://127.0.0.1:${blackHolePort}/stream`,
      ].join('\n'),
    });
    viewer = await connectViewer(camplex.wsUrl);
    ids = ['porch', 'yard', 'demo', 'refused', 'silent'];
    viewer.send({ cmd: 'subscribe', cameras: ids });
    await waitFor(() => ['porch', 'yard', 'demo'].every((id) => viewer.framesOf(id) >= 3), {
      timeoutMs: 30_000,
      what: 'frames of every working camera',
    });
  });

  after(async () => {
    viewer?.ws.terminate();
    await camplex?.stop();
    for (const socket of blackHoleSockets) socket.destroy();
    blackHole?.close();
    await porch?.stop();
    await yard?.stop();
  });

  /** The last state pushed for `id`, and how many were pushed so far. */
  function lastState(id: string): CameraInfo | undefined {
    const states = viewer.messages.filter((m) => m.type === 'state' && m.id === id);
    return states.at(-1) as CameraInfo | undefined;
  }

  function statesSince(id: string, from: number): CameraInfo[] {
    return viewer.messages
      .slice(from)
      .filter((m): m is CameraInfo & { type: 'state' } => m.type === 'state' && m.id === id);
  }

  /** Runs `fault` and checks that `others` kept streaming while `recovered` was awaited. */
  async function keepsOthersStreaming(
    others: string[],
    during: () => Promise<void>,
  ): Promise<void> {
    const before = Object.fromEntries(others.map((id) => [id, viewer.framesOf(id)]));
    await during();
    for (const id of others) {
      assert.ok(viewer.framesOf(id) > (before[id] ?? 0) + 5, `${id} kept streaming`);
    }
  }

  it('brings a camera back by itself after its ffmpeg is SIGKILLed', async () => {
    await keepsOthersStreaming(['porch', 'yard'], async () => {
      const pid = ffmpegPid(camplex.pid, demoInput);
      const from = viewer.messages.length;
      const frames = viewer.framesOf('demo');
      process.kill(pid, 'SIGKILL');
      await waitFor(() => statesSince('demo', from).some((s) => s.state === 'retrying'), {
        timeoutMs: 5000,
        what: 'demo to report retrying',
      });
      const retrying = statesSince('demo', from).find((s) => s.state === 'retrying');
      assert.equal(retrying?.reason, 'ffmpeg was killed (SIGKILL)');
      assert.equal(retrying?.attempt, 1);
      await waitFor(
        () => lastState('demo')?.state === 'live' && viewer.framesOf('demo') > frames + 5,
        {
          timeoutMs: 15_000,
          what: 'demo live again with new frames',
        },
      );
      assert.notEqual(ffmpegPid(camplex.pid, demoInput), pid);
    });
  });

  it('restarts a frozen (SIGSTOPped) ffmpeg through the stall watchdog', async () => {
    await keepsOthersStreaming(['porch', 'yard'], async () => {
      const pid = ffmpegPid(camplex.pid, demoInput);
      const from = viewer.messages.length;
      process.kill(pid, 'SIGSTOP');
      await waitFor(() => statesSince('demo', from).some((s) => s.state === 'retrying'), {
        timeoutMs: STALL_SECONDS * 1000 + 5000,
        what: 'the watchdog to notice the stall',
      });
      const retrying = statesSince('demo', from).find((s) => s.state === 'retrying');
      assert.match(retrying?.reason ?? '', /^no frame for \d+(\.\d)? s \(stalled\)$/);
      await waitFor(() => lastState('demo')?.state === 'live', {
        timeoutMs: 15_000,
        what: 'demo live again',
      });
      // The frozen process was killed (SIGKILL reaches a stopped process), not left behind.
      await waitFor(() => !isAlive(pid), {
        timeoutMs: 10_000,
        what: `frozen ffmpeg ${pid} to be gone`,
      });
    });
  });

  it('retries a camera that refuses connections with a clear reason, without credentials', async () => {
    await waitFor(() => (lastState('refused')?.attempt ?? 0) >= 2, {
      timeoutMs: 15_000,
      what: 'refused to fail twice',
    });
    const state = lastState('refused');
    assert.match(state?.state ?? '', /^(retrying|offline)$/);
    assert.equal(state?.reason, 'Connection refused');
    assert.ok(!JSON.stringify(viewer.messages).includes('hunter2'));
  });

  it('retries a camera that accepts TCP but never answers, with a timeout reason', async () => {
    await waitFor(() => (lastState('silent')?.attempt ?? 0) >= 1, {
      timeoutMs: 30_000,
      what: 'silent to time out',
    });
    const state = lastState('silent');
    assert.match(state?.state ?? '', /^(retrying|offline)$/);
    assert.match(state?.reason ?? '', /\(no frame in [4-9](\.\d)? s\)$|^no first frame/);
    assert.ok(viewer.framesOf('porch') > 0 && viewer.framesOf('yard') > 0);
  });

  it('uses little CPU while cameras fail and retry', async () => {
    // Only the two failing cameras: nothing else runs in this instance.
    const closedPort = await freePort();
    const idle = await startCamplexProcess({
      config: ['cameras:', '  refused:', `    url: rtsp://127.0.0.1:${closedPort}/x`].join('\n'),
    });
    try {
      const watcher = await connectViewer(idle.wsUrl);
      watcher.send({ cmd: 'subscribe', cameras: ['refused'] });
      await waitFor(
        () => watcher.messages.some((m) => m.type === 'state' && m.state === 'retrying'),
        {
          timeoutMs: 10_000,
          what: 'the first failure',
        },
      );
      const startTicks = cpuTicks(idle.pid);
      const startedAt = Date.now();
      await waitFor(() => Date.now() - startedAt >= 6000, {
        timeoutMs: 10_000,
        what: '6 s of retries',
      });
      const seconds = (cpuTicks(idle.pid) - startTicks) / 100;
      const share = seconds / ((Date.now() - startedAt) / 1000);
      console.log(
        `# CPU while retrying a refused camera: ${(share * 100).toFixed(1)}% of one core`,
      );
      assert.ok(share < 0.25, `camplex and its ffmpeg used ${(share * 100).toFixed(1)}% of a core`);
      watcher.ws.terminate();
    } finally {
      await idle.stop();
    }
  });

  it('recovers an RTSP camera that died and came back on the same port 10 s later', async () => {
    await keepsOthersStreaming(['yard', 'demo'], async () => {
      const port = porch.port;
      const from = viewer.messages.length;
      await porch.stop();
      await waitFor(() => statesSince('porch', from).some((s) => s.state === 'retrying'), {
        timeoutMs: 10_000,
        what: 'porch to report retrying',
      });
      const retrying = statesSince('porch', from).find((s) => s.state === 'retrying');
      assert.ok(retrying?.reason, 'a reason while the camera is down');
      // Down for 10 s; meanwhile it keeps failing and saying why.
      const downAt = Date.now();
      await waitFor(() => Date.now() - downAt >= 10_000, {
        timeoutMs: 12_000,
        what: '10 s of outage',
      });
      assert.match(lastState('porch')?.state ?? '', /^(retrying|offline|starting)$/);
      porch = await startRtspCamera({ port, pattern: 'ball' });
      const frames = viewer.framesOf('porch');
      await waitFor(
        () => lastState('porch')?.state === 'live' && viewer.framesOf('porch') > frames + 5,
        {
          timeoutMs: 45_000,
          what: 'porch live again with new frames',
        },
      );
    });
  });
});

/** The `-i` value camplex gives ffmpeg for a camera URL: how its process is recognised. */
function inputOf(url: string): string {
  const args = ffmpegArgs({ id: 'x', name: 'x', url });
  return args[args.indexOf('-i') + 1] ?? '';
}

function ffmpegPid(rootPid: number, input: string): number {
  const pids = descendantPids(rootPid).filter((pid) => commandLine(pid).includes(input));
  assert.equal(pids.length, 1, `one ffmpeg with input ${input}`);
  return pids[0] as number;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat); // a zombie is dead, only not yet reaped
  } catch {
    return false;
  }
}

/** utime + stime + cutime + cstime of `pid`, in clock ticks (100 per second on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
}
