/**
 * A viewer that vanishes without a FIN (a frozen process, a sleeping laptop) is found by
 * unanswered pings and cut off, its subscriptions freed, while other viewers never starve.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { decodeFrame } from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const PING_SECONDS = 0.5;
const MISSED_PONGS_LOG = 'missed 2 pongs';

/**
 * The viewer that gets frozen, as its own process so SIGSTOP freezes its whole event loop:
 * it subscribes to every camera and prints one line once it has 3 frames of each.
 */
const FROZEN_VIEWER = `
const { default: WebSocket } = await import(process.env.WS_MODULE);
const ws = new WebSocket(process.env.CAMPLEX_WS);
const frames = new Map();
let cameras = 0;
let ready = false;
ws.on('message', (data, isBinary) => {
  if (!isBinary) {
    const message = JSON.parse(data.toString('utf8'));
    if (message.type === 'hello') {
      cameras = message.cameras.length;
      const ids = message.cameras.map((camera) => camera.id);
      ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ids }));
    }
    return;
  }
  const id = data.subarray(1, 1 + data[0]).toString('utf8');
  frames.set(id, (frames.get(id) ?? 0) + 1);
  if (!ready && frames.size === cameras && [...frames.values()].every((n) => n >= 3)) {
    ready = true;
    process.stdout.write('has frames of every camera\\n');
  }
});
ws.on('close', (code) => {
  process.stdout.write('closed ' + code + '\\n');
  process.exit(0);
});
`;

interface Health {
  status: string;
  viewers: number;
}

async function health(camplex: CamplexProcess): Promise<Health> {
  const response = await fetch(`${camplex.url}healthz`);
  return (await response.json()) as Health;
}

/** Process state letter from /proc (R, S, T for stopped, Z, ...), or undefined once gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('viewer liveness by ping/pong', () => {
  let camplex: CamplexProcess;
  let viewer: TestViewer;
  let frozen: ChildProcess | undefined;
  let frozenOutput = '';
  /** Arrival time (ms since epoch) of every frame of the healthy viewer, per camera. */
  const arrivals = new Map<string, number[]>();
  let cameraIds: string[] = [];

  before(async () => {
    camplex = await startCamplexProcess({
      config: `stream:\n  pingSeconds: ${PING_SECONDS}\n`,
      args: ['--demo', '2'],
    });
    viewer = await connectViewer(camplex.wsUrl);
    viewer.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const { camera } = decodeFrame(data);
      const times = arrivals.get(camera);
      if (times) times.push(Date.now());
      else arrivals.set(camera, [Date.now()]);
    });
    const hello = viewer.messages[0];
    assert.ok(hello?.type === 'hello');
    cameraIds = hello.cameras.map((camera) => camera.id);
    assert.deepEqual(cameraIds, ['demo-01', 'demo-02']);
    viewer.send({ cmd: 'subscribe', cameras: cameraIds });
    await waitFor(() => cameraIds.every((id) => viewer.framesOf(id) >= 3), {
      timeoutMs: 20_000,
      what: 'frames of both cameras at the healthy viewer',
    });
  });

  after(async () => {
    if (frozen && frozen.exitCode === null && frozen.signalCode === null) frozen.kill('SIGKILL');
    viewer?.ws.terminate();
    await camplex?.stop();
  });

  it('cuts off a frozen viewer after 2 missed pongs and never starves the others', async () => {
    const wsModule = pathToFileURL(createRequire(import.meta.url).resolve('ws')).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', FROZEN_VIEWER], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, WS_MODULE: wsModule, CAMPLEX_WS: camplex.wsUrl },
    });
    frozen = child;
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      frozenOutput += text;
    });
    await waitFor(() => frozenOutput.includes('has frames of every camera'), {
      timeoutMs: 20_000,
      what: 'the second viewer process to get frames of every camera',
    });
    await waitFor(async () => (await health(camplex)).viewers === 2, {
      timeoutMs: 5_000,
      what: '/healthz to count 2 viewers',
    });
    assert.ok(!camplex.lines.some((line) => line.includes(MISSED_PONGS_LOG)), 'nobody missed yet');

    const stoppedAt = Date.now();
    child.kill('SIGSTOP'); // frozen: no FIN, no close frame, no pong
    await waitFor(() => processState(child.pid ?? -1) === 'T', {
      timeoutMs: 5_000,
      what: 'the viewer process to be stopped',
    });
    const line = await waitFor(
      () => camplex.lines.find((text) => text.includes(MISSED_PONGS_LOG)),
      { timeoutMs: 15_000, what: `camplex to log "${MISSED_PONGS_LOG}"` },
    );
    const terminatedAt = (JSON.parse(line) as { time: number }).time;
    assert.ok(terminatedAt >= stoppedAt, 'cut off only after it was frozen');
    await waitFor(async () => (await health(camplex)).viewers === 1, {
      timeoutMs: 10_000,
      what: '/healthz to count 1 viewer again',
    });
    assert.equal(processState(child.pid ?? -1), 'T', 'cut off by camplex, not by its own exit');
    assert.equal(
      camplex.lines.filter((text) => text.includes(MISSED_PONGS_LOG)).length,
      1,
      'only the frozen viewer is cut off',
    );

    // The healthy viewer got frames of every camera while the frozen one was still connected,
    // and keeps getting them afterwards.
    for (const id of cameraIds) {
      const during = (arrivals.get(id) ?? []).filter((t) => t > stoppedAt && t < terminatedAt);
      assert.ok(during.length > 0, `frames of ${id} while the frozen viewer was connected`);
    }
    const afterwards = cameraIds.map((id) => viewer.framesOf(id));
    await waitFor(() => cameraIds.every((id, i) => viewer.framesOf(id) > (afterwards[i] ?? 0)), {
      timeoutMs: 10_000,
      what: 'new frames of every camera at the healthy viewer',
    });
    assert.equal(viewer.ws.readyState, viewer.ws.OPEN);
    assert.equal(viewer.badFrames, 0);

    child.kill('SIGKILL');
    await waitFor(() => child.signalCode === 'SIGKILL', {
      timeoutMs: 5_000,
      what: 'the frozen viewer process to die',
    });
  });
});
