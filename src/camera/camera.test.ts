import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FakeClock, randomSequence } from '../../support/fake-clock.js';
import { type FakeProcess, fakeLauncher } from '../../support/fake-ffmpeg.js';
import { Fmp4Stream } from '../../support/fmp4-stream.js';
import { createLog } from '../common/log.js';
import type { CameraConfig } from '../config/schema.js';
import { children } from '../frames/mp4-demuxer.js';
import type { CameraInfo } from '../protocol/wire.js';
import { Camera, type CameraOptions, type Frame, OFFLINE_AFTER_ATTEMPTS } from './camera.js';
import type { SourceExit } from './source.js';
import { type CameraState, TRANSITIONS } from './states.js';

const BOUNDARY = 'camplex';
const START_TIMEOUT_MS = 20_000;
const STALL_MS = 5000;
const MIN_UPTIME_MS = 10_000;
const CLOSED: SourceExit = { code: 0, signal: null, lastError: '' };

function fakeJpeg(seed: number, size = 32): Buffer {
  const body = Buffer.alloc(size, seed & 0xff);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), body, Buffer.from([0xff, 0xd9])]);
}

/** One part as ffmpeg's mpjpeg muxer writes it. */
function part(jpeg: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-length: ${jpeg.length}\r\n\r\n`,
    ),
    jpeg,
    Buffer.from('\r\n'),
  ]);
}

function setup(options: Partial<CameraOptions> = {}, config: Partial<CameraConfig> = {}) {
  const clock = new FakeClock(1_000_000);
  const processes: FakeProcess[] = [];
  const states: CameraInfo[] = [];
  const frames: Frame[] = [];
  const camera = new Camera(
    { id: 'front', name: 'Front door', url: 'rtsp://admin:hunter2@10.0.0.5/x', ...config },
    {
      launch: fakeLauncher(processes, 'front'),
      listener: {
        onFrame: (_camera, frame) => frames.push(frame),
        onState: (camera) => states.push(camera.info()),
      },
      clock,
      log: createLog({ level: 'silent' }),
      boundary: BOUNDARY,
      maxFrameBytes: 1 << 20,
      random: () => 0.5,
      ...options,
    },
  );
  /** The newest ffmpeg the camera launched. */
  const current = (): FakeProcess => {
    const process = processes.at(-1);
    assert.ok(process, 'no ffmpeg was launched');
    return process;
  };
  const sendFrame = (jpeg: Buffer, process = current()) => process.handlers.onStdout(part(jpeg));
  return { camera, clock, processes, states, frames, current, sendFrame };
}

/** Delay for `attempt` with the jitter factor random() = 0.5 gives: 0.75 of the ceiling. */
function expectedDelay(attempt: number): number {
  return Math.round(Math.min(30_000, 500 * 2 ** (attempt - 1)) * 0.75);
}

describe('Camera', () => {
  describe('handover', () => {
    it('starts again at once, without a failure, when its source moved (a cluster handover)', () => {
      const { camera, processes, states, sendFrame, current } = setup();
      camera.start();
      sendFrame(fakeJpeg(1));
      assert.equal(camera.info().state, 'live');
      current().handlers.onExit({
        code: null,
        signal: null,
        lastError: 'taken over',
        handover: true,
      });
      assert.equal(processes.length, 2, 'a new source, with no backoff wait');
      assert.equal(camera.counters.failures, 0);
      assert.ok(!states.some((info) => info.state === 'retrying'), 'never shown as failing');
      assert.equal(camera.latest, undefined, 'nothing from before the move is handed out');
      sendFrame(fakeJpeg(2));
      assert.equal(camera.info().state, 'live');
    });
  });

  describe('a launch that throws', () => {
    it('is a failed start: retried with backoff, the reason free of the URL', () => {
      let calls = 0;
      const processes: FakeProcess[] = [];
      const launcher = fakeLauncher(processes, 'front');
      const { camera, clock, states } = setup({
        launch: (handlers) => {
          if (calls++ === 0) {
            const error: NodeJS.ErrnoException = new Error(
              'spawn E2BIG rtsp://admin:hunter2@10.0.0.5/x',
            );
            error.code = 'E2BIG';
            throw error;
          }
          return launcher(handlers);
        },
      });
      assert.doesNotThrow(() => camera.start());
      assert.equal(camera.info().state, 'retrying');
      assert.equal(camera.info().reason, 'ffmpeg could not be started (E2BIG)');
      assert.ok(states.every((info) => !JSON.stringify(info).includes('hunter2')));
      clock.advance(expectedDelay(1));
      assert.equal(processes.length, 1, 'started again after the backoff');
    });
  });

  describe('start', () => {
    it('is idle until started and reports starting, then live on the first frame', () => {
      const { camera, processes, states, sendFrame } = setup();
      assert.deepEqual(camera.info(), { id: 'front', name: 'Front door', state: 'idle' });
      assert.equal(camera.running, false);
      assert.equal(processes.length, 0);

      camera.start();
      assert.equal(processes.length, 1);
      assert.equal(camera.running, true);
      assert.deepEqual(
        states.map((s) => s.state),
        ['starting'],
      );

      sendFrame(fakeJpeg(1));
      assert.deepEqual(
        states.map((s) => s.state),
        ['starting', 'live'],
      );
      assert.deepEqual(camera.info(), {
        id: 'front',
        name: 'Front door',
        codec: 'jpeg',
        state: 'live',
      });

      sendFrame(fakeJpeg(2));
      assert.equal(states.length, 2, 'a second frame reports no new state');
    });

    it('does not launch a second ffmpeg while one runs', () => {
      const { camera, processes, sendFrame } = setup();
      camera.start();
      camera.start();
      sendFrame(fakeJpeg(1));
      camera.start();
      assert.equal(processes.length, 1);
    });

    it('does not launch a second ffmpeg while a restart is pending', () => {
      const { camera, processes, current, clock } = setup();
      camera.start();
      current().handlers.onExit(CLOSED);
      camera.start();
      assert.equal(processes.length, 1);
      clock.advance(expectedDelay(1));
      assert.equal(processes.length, 2);
    });
  });

  describe('frames', () => {
    it('hands each frame on with the JPEG unchanged, numbered and timed', () => {
      const { camera, clock, frames, sendFrame, current } = setup();
      camera.start();
      const jpegs = [fakeJpeg(1), fakeJpeg(2, 100), fakeJpeg(3, 7)];
      sendFrame(jpegs[0]!);
      clock.advance(100);
      // The second frame arrives split across two chunks, the third glued to its end.
      const stream = Buffer.concat([part(jpegs[1]!), part(jpegs[2]!)]);
      current().handlers.onStdout(stream.subarray(0, 50));
      current().handlers.onStdout(stream.subarray(50));

      assert.equal(frames.length, 3);
      frames.forEach((frame, i) => {
        assert.deepEqual(Buffer.from(frame.data), jpegs[i], `frame ${i}`);
        assert.equal(frame.seq, i + 1);
      });
      assert.equal(frames[0]!.at, 1_000_000);
      assert.equal(frames[2]!.at, 1_000_100);
    });

    it('caches the latest frame', () => {
      const { camera, frames, sendFrame } = setup();
      camera.start();
      assert.equal(camera.latest, undefined);
      sendFrame(fakeJpeg(1));
      assert.equal(camera.latest, frames[0]);
      sendFrame(fakeJpeg(2));
      assert.equal(camera.latest, frames[1]);
      assert.deepEqual(Buffer.from(camera.latest!.data), fakeJpeg(2));
    });
  });

  describe('restarts', () => {
    it('retries after ffmpeg exits with code 0 and nothing on stderr', () => {
      const { camera, states, current, sendFrame } = setup({ random: Math.random });
      camera.start();
      sendFrame(fakeJpeg(1));
      current().handlers.onExit(CLOSED);

      const info = camera.info();
      assert.equal(info.state, 'retrying');
      assert.equal(info.reason, 'camera closed the stream');
      assert.equal(info.attempt, 1);
      assert.ok(info.retryInMs !== undefined && info.retryInMs >= 250 && info.retryInMs <= 500);
      assert.equal(camera.running, true);
      assert.deepEqual(states.at(-1), info);
      assert.deepEqual(
        states.map((s) => s.state),
        ['starting', 'live', 'retrying'],
      );
    });

    it('launches a new ffmpeg once the retry delay has passed', () => {
      const { camera, clock, processes, states, current, sendFrame } = setup();
      camera.start();
      current().handlers.onExit(CLOSED);
      const delay = camera.info().retryInMs!;
      assert.equal(delay, expectedDelay(1));

      clock.advance(delay - 1);
      assert.equal(processes.length, 1);
      assert.equal(camera.info().state, 'retrying');
      clock.advance(1);
      assert.equal(processes.length, 2);
      assert.deepEqual(camera.info(), {
        id: 'front',
        name: 'Front door',
        codec: 'jpeg',
        state: 'starting',
      });

      sendFrame(fakeJpeg(1));
      assert.deepEqual(
        states.map((s) => s.state),
        ['starting', 'retrying', 'starting', 'live'],
      );
    });

    it('describes a kill, an exit code and an ffmpeg error line', () => {
      const { camera, clock, current } = setup();
      camera.start();
      current().handlers.onExit({ code: null, signal: 'SIGKILL', lastError: '' });
      assert.equal(camera.info().reason, 'ffmpeg was killed (SIGKILL)');
      clock.advance(camera.info().retryInMs!);
      current().handlers.onExit({ code: 1, signal: null, lastError: '' });
      assert.equal(camera.info().reason, 'ffmpeg exited with code 1');
      clock.advance(camera.info().retryInMs!);
      current().handlers.onExit({
        code: 1,
        signal: null,
        lastError: '[rtsp @ 0x5581a2] method DESCRIBE failed: 401 Unauthorized',
      });
      assert.equal(camera.info().reason, 'method DESCRIBE failed: 401 Unauthorized');
    });

    it('doubles the delay after each failure, from 0.5 s up to a 30 s cap', () => {
      const { camera, clock, processes, current } = setup();
      camera.start();
      for (let attempt = 1; attempt <= 10; attempt++) {
        current().handlers.onExit(CLOSED);
        const info = camera.info();
        assert.equal(info.attempt, attempt);
        assert.equal(info.retryInMs, expectedDelay(attempt), `attempt ${attempt}`);
        clock.advance(info.retryInMs!);
        assert.equal(processes.length, attempt + 1);
      }
      assert.equal(expectedDelay(10), 22_500);
    });

    it('says how long a camera stayed silent when its ffmpeg gives up without a frame', () => {
      const { camera, clock, current } = setup();
      camera.start();
      clock.advance(5000);
      current().handlers.onExit({
        code: 1,
        signal: null,
        lastError: 'Invalid data found when processing input',
      });
      assert.equal(
        camera.info().reason,
        'Invalid data found when processing input (no frame in 5 s)',
      );
      clock.advance(camera.info().retryInMs ?? 0);
      current().handlers.onExit({ code: 1, signal: null, lastError: 'Connection refused' });
      assert.equal(
        camera.info().reason,
        'Connection refused',
        'a quick failure needs no such note',
      );
    });

    it('shows a camera failing 5 times in a row as offline, keeps retrying, and recovers', () => {
      const { camera, clock, processes, current, sendFrame, states } = setup();
      camera.start();
      for (let attempt = 1; attempt <= 7; attempt++) {
        current().handlers.onExit({ code: 1, signal: null, lastError: 'Connection refused' });
        const info = camera.info();
        assert.equal(info.state, attempt >= OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'retrying');
        assert.equal(info.attempt, attempt);
        assert.equal(info.reason, 'Connection refused');
        assert.equal(info.retryInMs, expectedDelay(attempt));
        clock.advance(info.retryInMs ?? 0);
      }
      assert.equal(processes.length, 8, 'an offline camera is still retried');
      assert.equal(camera.running, true);
      sendFrame(fakeJpeg(1));
      assert.deepEqual(camera.info(), {
        id: 'front',
        name: 'Front door',
        codec: 'jpeg',
        state: 'live',
      });
      assert.equal(states.filter((s) => s.state === 'offline').length, 3);
    });

    it('draws fresh jitter for every attempt and keeps each delay within bounds', () => {
      const jitters = [0, 0.99, 0.3, 0.7, 0.5, 0.1, 0.9, 0.2];
      const { camera, clock, current } = setup({ random: randomSequence(...jitters) });
      camera.start();
      jitters.forEach((jitter, i) => {
        const attempt = i + 1;
        current().handlers.onExit(CLOSED);
        const ceiling = Math.min(30_000, 500 * 2 ** (attempt - 1));
        const delay = camera.info().retryInMs!;
        assert.equal(delay, Math.round(ceiling * (0.5 + jitter * 0.5)), `attempt ${attempt}`);
        assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay}`);
        clock.advance(delay);
      });
    });

    /** Three failed attempts, then a camera that delivers a frame a second for `liveMs`. */
    function failThriceThenLive(liveMs: number) {
      const fixture = setup({ minUptimeMs: MIN_UPTIME_MS });
      const { camera, clock, current, sendFrame } = fixture;
      camera.start();
      for (let attempt = 1; attempt <= 3; attempt++) {
        current().handlers.onExit(CLOSED);
        clock.advance(camera.info().retryInMs!);
      }
      sendFrame(fakeJpeg(1));
      for (let t = 1000; t <= liveMs; t += 1000) {
        clock.advance(1000);
        sendFrame(fakeJpeg(t));
      }
      return fixture;
    }

    it('starts the backoff again after the camera was live for minUptimeMs', () => {
      const { camera, current } = failThriceThenLive(MIN_UPTIME_MS);
      current().handlers.onExit(CLOSED);
      assert.equal(camera.info().attempt, 1);
      assert.equal(camera.info().retryInMs, expectedDelay(1));
    });

    it('keeps backing off when the camera failed before minUptimeMs', () => {
      const { camera, clock, current } = failThriceThenLive(MIN_UPTIME_MS - 1000);
      clock.advance(999);
      assert.equal(camera.info().state, 'live');
      current().handlers.onExit(CLOSED);
      assert.equal(camera.info().attempt, 4);
      assert.equal(camera.info().retryInMs, expectedDelay(4));
    });

    it('keeps credentials and hosts from an ffmpeg error line out of the reason', () => {
      const { camera, current, states } = setup();
      camera.start();
      current().handlers.onExit({
        code: 1,
        signal: null,
        lastError: 'rtsp://admin:hunter2@10.0.0.5:554/x: Connection refused',
      });
      assert.equal(camera.info().reason, 'Connection refused');
      for (const info of states) {
        const text = JSON.stringify(info);
        for (const secret of ['hunter2', 'admin', '10.0.0.5', 'rtsp:']) {
          assert.ok(!text.includes(secret), `${text} shows ${secret}`);
        }
      }
    });

    it('reports a URL inside an error line without its host', () => {
      const { camera, current } = setup();
      camera.start();
      current().handlers.onExit({
        code: 1,
        signal: null,
        lastError:
          '[tcp @ 0x55d1c0] Connection to tcp://1.2.3.4:554?timeout=0 failed: Connection refused',
      });
      assert.equal(camera.info().reason, 'Connection to <url> failed: Connection refused');
    });
  });

  describe('watchdog', () => {
    it('retries when no first frame arrives within startTimeoutMs', () => {
      const { camera, clock, processes, current } = setup();
      camera.start();
      const first = current();
      clock.advance(START_TIMEOUT_MS - 1);
      assert.equal(camera.info().state, 'starting');
      clock.advance(1);
      const info = camera.info();
      assert.equal(info.state, 'retrying');
      assert.equal(info.reason, 'no first frame within 20 s');
      assert.equal(info.attempt, 1);
      assert.equal(first.stopCalls, 1);

      clock.advance(info.retryInMs!);
      assert.equal(processes.length, 2);
      assert.equal(camera.info().state, 'starting');
    });

    it('honours a custom startTimeoutMs', () => {
      const { camera, clock } = setup({ startTimeoutMs: 3000 });
      camera.start();
      clock.advance(2999);
      assert.equal(camera.info().state, 'starting');
      clock.advance(1);
      assert.equal(camera.info().reason, 'no first frame within 3 s');
    });

    it('stops a live camera that gets no frame for stallMs and retries', () => {
      const { camera, clock, processes, current, sendFrame } = setup();
      camera.start();
      const first = current();
      sendFrame(fakeJpeg(1));
      clock.advance(1000);
      sendFrame(fakeJpeg(2));
      clock.advance(STALL_MS - 1);
      assert.equal(camera.info().state, 'live');
      assert.equal(first.stopCalls, 0);

      clock.advance(1);
      const info = camera.info();
      assert.equal(info.state, 'retrying');
      assert.equal(info.reason, 'no frame for 5 s (stalled)');
      assert.match(info.reason!, /stalled/);
      assert.equal(info.attempt, 1);
      assert.equal(first.stopCalls, 1);

      clock.advance(info.retryInMs!);
      assert.equal(processes.length, 2);
    });

    it('does not count the exit of the ffmpeg it killed as another failure', () => {
      const { camera, clock, current, states } = setup();
      camera.start();
      const first = current();
      clock.advance(START_TIMEOUT_MS);
      const reported = states.length;
      first.handlers.onExit({ code: 255, signal: null, lastError: '' });
      assert.equal(camera.info().attempt, 1);
      assert.equal(camera.info().reason, 'no first frame within 20 s');
      assert.equal(states.length, reported);
    });

    it('waits ten frame intervals before calling a slow camera stalled', () => {
      const { camera, clock, sendFrame } = setup({}, { fps: 0.5 });
      camera.start();
      sendFrame(fakeJpeg(1));
      clock.advance(19_999);
      assert.equal(camera.info().state, 'live');
      clock.advance(1);
      assert.equal(camera.info().reason, 'no frame for 20 s (stalled)');
    });

    it('honours a custom stallMs and keeps a camera with steady frames live', () => {
      const { camera, clock, sendFrame } = setup({ stallMs: 300 });
      camera.start();
      for (let i = 0; i < 50; i++) {
        sendFrame(fakeJpeg(i));
        clock.advance(299);
      }
      assert.equal(camera.info().state, 'live');
      clock.advance(1);
      assert.equal(camera.info().reason, 'no frame for 0.3 s (stalled)');
    });

    it('keeps no more than one watchdog timer however many frames arrive', () => {
      const { camera, clock, sendFrame } = setup();
      camera.start();
      for (let i = 0; i < 100; i++) sendFrame(fakeJpeg(i));
      assert.equal(clock.pending(), 1);
    });
  });

  describe('late events from an old ffmpeg', () => {
    it('ignores frames and the exit of the ffmpeg replaced by a restart', () => {
      const { camera, clock, processes, current, states, frames, sendFrame } = setup();
      camera.start();
      const old = current();
      old.handlers.onExit(CLOSED);
      clock.advance(camera.info().retryInMs!);
      assert.equal(processes.length, 2);
      const before = camera.info();
      const reported = states.length;
      const timers = clock.pending();

      sendFrame(fakeJpeg(1), old);
      old.handlers.onExit({ code: 1, signal: null, lastError: 'late error' });
      assert.deepEqual(camera.info(), before);
      assert.equal(states.length, reported);
      assert.equal(frames.length, 0);
      assert.equal(camera.latest, undefined);
      assert.equal(clock.pending(), timers);

      sendFrame(fakeJpeg(2));
      assert.equal(camera.info().state, 'live');
      assert.equal(frames.length, 1);
    });

    it('ignores frames and the exit of the ffmpeg killed by the stall watchdog', () => {
      const { camera, clock, current, frames, sendFrame } = setup();
      camera.start();
      const old = current();
      sendFrame(fakeJpeg(1), old);
      clock.advance(STALL_MS);
      assert.equal(camera.info().state, 'retrying');
      sendFrame(fakeJpeg(2), old);
      old.handlers.onExit({ code: 255, signal: null, lastError: '' });
      assert.equal(frames.length, 1);
      assert.equal(camera.info().state, 'retrying');
      assert.equal(camera.info().attempt, 1);
    });

    it('ignores frames and the exit of an ffmpeg after stop', async () => {
      const { camera, clock, processes, current, states, frames, sendFrame } = setup();
      camera.start();
      const old = current();
      await camera.stop();
      const reported = states.length;

      sendFrame(fakeJpeg(1), old);
      old.handlers.onExit(CLOSED);
      clock.advance(3_600_000);
      assert.equal(camera.info().state, 'idle');
      assert.equal(states.length, reported);
      assert.equal(frames.length, 0);
      assert.equal(processes.length, 1);
    });
  });

  describe('stop', () => {
    it('stops ffmpeg, forgets the latest frame and reports idle', async () => {
      const { camera, clock, current, states, sendFrame } = setup();
      camera.start();
      sendFrame(fakeJpeg(1));
      const process = current();
      await camera.stop();
      assert.equal(process.stopCalls, 1);
      assert.equal(camera.latest, undefined);
      assert.equal(camera.running, false);
      assert.deepEqual(camera.info(), {
        id: 'front',
        name: 'Front door',
        codec: 'jpeg',
        state: 'idle',
      });
      assert.deepEqual(
        states.map((s) => s.state),
        ['starting', 'live', 'idle'],
      );
      assert.equal(clock.pending(), 0, 'the watchdog is cancelled');
    });

    it('cancels a pending restart', async () => {
      const { camera, clock, processes, current } = setup();
      camera.start();
      current().handlers.onExit(CLOSED);
      assert.equal(camera.info().state, 'retrying');
      await camera.stop();
      assert.deepEqual(camera.info(), {
        id: 'front',
        name: 'Front door',
        codec: 'jpeg',
        state: 'idle',
      });
      assert.equal(clock.pending(), 0);
      clock.advance(3_600_000);
      assert.equal(processes.length, 1);
    });

    it('reports stopped when shut down, and starts no more', async () => {
      const { camera, current, states, processes } = setup();
      camera.start();
      const process = current();
      await camera.shutDown();
      assert.equal(process.stopCalls, 1);
      assert.equal(camera.info().state, 'stopped');
      assert.equal(states.at(-1)?.state, 'stopped');
      camera.start();
      assert.equal(processes.length, 1);
      assert.equal(camera.info().state, 'stopped');
    });

    it('starts afresh with a new ffmpeg and the first backoff step after a stop', async () => {
      const { camera, clock, processes, current } = setup();
      camera.start();
      for (let attempt = 1; attempt <= 3; attempt++) {
        current().handlers.onExit(CLOSED);
        clock.advance(camera.info().retryInMs!);
      }
      await camera.stop();
      camera.start();
      assert.equal(processes.length, 5);
      assert.equal(camera.info().state, 'starting');
      current().handlers.onExit(CLOSED);
      assert.equal(camera.info().attempt, 1);
    });

    it('starts the next ffmpeg only once the stopped one has exited', async () => {
      const { camera, processes, current } = setup();
      camera.start();
      let exited: (() => void) | undefined;
      current().stop = () =>
        new Promise<void>((resolve) => {
          exited = resolve;
        });
      const stopping = camera.stop();
      camera.start(); // a viewer comes back while ffmpeg is still going
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(processes.length, 1, 'never two at once');
      assert.equal(camera.info().state, 'starting');
      exited?.();
      await stopping;
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(processes.length, 2, 'the next one, once the first is gone');
    });

    it('reports nothing when stopping an idle camera', async () => {
      const { camera, states } = setup();
      await camera.stop();
      assert.equal(states.length, 0);
      assert.equal(camera.info().state, 'idle');
    });
  });
});

