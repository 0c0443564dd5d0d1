import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { FakeClock } from '../../support/fake-clock.js';
import { Fmp4Stream } from '../../support/fmp4-stream.js';
import { Camera } from '../camera/camera.js';
import { Frame } from '../camera/frame.js';
import type { SourceHandlers } from '../camera/source.js';
import { createLog } from '../common/log.js';
import { Refusals } from '../guard/refusals.js';
import { Hub } from '../hub/hub.js';
import {
  decodeBatch,
  decodeExtendedFrame,
  decodeFrame,
  decodePayload,
  decodeVideo,
  SUBPROTOCOL_EXTENDED,
} from '../protocol/wire.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import { Batches } from './batches.js';
import { FrameMessages } from './frame-messages.js';
import { MAX_WAITING_SOUND, ViewerSocket, type ViewerSocketOptions } from './viewer-socket.js';

/** Bytes a socket may buffer before frames wait: three test frame messages (7 bytes each). */
const MAX_BUFFERED = 21;
/** Unacknowledged bytes an acking viewer may have: two test frame messages. */
const MAX_UNACKED = 14;
const MAX_BLOCKED_MS = 30_000;

/**
 * Stands in for a `ws` WebSocket. While the peer reads, every write leaves at once. Once
 * `stall()` is called the peer reads nothing: written bytes stay in `bufferedAmount` until the
 * test lets the peer read them, oldest write first, firing that write's callback as ws would.
 */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  protocol = '';
  readonly sent: Array<Uint8Array | string> = [];
  private stalled = false;
  private readonly writes: Array<{ bytes: number; callback?: (error?: Error) => void }> = [];
  /** Callbacks of writes that already left; ws calls them on a later tick. */
  private completed: Array<(error?: Error) => void> = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;

  send(data: Uint8Array | string, options?: unknown, callback?: (error?: Error) => void): void {
    this.sent.push(data);
    const done = typeof options === 'function' ? (options as (error?: Error) => void) : callback;
    if (!this.stalled) {
      if (done) this.completed.push(done);
      return;
    }
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.bufferedAmount += bytes;
    this.writes.push({ bytes, ...(done ? { callback: done } : {}) });
  }

  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }

  terminate(): void {
    this.terminated = true;
  }

  /** The peer stops reading. */
  stall(): void {
    this.stalled = true;
  }

  /** The peer reads the oldest buffered write; its callback fires. */
  drainOne(): void {
    this.tick();
    const write = this.writes.shift();
    if (!write) return;
    this.bufferedAmount -= write.bytes;
    write.callback?.();
  }

  /** The peer reads again, everything buffered and all that follows. */
  drainAll(): void {
    this.stalled = false;
    while (this.writes.length > 0) this.drainOne();
    this.tick();
  }

  /** Runs the callbacks of writes that left at once (ws defers them to a later tick). */
  tick(): void {
    const completed = this.completed;
    this.completed = [];
    for (const callback of completed) callback();
  }

  /** Binary messages sent so far, decoded to camera ids. */
  frameCameras(): string[] {
    return this.sent
      .filter((m) => typeof m !== 'string')
      .map((m) => decodeFrame(m as Uint8Array).camera);
  }

  controls(): Array<Record<string, unknown>> {
    return this.sent.filter((m) => typeof m === 'string').map((m) => JSON.parse(m as string));
  }
}

/** The error replies a socket got, code and message. */
function errors(socket: FakeSocket): Array<{ code: unknown; message: unknown }> {
  return socket
    .controls()
    .filter((m) => m.type === 'error')
    .map(({ code, message }) => ({ code, message }));
}

/**
 * With frames already waiting: still open a moment before `maxBlockedMs` has passed with
 * nothing taken, closed with 1008 once it has (each step offers one more frame).
 */
function assertClosedAtHardLimit(fixture: ReturnType<typeof setup>): void {
  const { socket, viewer, camera, frame, clock } = fixture;
  clock.advance(MAX_BLOCKED_MS - 1);
  viewer.sendFrame(frame('a'), camera('a'));
  assert.equal(socket.closedWith, undefined);
  clock.advance(1);
  viewer.sendFrame(frame('a'), camera('a'));
  assert.deepEqual(socket.closedWith, { code: 1008, reason: 'viewer too slow: nothing drained' });
}

