/**
 * No ffmpeg outlives camplex: SIGTERM and SIGINT close every viewer with 1001, stop every
 * ffmpeg and exit 0; after a SIGKILL (no handler runs) the orphaned ffmpeg processes die by
 * themselves on their next write to a pipe nobody reads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, pidsByCommandLine, waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const CAMERAS = 16;
const VIEWERS = 3;
/** The -boundary_tag on every camplex ffmpeg's command line. */
const BOUNDARY_TAG = 'camplexframe';

/** A process as it was seen: a pid plus its start time, so a reused pid is not mistaken. */
interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** Fields of /proc/<pid>/stat after the comm, or undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function identify(pid: number): ProcessIdentity | undefined {
  const startTime = statFields(pid)?.[19]; // field 22 of stat
  return startTime === undefined ? undefined : { pid, startTime };
}

/**
 * Still running: present in /proc with the same start time and not a zombie. An orphan whose
 * new parent never reaps it stays a zombie; it is dead all the same.
 */
function isRunning(proc: ProcessIdentity): boolean {
  const fields = statFields(proc.pid);
  if (fields === undefined) return false;
  const state = fields[0];
  return state !== 'Z' && state !== 'X' && fields[19] === proc.startTime;
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The ffmpeg processes below camplex right now. */
function ffmpegsOf(camplexPid: number): ProcessIdentity[] {
  return descendantPids(camplexPid)
    .filter((pid) => comm(pid) === 'ffmpeg')
    .map(identify)
    .filter((proc): proc is ProcessIdentity => proc !== undefined);
}

/** Of `recorded`, the ones still running. */
function survivors(recorded: ProcessIdentity[]): ProcessIdentity[] {
  return recorded.filter(isRunning);
}

/**
 * Of `recorded`, the ones still listed with camplex's boundary tag on their command line
 * (other camplex instances on this machine have the tag too, so only recorded pids count).
 */
function taggedSurvivors(recorded: ProcessIdentity[]): ProcessIdentity[] {
  const tagged = new Set(pidsByCommandLine(BOUNDARY_TAG));
  return recorded.filter((proc) => tagged.has(proc.pid) && isRunning(proc));
}

/** Every count of `viewer` per camera, as a snapshot. */
function counts(viewers: TestViewer[], cameraIds: string[]): number[][] {
  return viewers.map((viewer) => cameraIds.map((id) => viewer.framesOf(id)));
}

/** Resolves with `promise`, or rejects naming `what` once `ms` passed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

describe('shutdown of camplex', () => {
  let camplex: CamplexProcess | undefined;
  let viewers: TestViewer[] = [];
  let ffmpegs: ProcessIdentity[] = [];

  afterEach(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await camplex?.stop('SIGKILL');
    // Only if the test failed: take down what this camplex left behind, by recorded pid.
    for (const proc of ffmpegs.filter(isRunning)) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    camplex = undefined;
    viewers = [];
    ffmpegs = [];
  });

  /**
   * Starts camplex with 16 demo cameras and 3 viewers on all of them, waits until frames of
   * every camera flow to every viewer, and records the ffmpeg processes it runs.
   */
  async function startStreaming(): Promise<{ camplex: CamplexProcess; cameraIds: string[] }> {
    camplex = await startCamplexProcess({ args: ['--demo', String(CAMERAS)] });
    const running = camplex;
    viewers = await Promise.all(
      Array.from({ length: VIEWERS }, () => connectViewer(running.wsUrl)),
    );
    const hello = viewers[0]?.messages[0];
    assert.ok(hello?.type === 'hello');
    const cameraIds = hello.cameras.map((camera) => camera.id);
    assert.equal(cameraIds.length, CAMERAS);
    for (const viewer of viewers) viewer.send({ cmd: 'subscribe', cameras: cameraIds });
    await waitFor(
      () => viewers.every((viewer) => cameraIds.every((id) => viewer.framesOf(id) >= 3)),
      { timeoutMs: 60_000, what: '3 frames of every camera at every viewer' },
    );
    ffmpegs = await waitFor(
      () => {
        const found = ffmpegsOf(running.pid);
        return found.length === CAMERAS && found;
      },
      { timeoutMs: 10_000, what: `${CAMERAS} ffmpeg processes below camplex` },
    );
    const tagged = new Set(pidsByCommandLine(BOUNDARY_TAG));
    for (const { pid } of ffmpegs) assert.ok(tagged.has(pid), `ffmpeg ${pid} carries the tag`);
    await assertEveryViewerKeepsReceiving(cameraIds);
    return { camplex: running, cameraIds };
  }

  /** Every viewer gets new frames of every camera (deadline 20 s): nobody was left behind. */
  async function assertEveryViewerKeepsReceiving(cameraIds: string[]): Promise<void> {
    const before = counts(viewers, cameraIds);
    await waitFor(
      () =>
        counts(viewers, cameraIds).every((row, v) =>
          row.every((count, c) => count > (before[v]?.[c] ?? 0)),
        ),
      { timeoutMs: 20_000, what: 'new frames of every camera at every viewer' },
    );
    for (const viewer of viewers) assert.equal(viewer.badFrames, 0);
  }

  async function assertCleanExitOn(signal: NodeJS.Signals): Promise<void> {
    const { camplex: running } = await startStreaming();
    const exit = await within(running.stop(signal), 15_000, `camplex to exit on ${signal}`);
    // camplex gives up after 5 s with exit code 1, so 0 also says it finished in time.
    assert.deepEqual(exit, { code: 0, signal: null });
    const closes = await within(
      Promise.all(viewers.map((viewer) => viewer.closed)),
      5_000,
      'every viewer to see its socket close',
    );
    for (const close of closes)
      assert.deepEqual(close, { code: 1001, reason: 'server shutting down' });
    // camplex waits for every ffmpeg to exit before it exits itself: none may be left now.
    assert.deepEqual(descendantPids(running.pid), []);
    assert.deepEqual(survivors(ffmpegs), [], 'ffmpeg processes that outlived camplex');
    assert.deepEqual(taggedSurvivors(ffmpegs), [], 'tagged ffmpeg processes of this camplex');
  }

  it('closes every viewer with 1001 and leaves no ffmpeg on SIGTERM', async () => {
    await assertCleanExitOn('SIGTERM');
  });

  it('closes every viewer with 1001 and leaves no ffmpeg on SIGINT', async () => {
    await assertCleanExitOn('SIGINT');
  });

  it('leaves no ffmpeg behind within 10 s when camplex itself is SIGKILLed', async () => {
    const { camplex: running } = await startStreaming();
    const exit = await within(running.stop('SIGKILL'), 10_000, 'camplex to die on SIGKILL');
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
    // The orphans are children of init now, not of camplex: look them up by recorded pid.
    await waitFor(() => survivors(ffmpegs).length === 0, {
      timeoutMs: 10_000,
      what: `all ${CAMERAS} orphaned ffmpeg processes to die`,
    });
    assert.deepEqual(taggedSurvivors(ffmpegs), [], 'tagged ffmpeg processes of this camplex');
    const closes = await within(
      Promise.all(viewers.map((viewer) => viewer.closed)),
      5_000,
      'every viewer to see its socket drop',
    );
    // Nobody sent a close frame: the kernel reset the connections.
    for (const close of closes) assert.equal(close.code, 1006);
  });

  it('exits at once on a second SIGINT during shutdown and still leaves no ffmpeg', async () => {
    const { camplex: running } = await startStreaming();
    // A peer that never answers the close handshake keeps shutdown waiting for a while.
    const deaf = connect(Number(new URL(running.url).port), '127.0.0.1');
    deaf.write(
      'GET /ws/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => deaf.once('data', resolve)); // the 101
    try {
      process.kill(running.pid, 'SIGINT');
      await waitFor(() => running.lines.some((line) => line.includes('shutting down')), {
        timeoutMs: 5_000,
        what: 'camplex to start shutting down',
      });
      process.kill(running.pid, 'SIGINT');
      const exit = await within(running.exited, 5_000, 'camplex to exit on the second SIGINT');
      assert.deepEqual(exit, { code: 1, signal: null });
      assert.ok(running.lines.some((line) => line.includes('second signal: exiting now')));
      // SIGKILLed by camplex's exit handler on the way out; the kernel takes a moment to reap.
      await waitFor(() => survivors(ffmpegs).length === 0, {
        timeoutMs: 2000,
        what: 'every ffmpeg of the exited camplex to be gone',
      });
    } finally {
      deaf.destroy();
    }
  });
});