describe('camera states', () => {
  it('lets every state stop, and none leave stopped', () => {
    for (const [state, next] of Object.entries(TRANSITIONS) as Array<
      [CameraState, CameraState[]]
    >) {
      if (state === 'stopped') assert.deepEqual(next, []);
      else assert.ok(next.includes('stopped'), state);
    }
  });

  it("makes only transitions the table allows, over a camera's whole life", async () => {
    const seen: Array<[string, string]> = [];
    const { camera, clock, current, sendFrame, states } = setup();
    camera.start();
    sendFrame(fakeJpeg(1));
    current().handlers.onExit(CLOSED);
    clock.advance(1000); // past the first backoff step
    sendFrame(fakeJpeg(2));
    await camera.stop();
    camera.start();
    await camera.shutDown();
    let previous: CameraState = 'idle';
    for (const { state } of states) {
      if (state !== previous) seen.push([previous, state]);
      assert.ok(
        TRANSITIONS[previous].includes(state) || state === previous,
        `${previous} -> ${state}`,
      );
      previous = state;
    }
    assert.deepEqual(
      seen.map(([, to]) => to),
      ['starting', 'live', 'retrying', 'starting', 'live', 'idle', 'starting', 'stopped'],
    );
  });
});

describe('a video camera with sound', () => {
  /** About 1 s of H.264 main with B-frames at 10 fps and AAC, as ffmpeg writes it. */
  const RECORDED = new Uint8Array(
    readFileSync(new URL('../../test/fixtures/h264-bframes-aac.mp4', import.meta.url)),
  );

  function videoCamera(options: Partial<CameraOptions> = {}) {
    const clock = new FakeClock(1_000_000);
    const processes: FakeProcess[] = [];
    const frames: Frame[] = [];
    const camera = new Camera(
      { id: 'door', name: 'Door', url: 'rtsp://door/x' },
      {
        launch: fakeLauncher(processes, 'door', { output: 'h264', copyJpeg: false, audio: 'aac' }),
        listener: { onFrame: (_camera, frame) => frames.push(frame), onState: () => {} },
        clock,
        log: createLog({ level: 'silent' }),
        boundary: BOUNDARY,
        maxFrameBytes: 1 << 20,
        random: () => 0.5,
        stallMs: 60_000,
        ...options,
      },
    );
    return { camera, clock, processes, frames };
  }

  it('hands on pictures and sound on one clock, keeping the camera’s reordering', () => {
    const { camera, clock, processes, frames } = videoCamera();
    camera.start();
    const ffmpeg = processes[0];
    assert.ok(ffmpeg);
    // Each fragment at its own time, as a camera sends them (with a little jitter).
    const start = clock.now();
    // (ffmpeg writes the pictures to stdout and the sound to a second output: each takes its own.)
    for (const [due, bytes] of paced(RECORDED)) {
      clock.advance(Math.max(0, start + due + ((bytes.length * 7) % 13) - clock.now()));
      ffmpeg.handlers.onStdout(Buffer.from(bytes));
      ffmpeg.handlers.onSound?.(Buffer.from(bytes));
    }
    const pictures = frames.filter((frame) => !frame.audio);
    const sound = frames.filter((frame) => frame.audio);
    assert.equal(pictures.length, 12);
    assert.ok(sound.length > 40, 'sound from the first picture on');
    assert.ok(sound.every((frame) => frame.codec === 'aac' && frame.key));
    assert.ok(
      pictures.some((frame) => frame.pts > frame.dts),
      'B-frames: shown after decoding',
    );
    // The camera's spacing, not the arrival's: 100 ms between decode times.
    const dts = pictures.slice(1).map((frame) => frame.dts);
    assert.ok(dts.slice(1).every((time, i) => Math.abs(time - (dts[i] ?? 0) - 100_000) < 1));
    assert.deepEqual(camera.info().audio, {
      codec: 'aac',
      rate: 44100,
      channels: 1,
      codecString: 'mp4a.40.2',
      config: '120856e500',
    });
    assert.equal(camera.info().bframes, true);
    assert.equal(camera.info().codecString, 'avc1.4D400C');
    assert.ok(
      camera.sinceKey.every((frame) => !frame.audio),
      'sound is never cached',
    );
    assert.equal(camera.counters.audioFrames, sound.length);
  });

  it('keeps a whole 10 s GOP at 30 fps for late joiners (no cap on the number of units)', () => {
    const { camera, processes } = videoCamera();
    camera.start();
    const ffmpeg = processes[0];
    assert.ok(ffmpeg);
    const stream = new Fmp4Stream();
    const unit = (key: boolean) => h264Unit(key, 2000);
    ffmpeg.handlers.onStdout(Buffer.from(stream.unit(unit(true), true, 3000)));
    for (let i = 1; i < 300; i++)
      ffmpeg.handlers.onStdout(Buffer.from(stream.unit(unit(false), false, 3000)));
    assert.equal(camera.sinceKey.length, 300);
    assert.ok(camera.cachedByteCount >= 300 * 1900, 'every byte counted');
  });

  it('empties its cache past its bytes or its time, and starts again at the next key unit', () => {
    const { camera, processes, clock } = videoCamera({ maxCacheBytes: 50_000, maxCacheMs: 10_000 });
    camera.start();
    const ffmpeg = processes[0];
    assert.ok(ffmpeg);
    const stream = new Fmp4Stream();
    // Each unit comes when the one before it ends (its length in 90 kHz ticks).
    let last = 6000;
    const play = (key: boolean, bytes: number, ticks = 6000) => {
      clock.advance(last / 90);
      last = ticks;
      ffmpeg.handlers.onStdout(Buffer.from(stream.unit(h264Unit(key, bytes), key, ticks)));
    };
    play(true, 1000);
    for (let i = 0; i < 40; i++) play(false, 1000);
    assert.equal(camera.sinceKey.length, 41);
    play(false, 20_000); // past 50 KB
    assert.equal(camera.sinceKey.length, 0, 'never trimmed off the key: emptied');
    play(false, 1000);
    assert.equal(camera.sinceKey.length, 0, 'until the next key unit');
    play(true, 1000);
    // A GOP longer than 10 s (a frame every 2 s here) is not kept.
    for (let i = 0; i < 5; i++) play(false, 100, 180_000);
    assert.equal(camera.sinceKey.length, 6);
    play(false, 100, 180_000);
    assert.equal(camera.sinceKey.length, 0);
  });
});