function setup(
  protocol = '',
  messages = new FrameMessages(),
  rights: Pick<ViewerSocketOptions, 'ptz' | 'mayMove'> = {},
) {
  // Cameras get a clock of their own, so moving the viewer's time starts no camera timers.
  const cameraClock = new FakeClock(1_000_000);
  const clock = new FakeClock(1_000_000);
  const log = createLog({ level: 'silent' });
  const hub = new Hub({
    createCameras: (listener) =>
      ['a', 'b', 'c'].map(
        (id) =>
          new Camera(
            { id, name: id, url: `demo:1` },
            {
              launch: () => ({ pid: 1, stop: () => Promise.resolve() }),
              listener,
              clock: cameraClock,
              log,
              boundary: 'x',
              maxFrameBytes: 1 << 20,
            },
          ),
      ),
    graceMs: 10_000,
    clock: cameraClock,
    log,
  });
  const socket = new FakeSocket();
  socket.protocol = protocol;
  const viewer = new ViewerSocket(
    socket as unknown as WebSocket,
    {
      hub,
      log,
      maxBufferedBytes: MAX_BUFFERED,
      maxUnackedBytes: MAX_UNACKED,
      maxMessagesPerSecond: 50,
      maxCamerasPerCommand: 1024,
      maxCamerasPerSocket: 1024,
      refusals: new Refusals(log),
      messages,
      maxBlockedMs: MAX_BLOCKED_MS,
      now: () => clock.now(),
      batches: new Batches(clock),
      ...rights,
    },
    'test',
  );
  socket.emit(
    'message',
    Buffer.from(JSON.stringify({ cmd: 'subscribe', cameras: ['a', 'b', 'c'] })),
    false,
  );
  const camera = (id: string) => hub.camera(id) as Camera;
  let seq = 0;
  /** Which camera each test frame is of. */
  const cameraOf = new Map<Frame, string>();
  const frame = (id: string) => {
    const made = new Frame(Buffer.from([0xff, 0xd8, seq & 0xff, 0xff, 0xd9]), ++seq, clock.now());
    cameraOf.set(made, id);
    return made;
  };
  /** The message the viewer sends for `made` (built once, shared by every viewer). */
  const messageOf = (made: Frame) => messages.messageOf(cameraOf.get(made) ?? 'a', made);
  const send = (command: Record<string, unknown>) =>
    socket.emit('message', Buffer.from(JSON.stringify(command)), false);
  return { hub, socket, viewer, camera, frame, clock, send, cameraOf, messageOf };
}

