import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { type FakeProcess, fakeLauncher } from '../../support/fake-ffmpeg.js';
import { Camera, type Frame } from '../camera/camera.js';
import { createLog } from '../common/log.js';
import type { CameraInfo } from '../protocol/wire.js';
import { Hub, type Viewer } from './hub.js';

const BOUNDARY = 'camplex';
const GRACE_MS = 10_000;
/** Far beyond any test: the camera's own watchdog is tested in camera.test.ts. */
const NEVER_MS = 24 * 3_600_000;
const IDS = ['front', 'garage', 'yard'];

/** A viewer that records what the hub hands it. */
class RecordingViewer implements Viewer {
  readonly frames: Array<{ camera: string; frame: Frame }> = [];
  readonly states: CameraInfo[] = [];

  sendFrame(frame: Frame, camera: Camera): void {
    this.frames.push({ camera: camera.id, frame });
  }

  sendState(info: CameraInfo): void {
    this.states.push(info);
  }

  framesOf(camera: string): Frame[] {
    return this.frames.filter((f) => f.camera === camera).map((f) => f.frame);
  }
}

function part(jpeg: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-length: ${jpeg.length}\r\n\r\n`,
    ),
    jpeg,
    Buffer.from('\r\n'),
  ]);
}

function fakeJpeg(seed: number): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    Buffer.alloc(16, seed),
    Buffer.from([0xff, 0xd9]),
  ]);
}

function setup() {
  const clock = new FakeClock();
  const log = createLog({ level: 'silent' });
  const processes: FakeProcess[] = [];
  const hub = new Hub({
    createCameras: (listener) =>
      IDS.map(
        (id) =>
          new Camera(
            { id, name: id.toUpperCase(), url: `demo:${id}` },
            {
              launch: fakeLauncher(processes, id),
              listener,
              clock,
              log,
              boundary: BOUNDARY,
              maxFrameBytes: 1 << 20,
              random: () => 0.5,
              startTimeoutMs: NEVER_MS,
              stallMs: NEVER_MS,
            },
          ),
      ),
    graceMs: GRACE_MS,
    clock,
    log,
  });
  const launches = (camera: string) => processes.filter((p) => p.camera === camera);
  /** The running ffmpeg of `camera`. */
  const ffmpeg = (camera: string): FakeProcess => {
    const process = launches(camera).at(-1);
    assert.ok(process, `no ffmpeg launched for ${camera}`);
    return process;
  };
  const sendFrame = (camera: string, seed = 1) =>
    ffmpeg(camera).handlers.onStdout(part(fakeJpeg(seed)));
  const viewer = () => {
    const v = new RecordingViewer();
    hub.addViewer(v);
    return v;
  };
  const state = (camera: string) => hub.camera(camera)?.info().state;
  return { hub, clock, processes, launches, ffmpeg, sendFrame, viewer, state };
}

describe('Hub', () => {
  it('lists every camera in config order without its URL', () => {
    const { hub } = setup();
    assert.deepEqual(hub.infos(), [
      { id: 'front', name: 'FRONT', state: 'idle' },
      { id: 'garage', name: 'GARAGE', state: 'idle' },
      { id: 'yard', name: 'YARD', state: 'idle' },
    ]);
  });

  it('launches nothing until someone subscribes', () => {
    const { processes, viewer } = setup();
    viewer();
    assert.equal(processes.length, 0);
  });

  describe('reference counting', () => {
    it('launches exactly one ffmpeg for two viewers of one camera', () => {
      const { hub, launches, processes, viewer, state } = setup();
      const [a, b] = [viewer(), viewer()];
      assert.deepEqual(hub.subscribe(a, ['front']), { accepted: ['front'], unknown: [] });
      assert.deepEqual(hub.subscribe(b, ['front']), { accepted: ['front'], unknown: [] });
      assert.equal(launches('front').length, 1);
      assert.equal(processes.length, 1);
      assert.equal(hub.subscriberCount('front'), 2);
      assert.equal(state('front'), 'starting');
    });

    it('counts a viewer subscribing twice once', () => {
      const { hub, launches, viewer, clock, ffmpeg } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      hub.subscribe(a, ['front', 'front']);
      assert.equal(hub.subscriberCount('front'), 1);
      hub.unsubscribe(a, ['front']);
      clock.advance(GRACE_MS);
      assert.equal(ffmpeg('front').stopCalls, 1);
      assert.equal(launches('front').length, 1);
    });

    it('keeps the camera running when the first of two viewers leaves', () => {
      const { hub, clock, ffmpeg, viewer, state } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      hub.subscribe(b, ['front']);
      hub.unsubscribe(a, ['front']);
      clock.advance(10 * GRACE_MS);
      assert.equal(ffmpeg('front').stopCalls, 0);
      assert.equal(state('front'), 'starting');
      assert.equal(hub.subscriberCount('front'), 1);
    });

    it('stops ffmpeg only after the grace period once the last viewer leaves', () => {
      const { hub, clock, ffmpeg, viewer, state, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      hub.subscribe(b, ['front']);
      sendFrame('front');
      hub.unsubscribe(a, ['front']);
      hub.unsubscribe(b, ['front']);

      clock.advance(GRACE_MS - 1);
      assert.equal(ffmpeg('front').stopCalls, 0);
      assert.equal(state('front'), 'live');
      clock.advance(1);
      assert.equal(ffmpeg('front').stopCalls, 1);
      assert.equal(state('front'), 'idle');
      assert.equal(hub.camera('front')?.latest, undefined);
      assert.equal(clock.pending(), 0);
    });

    it('cancels the stop when a viewer comes back within the grace period', () => {
      const { hub, clock, launches, ffmpeg, viewer, state } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      hub.unsubscribe(a, ['front']);
      clock.advance(GRACE_MS - 1);
      const b = viewer();
      hub.subscribe(b, ['front']);
      clock.advance(10 * GRACE_MS);
      assert.equal(launches('front').length, 1);
      assert.equal(ffmpeg('front').stopCalls, 0);
      assert.equal(state('front'), 'starting');
    });

    it('gives a full grace period again after a viewer came back and left', () => {
      const { hub, clock, ffmpeg, viewer } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      hub.unsubscribe(a, ['front']);
      clock.advance(GRACE_MS - 1);
      hub.subscribe(a, ['front']);
      hub.unsubscribe(a, ['front']);
      clock.advance(GRACE_MS - 1);
      assert.equal(ffmpeg('front').stopCalls, 0);
      clock.advance(1);
      assert.equal(ffmpeg('front').stopCalls, 1);
    });

    it('launches a new ffmpeg when a viewer comes back after the camera stopped', async () => {
      const { hub, clock, launches, viewer, state } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      hub.unsubscribe(a, ['front']);
      clock.advance(GRACE_MS);
      assert.equal(state('front'), 'idle');
      hub.subscribe(a, ['front']);
      assert.equal(state('front'), 'starting');
      // Once the stopped ffmpeg has exited (this fake one at once).
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(launches('front').length, 2);
    });
  });

  describe('frames', () => {
    it('gives a new subscriber the latest cached frame at once', () => {
      const { hub, viewer, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      sendFrame('front', 1);
      sendFrame('front', 2);
      const latest = hub.camera('front')?.latest;
      assert.ok(latest);

      hub.subscribe(b, ['front']);
      assert.deepEqual(b.framesOf('front'), [latest]);
      assert.deepEqual(Buffer.from(latest.data), fakeJpeg(2));
    });

    it('sends no cached frame when the camera has none yet', () => {
      const { hub, viewer } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      assert.equal(a.frames.length, 0);
    });

    it('does not resend the cached frame to a viewer already subscribed', () => {
      const { hub, viewer, sendFrame } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      sendFrame('front');
      hub.subscribe(a, ['front']);
      assert.equal(a.frames.length, 1);
    });

    it('hands the same frame object to every subscriber', () => {
      const { hub, viewer, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      hub.subscribe(b, ['front']);
      sendFrame('front');
      assert.equal(a.frames.length, 1);
      assert.equal(a.frames[0]!.frame, b.frames[0]!.frame);
    });

    it('sends frames only to the subscribers of that camera', () => {
      const { hub, viewer, sendFrame } = setup();
      const [a, b, idle] = [viewer(), viewer(), viewer()];
      hub.subscribe(a, ['front']);
      hub.subscribe(b, ['garage']);
      sendFrame('front', 1);
      sendFrame('garage', 2);
      sendFrame('front', 3);
      assert.deepEqual(
        a.frames.map((f) => f.camera),
        ['front', 'front'],
      );
      assert.deepEqual(
        b.frames.map((f) => f.camera),
        ['garage'],
      );
      assert.equal(idle.frames.length, 0);
    });

    it('sends no more frames to a viewer once it unsubscribed', () => {
      const { hub, viewer, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      hub.subscribe(b, ['front']);
      sendFrame('front', 1);
      hub.unsubscribe(a, ['front']);
      sendFrame('front', 2);
      assert.equal(a.frames.length, 1);
      assert.equal(b.frames.length, 2);
    });
  });

  describe('states', () => {
    it('sends every state change to every viewer, subscribed or not', () => {
      const { hub, viewer, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front']);
      sendFrame('front');
      const expected = [
        { id: 'front', name: 'FRONT', state: 'starting' },
        { id: 'front', name: 'FRONT', state: 'live', codec: 'jpeg' },
      ];
      assert.deepEqual(a.states, expected);
      assert.deepEqual(b.states, expected);
    });

    it('sends a retrying state with its reason to every viewer', () => {
      const { hub, viewer, ffmpeg } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['garage']);
      ffmpeg('garage').handlers.onExit({ code: 0, signal: null, lastError: '' });
      for (const v of [a, b]) {
        assert.deepEqual(v.states.at(-1), {
          id: 'garage',
          name: 'GARAGE',
          state: 'retrying',
          codec: 'jpeg',
          reason: 'camera closed the stream',
          attempt: 1,
          retryInMs: 375,
        });
      }
    });
  });

  describe('unknown cameras', () => {
    it('reports ids it does not know and subscribes the rest', () => {
      const { hub, viewer, launches, processes } = setup();
      const a = viewer();
      assert.deepEqual(hub.subscribe(a, ['front', 'nope', '../etc/passwd']), {
        accepted: ['front'],
        unknown: ['nope', '../etc/passwd'],
      });
      assert.equal(launches('front').length, 1);
      assert.equal(processes.length, 1);
      assert.deepEqual(hub.unsubscribe(a, ['nope', 'front']), {
        accepted: ['front'],
        unknown: ['nope'],
      });
      assert.equal(hub.camera('nope'), undefined);
      assert.equal(hub.subscriberCount('nope'), 0);
    });

    it('does not treat inherited object keys as cameras', () => {
      const { hub, viewer } = setup();
      const a = viewer();
      assert.deepEqual(hub.subscribe(a, ['constructor', '__proto__', 'toString']), {
        accepted: [],
        unknown: ['constructor', '__proto__', 'toString'],
      });
    });
  });

  describe('removeViewer', () => {
    it('frees all subscriptions of a removed viewer; its cameras stop after grace', () => {
      const { hub, clock, viewer, ffmpeg, state, sendFrame } = setup();
      const [a, b] = [viewer(), viewer()];
      hub.subscribe(a, ['front', 'garage']);
      hub.subscribe(b, ['garage']);
      hub.removeViewer(a);
      assert.equal(hub.subscriberCount('front'), 0);
      assert.equal(hub.subscriberCount('garage'), 1);

      sendFrame('front');
      assert.equal(a.frames.length, 0);
      const statesBefore = a.states.length;
      clock.advance(GRACE_MS);
      assert.equal(ffmpeg('front').stopCalls, 1);
      assert.equal(state('front'), 'idle');
      assert.equal(ffmpeg('garage').stopCalls, 0);
      assert.equal(state('garage'), 'starting');
      assert.equal(a.states.length, statesBefore, 'a removed viewer gets no states');
      assert.equal(b.states.at(-1)?.state, 'idle');
    });
  });

  describe('reconfigure', () => {
    it("starts a changed camera's new ffmpeg only once the old one has exited, for its viewers", async () => {
      const { hub, clock, viewer, ffmpeg, launches, processes } = setup();
      const a = viewer();
      hub.subscribe(a, ['front']);
      const old = ffmpeg('front');
      let exit: () => void = () => {};
      old.stop = function () {
        this.stopCalls++;
        return new Promise<void>((resolve) => {
          exit = resolve;
        });
      };
      const changed = new Camera(
        { id: 'front', name: 'FRONT', url: 'demo:elsewhere' },
        {
          launch: fakeLauncher(processes, 'front'),
          listener: hub,
          clock,
          log: createLog({ level: 'silent' }),
          boundary: BOUNDARY,
          maxFrameBytes: 1 << 20,
          random: () => 0.5,
          startTimeoutMs: NEVER_MS,
          stallMs: NEVER_MS,
        },
      );
      const kept = IDS.slice(1).map((id) => hub.camera(id) as Camera);
      const done = hub.reconfigure([changed, ...kept]);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(old.stopCalls, 1);
      assert.equal(launches('front').length, 1, 'no second ffmpeg while the first runs');
      exit();
      await done;
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(launches('front').length, 2, 'the new one, once the old one exited');
      ffmpeg('front').handlers.onStdout(part(fakeJpeg(7)));
      assert.equal(a.framesOf('front').length, 1, 'its viewer gets the new source');
    });
  });

  describe('close', () => {
    it('stops every camera for good and tells every viewer', async () => {
      const { hub, clock, viewer, ffmpeg, launches, processes } = setup();
      const a = viewer();
      hub.subscribe(a, ['front', 'garage']);
      hub.unsubscribe(a, ['garage']); // garage waits out its grace period
      await hub.close();

      assert.equal(ffmpeg('front').stopCalls, 1);
      assert.equal(ffmpeg('garage').stopCalls, 1);
      assert.deepEqual(
        hub.infos().map((info) => info.state),
        ['stopped', 'stopped', 'stopped'],
      );
      for (const id of IDS) {
        assert.deepEqual(a.states.filter((s) => s.id === id).at(-1)?.state, 'stopped', id);
      }
      assert.equal(clock.pending(), 0);

      assert.deepEqual(hub.subscribe(viewer(), ['front', 'yard']).accepted, ['front', 'yard']);
      hub.subscribe(viewer(), ['garage']);
      clock.advance(10 * GRACE_MS);
      assert.equal(processes.length, 2);
      assert.equal(launches('yard').length, 0);
      assert.deepEqual(
        hub.infos().map((info) => info.state),
        ['stopped', 'stopped', 'stopped'],
      );
    });
  });
});