/**
 * A fragmented MP4 recording cut into what ffmpeg writes at once (header; moof and mdat), each
 * with the time in ms its sample is due (its decode time; the first fragment of each track at 0).
 */
function paced(recording: Uint8Array): Array<[number, Uint8Array]> {
  const timescales = new Map<number, number>([
    [1, 90_000],
    [2, 44_100],
  ]);
  const out: Array<[number, Uint8Array]> = [];
  const view = new DataView(recording.buffer, recording.byteOffset, recording.byteLength);
  let pending = 0;
  let due = 0;
  for (let at = 0; at + 8 <= recording.length; ) {
    const size = view.getUint32(at);
    const type = String.fromCharCode(...recording.subarray(at + 4, at + 8));
    if (type === 'moof') {
      const traf = children(recording.subarray(at + 8, at + size)).find(
        (box) => box.type === 'traf',
      );
      const inner = children(traf?.body ?? new Uint8Array(0));
      const tfhd = inner.find((box) => box.type === 'tfhd')?.body;
      const tfdt = inner.find((box) => box.type === 'tfdt')?.body;
      if (tfhd && tfdt) {
        const track = new DataView(tfhd.buffer, tfhd.byteOffset).getUint32(4);
        const time =
          tfdt[0] === 1
            ? Number(new DataView(tfdt.buffer, tfdt.byteOffset).getBigUint64(4))
            : new DataView(tfdt.buffer, tfdt.byteOffset).getUint32(4);
        due = (time / (timescales.get(track) ?? 1000)) * 1000;
      }
    }
    if (type !== 'mdat' && type !== 'moof') {
      at += size;
      continue;
    }
    if (type === 'moof') pending = at;
    at += size;
    if (type === 'mdat') out.push([due, recording.subarray(out.length === 0 ? 0 : pending, at)]);
  }
  return out;
}

/** A stand-in H.264 access unit of about `bytes` bytes: AUD, (SPS, PPS,) one slice. */
function h264Unit(key: boolean, bytes: number): Uint8Array {
  const slice = Buffer.alloc(Math.max(4, bytes - 30), 0x5a);
  slice[0] = key ? 0x65 : 0x41;
  const parts = [Buffer.from([0, 0, 0, 1, 0x09, 0xf0])];
  if (key) {
    parts.push(
      Buffer.from([0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84]),
    );
    parts.push(Buffer.from([0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]));
  }
  parts.push(Buffer.from([0, 0, 0, 1]), slice);
  return new Uint8Array(Buffer.concat(parts));
}