describe('ViewerSocket', () => {
  it('greets with hello and acknowledges a subscribe', () => {
    const { socket } = setup();
    const controls = socket.controls();
    assert.equal(controls[0]?.type, 'hello');
    const subscribed = controls.find((m) => m.type === 'subscribed');
    assert.deepEqual(subscribed, { type: 'subscribed', cameras: ['a', 'b', 'c'] });
  });

  it('sends each frame at once while the socket drains', () => {
    const { socket, viewer, camera, frame } = setup();
    for (let i = 0; i < 5; i++) viewer.sendFrame(frame('a'), camera('a'));
    assert.deepEqual(socket.frameCameras(), ['a', 'a', 'a', 'a', 'a']);
    assert.deepEqual(viewer.countOf('a'), { sent: 5, dropped: 0 });
  });

  it('drops older frames for a slow viewer and keeps the newest', () => {
    const { socket, viewer, camera, frame, messageOf } = setup();
    socket.stall(); // the viewer stopped reading
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // fills the bound
    const frames = [frame('b'), frame('b'), frame('b')];
    for (const f of frames) viewer.sendFrame(f, camera('b'));
    assert.deepEqual(socket.frameCameras(), ['a', 'a', 'a'], 'nothing more while it is full');
    assert.deepEqual(viewer.countOf('b'), { sent: 0, dropped: 2 });
    socket.drainAll();
    assert.deepEqual(socket.frameCameras(), ['a', 'a', 'a', 'b']);
    assert.equal(
      socket.sent.at(-1),
      messageOf(frames[2]!),
      'the newest frame, and the very same buffer',
    );
  });

  it('serves congested cameras round-robin so none starves', () => {
    const { socket, viewer, camera, frame } = setup();
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // fills the bound
    viewer.sendFrame(frame('a'), camera('a'));
    viewer.sendFrame(frame('b'), camera('b'));
    viewer.sendFrame(frame('c'), camera('c'));
    viewer.sendFrame(frame('a'), camera('a')); // replaces a's pending frame and goes to the back
    // The peer reads one message at a time; each completed write makes room for one more.
    for (let i = 0; i < 3; i++) socket.drainOne();
    assert.deepEqual(socket.frameCameras().slice(3), ['b', 'c', 'a']);
  });

  it('asks ws for a write callback only while the socket is backed up', () => {
    const { socket, viewer, camera, frame } = setup();
    let callbacks = 0;
    const send = socket.send.bind(socket);
    socket.send = (data, options, callback) => {
      if (typeof options === 'function' || callback) callbacks++;
      send(data, options, callback);
    };
    for (let i = 0; i < 5; i++) viewer.sendFrame(frame('a'), camera('a'));
    assert.equal(callbacks, 0, 'an empty socket: no callback per message');
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a'));
    assert.equal(callbacks, 2, 'every write behind buffered bytes has one');
  });

  it('flushes waiting frames even when the oldest buffered write has no callback', () => {
    const { socket, viewer, camera, frame } = setup();
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // 1st: no callback
    viewer.sendFrame(frame('b'), camera('b')); // waits
    socket.drainOne(); // the callback-less write leaves: no event yet
    socket.drainOne(); // the next one completes and flushes
    assert.deepEqual(socket.frameCameras(), ['a', 'a', 'a', 'b']);
    assert.deepEqual(viewer.countOf('b'), { sent: 1, dropped: 0 });
  });

  it('gives every viewer the same buffer: no per-viewer copies', () => {
    const messages = new FrameMessages();
    const first = setup('', messages);
    const second = setup('', messages);
    const shared = first.frame('a');
    first.viewer.sendFrame(shared, first.camera('a'));
    second.viewer.sendFrame(shared, second.camera('a'));
    const sentFirst = first.socket.sent.find((m) => typeof m !== 'string');
    const sentSecond = second.socket.sent.find((m) => typeof m !== 'string');
    assert.equal(sentFirst, sentSecond);
  });

  it('closes a viewer that drains nothing for the hard limit with 1008, not before', () => {
    const fixture = setup();
    const { socket, viewer, camera, frame } = fixture;
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // fills the bound
    viewer.sendFrame(frame('a'), camera('a')); // waits: the clock starts
    assertClosedAtHardLimit(fixture);
    assert.deepEqual(viewer.countOf('a'), { sent: 3, dropped: 3 });
  });

  it('keeps a slow but draining viewer open', () => {
    const { socket, viewer, camera, frame, clock } = setup();
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // fills the bound
    socket.drainOne();
    viewer.sendFrame(frame('a'), camera('a')); // full again
    for (let i = 0; i < 10; i++) {
      viewer.sendFrame(frame('a'), camera('a')); // waits
      clock.advance(MAX_BLOCKED_MS / 2);
      socket.drainOne(); // a write completes: the waiting frame goes out
    }
    assert.equal(socket.closedWith, undefined);
    assert.deepEqual(viewer.countOf('a'), { sent: 14, dropped: 0 });
  });

  it('forgets the pending frame of a camera the viewer unsubscribes from', () => {
    const { socket, viewer, camera, frame } = setup();
    socket.stall();
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('b'), camera('b')); // fills the bound
    viewer.sendFrame(frame('a'), camera('a')); // waits
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ cmd: 'unsubscribe', cameras: ['a'] })),
      false,
    );
    socket.drainAll();
    viewer.sendFrame(frame('b'), camera('b'));
    assert.deepEqual(socket.frameCameras(), ['b', 'b', 'b', 'b']);
  });

  it('sends the extended layout, with sequence and time, to a viewer that asked for it', () => {
    const { socket, viewer, camera, frame } = setup(SUBPROTOCOL_EXTENDED);
    const sentFrame = frame('b');
    viewer.sendFrame(sentFrame, camera('b'));
    const message = socket.sent.find((m) => typeof m !== 'string') as Uint8Array;
    const decoded = decodeExtendedFrame(message);
    assert.equal(decoded.camera, 'b');
    assert.equal(decoded.seq, sentFrame.seq);
    assert.equal(decoded.sentAt, sentFrame.at);
    assert.deepEqual([...decoded.payload], [...sentFrame.data]);
  });

  it('holds frames back while an acking viewer has the bound unacknowledged', () => {
    const { socket, viewer, camera, frame, send, cameraOf, messageOf } = setup();
    send({ cmd: 'ack', bytes: 0 }); // turns acknowledged flow control on
    const frames = ['a', 'b', 'c', 'a', 'c'].map((id) => frame(id));
    for (const f of frames) viewer.sendFrame(f, camera(cameraOf.get(f) ?? ''));
    // Two 7-byte messages fill the 14-byte window, although the socket itself drains at once.
    assert.deepEqual(socket.frameCameras(), ['a', 'b']);
    assert.deepEqual(viewer.countOf('c'), { sent: 0, dropped: 1 }, 'a newer frame replaced c');
    send({ cmd: 'ack', bytes: 7 });
    assert.deepEqual(socket.frameCameras(), ['a', 'b', 'a'], 'one acknowledged: one more goes');
    send({ cmd: 'ack', bytes: 21 });
    assert.deepEqual(socket.frameCameras(), ['a', 'b', 'a', 'c'], 'round-robin, newest');
    assert.equal(socket.sent.at(-1), messageOf(frames[4]!));
    assert.deepEqual(errors(socket), []);
  });

  it('lets one frame through even when it alone is over the window', () => {
    const { socket, viewer, camera, send } = setup();
    send({ cmd: 'ack', bytes: 0 });
    const big = (seq: number) => new Frame(Buffer.alloc(MAX_UNACKED * 2, 0xff), seq, 0);
    viewer.sendFrame(big(1), camera('a'));
    viewer.sendFrame(big(2), camera('a'));
    assert.equal(socket.frameCameras().length, 1);
    send({ cmd: 'ack', bytes: 1 + 'a'.length + MAX_UNACKED * 2 });
    assert.equal(socket.frameCameras().length, 2);
  });

  it('counts frames sent before the first ack, which may come at any time', () => {
    const { socket, viewer, camera, frame, send } = setup();
    for (let i = 0; i < 4; i++) viewer.sendFrame(frame('a'), camera('a'));
    send({ cmd: 'ack', bytes: 7 }); // 21 bytes still unacknowledged: the window is shut
    viewer.sendFrame(frame('b'), camera('b'));
    assert.equal(socket.frameCameras().length, 4);
    send({ cmd: 'ack', bytes: 28 });
    assert.deepEqual(socket.frameCameras().slice(4), ['b']);
  });

  it('refuses acks of bytes never sent or going backwards, and keeps the socket open', () => {
    const { socket, viewer, camera, frame, send } = setup();
    viewer.sendFrame(frame('a'), camera('a'));
    send({ cmd: 'ack', bytes: 8 });
    send({ cmd: 'ack', bytes: 7 });
    send({ cmd: 'ack', bytes: 0 });
    assert.deepEqual(errors(socket), [
      { code: 'CAMPLEX_ERR_BAD_MESSAGE', message: '"ack" of 8 bytes, but only 7 were sent' },
      { code: 'CAMPLEX_ERR_BAD_MESSAGE', message: '"ack" must not go backwards: 0 after 7' },
    ]);
    assert.equal(socket.closedWith, undefined);
  });

  it('does not rate-limit acks of new bytes, but does count repeated ones', () => {
    const fresh = setup();
    fresh.send({ cmd: 'ack', bytes: 0 });
    for (let i = 1; i <= 200; i++) {
      fresh.viewer.sendFrame(fresh.frame('a'), fresh.camera('a'));
      fresh.send({ cmd: 'ack', bytes: 7 * i });
    }
    assert.equal(fresh.socket.closedWith, undefined);
    assert.equal(fresh.viewer.countOf('a').sent, 200);

    const repeated = setup();
    for (let i = 0; i < 60; i++) repeated.send({ cmd: 'ack', bytes: 0 });
    assert.deepEqual(repeated.socket.closedWith, {
      code: 1008,
      reason: 'too many control messages',
    });
  });

  it('counts acks beyond one per frame sent against the rate limit', () => {
    const { socket, viewer, camera, send } = setup();
    viewer.sendFrame(new Frame(Buffer.alloc(200, 0xff), 1, 0), camera('a'));
    // 202 bytes sent in one frame, acknowledged a byte at a time: one ack is free, the others
    // count with the subscribe that setup sent, 50 in the second are allowed, the next closes.
    for (let bytes = 1; bytes <= 50; bytes++) send({ cmd: 'ack', bytes });
    assert.equal(socket.closedWith, undefined);
    send({ cmd: 'ack', bytes: 51 });
    assert.deepEqual(socket.closedWith, { code: 1008, reason: 'too many control messages' });
  });

  it('closes an acking viewer that acknowledges nothing for the hard limit', () => {
    const fixture = setup();
    const { viewer, camera, frame, clock, send } = fixture;
    send({ cmd: 'ack', bytes: 0 });
    for (let i = 0; i < 3; i++) viewer.sendFrame(frame('a'), camera('a')); // 2 go, 1 waits
    clock.advance(MAX_BLOCKED_MS / 2);
    send({ cmd: 'ack', bytes: 7 }); // taken: the waiting frame goes, the clock starts again
    viewer.sendFrame(frame('a'), camera('a'));
    assertClosedAtHardLimit(fixture);
  });

  it('closes with 1003 on a binary message and 1008 on a message flood', () => {
    const binary = setup();
    binary.socket.emit('message', Buffer.from([1, 2, 3]), true);
    assert.deepEqual(binary.socket.closedWith, {
      code: 1003,
      reason: 'binary messages are not accepted',
    });

    const flood = setup();
    for (let i = 0; i < 60; i++) {
      flood.socket.emit('message', Buffer.from('{"cmd":"subscribe","cameras":[]}'), false);
    }
    assert.deepEqual(flood.socket.closedWith, { code: 1008, reason: 'too many control messages' });
  });
});

