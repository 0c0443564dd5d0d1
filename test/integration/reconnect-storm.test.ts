/**
 * A reconnect storm (every dashboard of a building reloading at once): 1,000 short-lived
 * sockets from 50 addresses (the per-address connection cap stays at its default) subscribe
 * and leave. Every handshake and every ack must arrive, each camera keeps
 * exactly one ffmpeg, and a viewer that was already watching never stops getting frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { decodeServerMessage } from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { countDescendants, waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const CAMERAS = 8;
const CONNECTIONS = 1000;
const WAVE = 100;
const CAMERAS_PER_SOCKET = 4;
/** Per wave: every socket of it opened, acknowledged and closed, or the wave fails. */
const WAVE_DEADLINE_MS = 30_000;
/** The building's dashboards: 127.0.1.1 to 127.0.1.50, two sockets each per wave. */
const ADDRESSES = 50;

type Outcome = 'acked' | 'no-hello' | 'no-ack' | 'wrong-ack';

/** One storm socket: hello, subscribe right away, wait for the ack, close. */
function flash(url: string, cameras: string[], localAddress: string): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const ws = new WebSocket(url, { localAddress });
    let hello = false;
    let outcome: Outcome | undefined;
    const finish = (result: Outcome) => {
      if (outcome !== undefined) return;
      outcome = result;
      clearTimeout(timer);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
    };
    const timer = setTimeout(() => finish(hello ? 'no-ack' : 'no-hello'), WAVE_DEADLINE_MS);
    ws.on('error', () => finish(hello ? 'no-ack' : 'no-hello'));
    ws.on('close', () => {
      finish(hello ? 'no-ack' : 'no-hello');
      resolve(outcome ?? 'no-hello');
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary || outcome !== undefined) return; // cached frames arrive before the ack
      const message = decodeServerMessage(data.toString('utf8'));
      if (message.type === 'hello') {
        hello = true;
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras }));
      } else if (message.type === 'subscribed') {
        const right = [...message.cameras].sort().join() === [...cameras].sort().join();
        outcome = right ? 'acked' : 'wrong-ack';
        clearTimeout(timer);
        ws.close(1000, 'page closed');
        // A server that never answers the close handshake must not hold the wave forever.
        setTimeout(() => ws.terminate(), WAVE_DEADLINE_MS).unref();
      }
    });
  });
}

describe('reconnect storm', () => {
  let camplex: CamplexProcess;
  let watcher: TestViewer;
  let cameraIds: string[] = [];

  before(async () => {
    // --demo without --config: exactly these 8 demo cameras, not the 16 default ones as well.
    camplex = await startCamplexProcess({ args: ['--demo', String(CAMERAS)] });
    watcher = await connectViewer(camplex.wsUrl);
    const hello = watcher.messages[0];
    assert.ok(hello?.type === 'hello');
    cameraIds = hello.cameras.map((camera) => camera.id);
    assert.equal(cameraIds.length, CAMERAS);
    watcher.send({ cmd: 'subscribe', cameras: cameraIds });
    await waitFor(() => cameraIds.every((id) => watcher.framesOf(id) >= 3), {
      timeoutMs: 30_000,
      what: 'frames of every camera at the long-lived viewer',
    });
  });

  after(async () => {
    watcher?.ws.terminate();
    await camplex?.stop();
  });

  it('answers 1,000 short-lived sockets while one ffmpeg per camera keeps streaming', async () => {
    const outcomes = new Map<Outcome, number>();
    const maxFfmpeg: number[] = [];
    const startedAt = Date.now();
    for (let wave = 0; wave < CONNECTIONS / WAVE; wave++) {
      const before = cameraIds.map((id) => watcher.framesOf(id));
      const results = await Promise.all(
        Array.from({ length: WAVE }, (_, i) => {
          const first = (wave * WAVE + i) % CAMERAS;
          const cameras = Array.from(
            { length: CAMERAS_PER_SOCKET },
            (_, k) => cameraIds[(first + k) % CAMERAS] ?? '',
          );
          return flash(camplex.wsUrl, cameras, `127.0.1.${1 + (i % ADDRESSES)}`);
        }),
      );
      for (const result of results) outcomes.set(result, (outcomes.get(result) ?? 0) + 1);
      maxFfmpeg.push(countDescendants(camplex.pid, 'ffmpeg'));
      // The long-lived viewer is still served between waves: a new frame of every camera.
      await waitFor(() => cameraIds.every((id, c) => watcher.framesOf(id) > (before[c] ?? 0)), {
        timeoutMs: 10_000,
        what: `frames of every camera at the long-lived viewer after wave ${wave + 1}`,
      });
    }
    const seconds = (Date.now() - startedAt) / 1000;
    process.stdout.write(
      `# storm: ${CONNECTIONS} sockets in waves of ${WAVE} took ${seconds.toFixed(2)} s\n`,
    );

    assert.deepEqual(Object.fromEntries(outcomes), { acked: CONNECTIONS });
    assert.deepEqual(
      maxFfmpeg.filter((count) => count !== CAMERAS),
      [],
      'ffmpeg count after each wave',
    );
    assert.equal(countDescendants(camplex.pid, 'ffmpeg'), CAMERAS);
    await waitFor(
      async () => {
        const response = await fetch(`${camplex.url}healthz`);
        return ((await response.json()) as { viewers: number }).viewers === 1;
      },
      { timeoutMs: 10_000, what: '/healthz to count only the long-lived viewer' },
    );
    const afterStorm = cameraIds.map((id) => watcher.framesOf(id));
    await waitFor(() => cameraIds.every((id, c) => watcher.framesOf(id) > (afterStorm[c] ?? 0)), {
      timeoutMs: 10_000,
      what: 'frames of every camera at the long-lived viewer after the storm',
    });
    assert.equal(watcher.ws.readyState, watcher.ws.OPEN);
    assert.equal(watcher.badFrames, 0);
    assert.equal(countDescendants(camplex.pid, 'ffmpeg'), CAMERAS);
  });
});
