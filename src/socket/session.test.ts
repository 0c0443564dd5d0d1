import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { LimitCounter } from '../access/limits.js';
import { Camera } from '../camera/camera.js';
import { Frame } from '../camera/frame.js';
import { Hub } from '../hub/hub.js';
import { createLog } from '../log.js';
import {
  decodeExtendedFrame,
  decodeFrame,
  framePrefix,
  SUBPROTOCOL_EXTENDED,
} from '../protocol/wire.js';
import { Session } from './session.js';

const MAX_BUFFERED = 1000;
const MAX_BLOCKED_MS = 30_000;

/** Stands in for a `ws` WebSocket: records sends, lets the test set buffered bytes and drain. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  protocol = '';
  readonly sent: Array<Uint8Array | string> = [];
  private readonly callbacks: Array<(error?: Error) => void> = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;

  send(data: Uint8Array | string, options?: unknown, callback?: (error?: Error) => void): void {
    this.sent.push(data);
    if (typeof options === 'function') this.callbacks.push(options as (error?: Error) => void);
    else if (callback) this.callbacks.push(callback);
  }

  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }

  terminate(): void {
    this.terminated = true;
  }

  /** The kernel took everything: buffered bytes drop to 0 and one write callback fires. */
  drainOne(): void {
    this.bufferedAmount = 0;
    this.callbacks.shift()?.();
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

function setup(protocol = '') {
  const clock = new FakeClock(1_000_000);
  const log = createLog('silent');
  const hub = new Hub({
    createCamera: (listener) =>
      ['a', 'b', 'c'].map(
        (id) =>
          new Camera(
            { id, name: id, url: `demo:1` },
            {
              launch: () => ({ pid: 1, stop: () => Promise.resolve() }),
              listener,
              clock,
              log,
              boundary: 'x',
              maxFrameBytes: 1 << 20,
            },
          ),
      ),
    graceMs: 10_000,
    clock,
    log,
  });
  const socket = new FakeSocket();
  socket.protocol = protocol;
  const session = new Session(
    socket as unknown as WebSocket,
    {
      hub,
      log,
      maxBufferedBytes: MAX_BUFFERED,
      maxMessagesPerSecond: 50,
      maxCamerasPerCommand: 1024,
      maxCamerasPerSocket: 1024,
      limits: new LimitCounter(log),
      maxBlockedMs: MAX_BLOCKED_MS,
      now: () => clock.now(),
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
  const frame = (id: string) =>
    new Frame(
      framePrefix(id),
      Buffer.from([0xff, 0xd8, seq & 0xff, 0xff, 0xd9]),
      ++seq,
      clock.now(),
    );
  return { hub, socket, session, camera, frame, clock };
}

describe('Session', () => {
  it('greets with hello and acknowledges a subscribe', () => {
    const { socket } = setup();
    const controls = socket.controls();
    assert.equal(controls[0]?.type, 'hello');
    const subscribed = controls.find((m) => m.type === 'subscribed');
    assert.deepEqual(subscribed, { type: 'subscribed', cameras: ['a', 'b', 'c'] });
  });

  it('sends each frame at once while the socket drains', () => {
    const { socket, session, camera, frame } = setup();
    for (let i = 0; i < 5; i++) session.sendFrame(frame('a'), camera('a'));
    assert.deepEqual(socket.frameCameras(), ['a', 'a', 'a', 'a', 'a']);
    assert.deepEqual(session.countOf('a'), { sent: 5, dropped: 0 });
  });

  it('drops older frames for a slow viewer and keeps the newest', () => {
    const { socket, session, camera, frame } = setup();
    socket.bufferedAmount = MAX_BUFFERED; // the viewer stopped reading
    const frames = [frame('a'), frame('a'), frame('a')];
    for (const f of frames) session.sendFrame(f, camera('a'));
    assert.deepEqual(socket.frameCameras(), [], 'nothing sent while the socket is full');
    assert.deepEqual(session.countOf('a'), { sent: 0, dropped: 2 });
    socket.bufferedAmount = 0;
    session.sendFrame(frame('b'), camera('b')); // any event flushes; here a frame of another camera
    const sentA = socket.sent.filter(
      (m) => typeof m !== 'string' && decodeFrame(m as Uint8Array).camera === 'a',
    );
    assert.equal(sentA.length, 1);
    assert.equal(sentA[0], frames[2]?.message, 'the newest frame, and the very same buffer');
  });

  it('serves congested cameras round-robin so none starves', () => {
    const { socket, session, camera, frame } = setup();
    session.sendFrame(frame('a'), camera('a')); // in flight
    socket.bufferedAmount = MAX_BUFFERED;
    session.sendFrame(frame('a'), camera('a'));
    session.sendFrame(frame('b'), camera('b'));
    session.sendFrame(frame('c'), camera('c'));
    session.sendFrame(frame('a'), camera('a')); // replaces a's pending frame and goes to the back
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const before = socket.frameCameras().length;
      socket.drainOne(); // room for one more message
      socket.bufferedAmount = MAX_BUFFERED;
      order.push(...socket.frameCameras().slice(before));
    }
    assert.deepEqual(order, ['b', 'c', 'a']);
  });

  it('gives every viewer the same buffer: no per-viewer copies', () => {
    const first = setup();
    const second = setup();
    const shared = first.frame('a');
    first.session.sendFrame(shared, first.camera('a'));
    second.session.sendFrame(shared, second.camera('a'));
    const sentFirst = first.socket.sent.find((m) => typeof m !== 'string');
    const sentSecond = second.socket.sent.find((m) => typeof m !== 'string');
    assert.equal(sentFirst, sentSecond);
  });

  it('closes a viewer that drains nothing for the hard limit with 1008, not before', () => {
    const { socket, session, camera, frame, clock } = setup();
    socket.bufferedAmount = MAX_BUFFERED;
    session.sendFrame(frame('a'), camera('a'));
    clock.advance(MAX_BLOCKED_MS - 1);
    session.sendFrame(frame('a'), camera('a'));
    assert.equal(socket.closedWith, undefined);
    clock.advance(1);
    session.sendFrame(frame('a'), camera('a'));
    assert.deepEqual(socket.closedWith, { code: 1008, reason: 'viewer too slow: nothing drained' });
    assert.deepEqual(session.countOf('a'), { sent: 0, dropped: 3 });
  });

  it('keeps a slow but draining viewer open', () => {
    const { socket, session, camera, frame, clock } = setup();
    session.sendFrame(frame('a'), camera('a')); // in flight
    for (let i = 0; i < 10; i++) {
      socket.bufferedAmount = MAX_BUFFERED;
      session.sendFrame(frame('a'), camera('a')); // waits
      clock.advance(MAX_BLOCKED_MS / 2);
      socket.drainOne(); // the write completes: the waiting frame goes out
    }
    assert.equal(socket.closedWith, undefined);
    assert.deepEqual(session.countOf('a'), { sent: 11, dropped: 0 });
  });

  it('forgets the pending frame of a camera the viewer unsubscribes from', () => {
    const { socket, session, camera, frame } = setup();
    socket.bufferedAmount = MAX_BUFFERED;
    session.sendFrame(frame('a'), camera('a'));
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ cmd: 'unsubscribe', cameras: ['a'] })),
      false,
    );
    socket.drainOne();
    session.sendFrame(frame('b'), camera('b'));
    assert.deepEqual(socket.frameCameras(), ['b']);
  });

  it('sends the extended layout, with sequence and time, to a viewer that asked for it', () => {
    const { socket, session, camera, frame } = setup(SUBPROTOCOL_EXTENDED);
    const sentFrame = frame('b');
    session.sendFrame(sentFrame, camera('b'));
    const message = socket.sent.find((m) => typeof m !== 'string') as Uint8Array;
    const decoded = decodeExtendedFrame(message);
    assert.equal(decoded.camera, 'b');
    assert.equal(decoded.seq, sentFrame.seq);
    assert.equal(decoded.sentAt, sentFrame.at);
    assert.deepEqual([...decoded.payload], [...sentFrame.jpeg]);
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