describe('ViewerSocket with video', () => {
  /** An H.264 access unit stand-in (7 bytes, as the JPEG stand-ins: the window counts bytes). */
  let seq = 1000;
  const unit = (key: boolean) =>
    new Frame(Buffer.from([0, 0, 1, 9, key ? 5 : 1]), ++seq, seq, 'h264', key);
  const sentUnits = (socket: FakeSocket) =>
    socket.sent
      .filter((m) => typeof m !== 'string')
      .map((m) => decodeVideo(decodeFrame(m as Uint8Array).payload))
      .filter((video) => video !== undefined);

  it('never sends a delta after a gap: a viewer that fell behind skips to the next key unit', () => {
    const { socket, viewer, camera } = setup();
    socket.stall();
    const units = [unit(true), unit(false), unit(false), unit(false), unit(false), unit(false)];
    for (const u of units) viewer.sendFrame(u, camera('a'));
    // Two 15-byte messages fill the 21-byte bound; the third waits, the fourth would replace it.
    socket.drainAll();
    viewer.sendFrame(unit(false), camera('a')); // still in the gap: dropped
    const key = unit(true);
    viewer.sendFrame(key, camera('a'));
    viewer.sendFrame(unit(false), camera('a'));
    const sent = sentUnits(socket);
    const keys = sent.map((u) => u.key);
    const afterGap = keys.lastIndexOf(true);
    assert.ok(afterGap > 0, 'the next key unit went');
    assert.equal(sent[afterGap]?.timestamp, key.pts);
    assert.ok(viewer.countOf('a').dropped >= 3, 'every unit skipped is counted');
    // Between the first units and the key unit, nothing but what was contiguous went.
    const beforeKey = sent.slice(0, afterGap).map((u) => u.timestamp);
    assert.deepEqual(
      beforeKey,
      units.slice(0, beforeKey.length).map((u) => u.pts),
    );
  });

  it("sends a late joiner's burst whole, past the windows, all but the last decode-only", () => {
    const { socket, viewer, camera } = setup();
    socket.stall(); // a socket that drains nothing still gets one burst: it is bounded by the cache
    const burst = [unit(true), unit(false), unit(false), unit(false)];
    viewer.sendBurst(burst, camera('a'));
    const sent = sentUnits(socket);
    assert.deepEqual(
      sent.map((u) => [u.key, u.decodeOnly]),
      [
        [true, true],
        [false, true],
        [false, true],
        [false, false],
      ],
    );
    assert.deepEqual(viewer.countOf('a'), { sent: 4, dropped: 0 });
  });

  it('gives a socket already over its buffer bound no burst: it starts at the next key unit', () => {
    const { socket, viewer, camera } = setup();
    socket.stall();
    viewer.sendBurst([unit(true), unit(false), unit(false)], camera('a'));
    const before = socket.sent.length;
    viewer.sendBurst([unit(true), unit(false), unit(false)], camera('b')); // over the bound now
    viewer.sendFrame(unit(false), camera('b'));
    assert.equal(socket.sent.length, before, 'neither the burst nor a delta after it');
    assert.equal(viewer.countOf('b').dropped, 4);
    socket.drainAll();
    const key = unit(true);
    viewer.sendFrame(key, camera('b'));
    assert.deepEqual(
      sentUnits(socket)
        .slice(-1)
        .map((u) => [u.key, u.timestamp]),
      [[true, key.pts]],
    );
  });
});

describe('ViewerSocket with a camera’s timed video and sound', () => {
  /** A Camera fed as ffmpeg feeds it (fragmented MP4), a viewer of it, and its socket. */
  function cameraSetup(bounds: { buffered: number; unacked: number }) {
    const clock = new FakeClock(1_000_000);
    const log = createLog({ level: 'silent' });
    let handlers: SourceHandlers | undefined;
    const hub = new Hub({
      createCameras: (listener) => [
        new Camera(
          { id: 'v', name: 'v', url: 'rtsp://v/x' },
          {
            launch: (given) => {
              handlers = given;
              given.onPlan({ output: 'h264', copyJpeg: false, audio: 'aac' });
              return { pid: 1, stop: () => Promise.resolve() };
            },
            listener,
            clock,
            log,
            boundary: 'x',
            maxFrameBytes: 1 << 20,
          },
        ),
      ],
      graceMs: 10_000,
      clock,
      log,
    });
    const socket = new FakeSocket();
    const viewer = new ViewerSocket(
      socket as unknown as WebSocket,
      {
        hub,
        log,
        maxBufferedBytes: bounds.buffered,
        maxUnackedBytes: bounds.unacked,
        maxMessagesPerSecond: 1000,
        maxCamerasPerCommand: 1024,
        maxCamerasPerSocket: 1024,
        refusals: new Refusals(log),
        messages: new FrameMessages(),
        batches: new Batches(clock),
        maxBlockedMs: MAX_BLOCKED_MS,
        now: () => clock.now(),
      },
      'test',
    );
    const send = (command: Record<string, unknown>) =>
      socket.emit('message', Buffer.from(JSON.stringify(command)), false);
    const stream = new Fmp4Stream({ audio: { rate: 48000, channels: 1 } });
    let n = 0;
    /** The next picture (a key one every 30), 66.7 ms after the one before. */
    const picture = (bytes = 200) => {
      const key = n++ % 30 === 0;
      clock.advance(67);
      handlers?.onStdout(Buffer.from(stream.unit(unit(key, bytes), key)));
    };
    const sound = () =>
      handlers?.onSound?.(Buffer.from(stream.sound(new Uint8Array(40).fill(0x21))));
    /** What the peer received, read. */
    const received = () =>
      socket.sent
        .filter((m) => typeof m !== 'string')
        .map((m) => decodePayload(decodeFrame(m as Uint8Array).payload));
    /** Acknowledges every byte received so far. */
    const ackAll = () => {
      const bytes = socket.sent
        .filter((m) => typeof m !== 'string')
        .reduce((sum, m) => sum + (m as Uint8Array).length, 0);
      send({ cmd: 'ack', bytes });
    };
    return { hub, socket, viewer, send, picture, sound, received, ackAll, clock };
  }

  /** A stand-in H.264 unit of `bytes` bytes: delimiter, parameter sets on key units, a slice. */
  function unit(key: boolean, bytes: number): Uint8Array {
    const parts = [Buffer.from([0, 0, 0, 1, 0x09, 0xf0])];
    if (key) {
      parts.push(
        Buffer.from([0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84]),
      );
      parts.push(Buffer.from([0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]));
    }
    const slice = Buffer.alloc(bytes, 0x5a);
    slice[0] = key ? 0x65 : 0x41;
    parts.push(Buffer.from([0, 0, 0, 1]), slice);
    return new Uint8Array(Buffer.concat(parts));
  }

  it('gives decode times to a subscription that asks for them, and to no other', () => {
    const plain = cameraSetup({ buffered: 1 << 20, unacked: 1 << 20 });
    plain.send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264'] });
    const timed = cameraSetup({ buffered: 1 << 20, unacked: 1 << 20 });
    timed.send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264'], decodeTimes: true });
    for (const each of [plain, timed]) for (let i = 0; i < 3; i++) each.picture();
    const types = (each: typeof plain) =>
      each.socket.sent
        .filter((m) => typeof m !== 'string')
        .map((m) => decodeFrame(m as Uint8Array).payload[0]);
    assert.deepEqual(types(plain), [1, 1, 1]);
    assert.deepEqual(types(timed), [3, 3, 3]);
    const [first, second] = timed.received();
    assert.ok(first?.kind === 'video' && second?.kind === 'video');
    assert.equal(Math.round(second.decodeTimestamp - first.decodeTimestamp), 66_667);
  });

  it('sends the camera’s sound only to a viewer that names its codec, and never from the cache', () => {
    const { send, picture, sound, received } = cameraSetup({ buffered: 1 << 20, unacked: 1 << 20 });
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264', 'opus'] });
    picture();
    sound();
    picture();
    assert.deepEqual(
      received().map((payload) => payload.kind),
      ['video', 'video'],
    );
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264', 'aac'] });
    sound();
    picture();
    assert.deepEqual(
      received().map((payload) => payload.kind),
      ['video', 'video', 'audio', 'video'],
    );
    const heard = received()[2];
    assert.ok(heard?.kind === 'audio' && heard.codec === 'aac');
  });

  it('sends sound ahead of waiting pictures, counts it in the window, and keeps a bounded queue', () => {
    const { viewer, send, picture, sound, received, ackAll } = cameraSetup({
      buffered: 1 << 20,
      unacked: 2000,
    });
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264', 'aac'] });
    send({ cmd: 'ack', bytes: 0 });
    for (let i = 0; i < 12; i++) picture(); // the window fills: pictures wait, the newest wins
    const before = received().length;
    for (let i = 0; i < MAX_WAITING_SOUND + 10; i++) sound();
    assert.equal(received().length, before, 'nothing goes while the window is full');
    // Sound counts in the window: it goes as acks open it, a window's worth at a time.
    for (let i = 0; i < 10; i++) ackAll();
    picture(); // the pictures go on (from the units this viewer missed)
    const after = received().slice(before);
    // The sound that waited went first (the oldest 10 were dropped), then pictures.
    assert.deepEqual(
      after.slice(0, MAX_WAITING_SOUND).map((payload) => payload.kind),
      Array(MAX_WAITING_SOUND).fill('audio'),
    );
    assert.ok(
      after.slice(MAX_WAITING_SOUND).some((payload) => payload.kind === 'video'),
      'then pictures',
    );
    assert.ok(viewer.countOf('v').dropped >= 10);
  });

  it('starts a viewer again from the units it missed once its window takes them, not at the next key', () => {
    const { send, picture, received, ackAll } = cameraSetup({ buffered: 1 << 20, unacked: 1500 });
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264'] });
    send({ cmd: 'ack', bytes: 0 });
    for (let i = 0; i < 3; i++) picture();
    ackAll();
    // The viewer stops acking: past the window, a picture waits; a newer one makes a gap.
    for (let i = 0; i < 10; i++) picture();
    const sentBefore = received().length;
    ackAll(); // it catches up
    picture(); // the next delta: the units since the last one sent go, decode-only but it
    const resumed = received().slice(sentBefore);
    const video = resumed.filter((payload) => payload.kind === 'video');
    assert.ok(video.length >= 2, 'the missed units and the newest');
    assert.ok(
      video.every((payload) => payload.kind === 'video' && !payload.key),
      'no key unit needed',
    );
    assert.deepEqual(
      video.map((payload) => payload.kind === 'video' && payload.decodeOnly),
      [...Array(video.length - 1).fill(true), false],
    );
  });

  it('starts a viewer that caught up from the units it missed past its window, once per GOP', () => {
    const { send, picture, received, ackAll } = cameraSetup({ buffered: 1 << 20, unacked: 900 });
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264'] });
    send({ cmd: 'ack', bytes: 0 });
    for (let i = 0; i < 3; i++) picture(400);
    ackAll();
    // A page that stalls: no acks while 10 pictures (4000 bytes, over the 900-byte window) come.
    for (let i = 0; i < 10; i++) picture(400);
    let before = received().length;
    ackAll(); // it caught up with everything it was sent
    picture(400);
    const burst = received()
      .slice(before)
      .filter((payload) => payload.kind === 'video');
    // 400-byte pictures: three are more than the 900-byte window.
    assert.ok(
      burst.length >= 3,
      `the missed units and the newest, past the window: ${burst.length}`,
    );
    assert.deepEqual(
      burst.map((payload) => payload.kind === 'video' && !payload.key && payload.decodeOnly),
      [...Array(burst.length - 1).fill(true), false],
      'no key unit needed; decode-only but the newest',
    );
    // It stalls again in the same GOP: this time it waits for the key unit.
    for (let i = 0; i < 5; i++) picture(400);
    ackAll();
    before = received().length;
    picture(400);
    assert.equal(received().length, before, 'one burst past the window per GOP');
    let key = false;
    for (let i = 0; i < 30 && !key; i++) {
      picture(400);
      key = received()
        .slice(before)
        .some((payload) => payload.kind === 'video' && payload.key);
    }
    assert.ok(key, 'the next key unit goes');
  });

  it('lets a viewer whose window cannot take the missed units wait for the next key unit', () => {
    const { send, picture, received } = cameraSetup({ buffered: 1 << 20, unacked: 900 });
    send({ cmd: 'subscribe', cameras: ['v'], formats: ['h264'] });
    send({ cmd: 'ack', bytes: 0 });
    for (let i = 0; i < 20; i++) picture(); // never acks: the window stays full
    const stuck = received().length;
    for (let i = 0; i < 5; i++) picture();
    assert.equal(received().length, stuck, 'no burst into a full window');
  });
});

describe('ViewerSocket batches (opt-in)', () => {
  /** Binary messages sent, each as the list of frame messages it carries, hex. */
  const binaries = (socket: FakeSocket) =>
    socket.sent
      .filter((m): m is Uint8Array => typeof m !== 'string')
      .map((m) => (m[0] === 0 ? decodeBatch(m) : [m]).map((f) => Buffer.from(f).toString('hex')));
  const hex = (message: Uint8Array) => Buffer.from(message).toString('hex');

  it("sends a quiet socket's frame at once and frames that follow within maxDelayMs together", () => {
    const { socket, viewer, camera, frame, clock, send, messageOf } = setup();
    send({ cmd: 'batch', maxDelayMs: 5 });
    const before = binaries(socket).length;
    const first = frame('a');
    viewer.sendFrame(first, camera('a'));
    assert.deepEqual(binaries(socket).slice(before), [[hex(messageOf(first))]], 'at once');
    clock.advance(1);
    const [b, c] = [frame('b'), frame('c')];
    viewer.sendFrame(b, camera('b'));
    viewer.sendFrame(c, camera('c'));
    assert.equal(binaries(socket).length, before + 1, 'the next two wait');
    clock.advance(3);
    assert.equal(binaries(socket).length, before + 1, 'at most 5 ms after the last write');
    clock.advance(1);
    assert.deepEqual(binaries(socket).at(-1), [hex(messageOf(b)), hex(messageOf(c))]);
    assert.equal(socket.sent.at(-1)?.[0], 0, 'as one batch message');
    clock.advance(10);
    const late = frame('a');
    viewer.sendFrame(late, camera('a'));
    assert.deepEqual(binaries(socket).at(-1), [hex(messageOf(late))], 'quiet again: at once');
  });

  it("counts a batch's own bytes in the ack window, as the client counts them", () => {
    const { socket, viewer, camera, frame, clock, send } = setup();
    send({ cmd: 'ack', bytes: 0 });
    send({ cmd: 'batch', maxDelayMs: 5 });
    viewer.sendFrame(frame('a'), camera('a'));
    send({ cmd: 'ack', bytes: 7 });
    clock.advance(1);
    viewer.sendFrame(frame('b'), camera('b'));
    clock.advance(5);
    const batch = socket.sent.at(-1) as Uint8Array;
    assert.equal(batch.length, 1 + 4 + 7);
    send({ cmd: 'ack', bytes: 7 + batch.length + 1 });
    assert.deepEqual(errors(socket).at(-1), {
      code: 'CAMPLEX_ERR_BAD_MESSAGE',
      message: `"ack" of ${7 + batch.length + 1} bytes, but only ${7 + batch.length} were sent`,
    });
    const refused = errors(socket).length;
    send({ cmd: 'ack', bytes: 7 + batch.length });
    assert.equal(errors(socket).length, refused, 'the batch acknowledged whole');
  });

  it('sends what waits before a control message, so replies follow the frames they follow', () => {
    const { socket, viewer, camera, frame, clock, send } = setup();
    send({ cmd: 'batch', maxDelayMs: 5 });
    viewer.sendFrame(frame('a'), camera('a'));
    clock.advance(1);
    viewer.sendFrame(frame('b'), camera('b'));
    send({ cmd: 'unsubscribe', cameras: ['b'] });
    const last = socket.sent.slice(-2);
    assert.equal(typeof last[0], 'object', 'the batch first');
    assert.equal(JSON.parse(last[1] as string).type, 'unsubscribed');
    clock.advance(10);
    assert.equal(socket.sent.length, socket.sent.indexOf(last[1] as string) + 1, 'nothing after');
  });

  it('sends nothing more once the socket closed', () => {
    const { socket, viewer, camera, frame, clock, send } = setup();
    send({ cmd: 'batch', maxDelayMs: 5 });
    viewer.sendFrame(frame('a'), camera('a'));
    clock.advance(1);
    viewer.sendFrame(frame('b'), camera('b'));
    const sent = socket.sent.length;
    socket.emit('close', 1001);
    clock.advance(10);
    assert.equal(socket.sent.length, sent);
  });
});

describe('ViewerSocket.rescope and PTZ', () => {
  /** A PTZ control that records which viewers' moves were released. */
  const recorder = () => {
    const released: unknown[] = [];
    const ptz: PtzControl = {
      presetsOf: () => [],
      command: () => {},
      release: (mover) => released.push(mover),
    };
    return { ptz, released };
  };

  it('stops the moves of a viewer that lost the right to move a camera, not of one that kept it', () => {
    const { ptz, released } = recorder();
    const { viewer } = setup('', new FrameMessages(), { ptz, mayMove: (id) => id === 'a' });
    viewer.rescope(
      () => true,
      (id) => id === 'a' || id === 'b',
    );
    assert.deepEqual(released, [], 'widened: a move under way goes on');
    viewer.rescope(
      () => true,
      (id) => id === 'b',
    );
    assert.deepEqual(released, [viewer], 'narrowed: its moves stop');
  });
});
