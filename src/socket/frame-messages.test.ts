import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FRAME_HEADROOM_BYTES, Frame } from '../camera/frame.js';
import {
  decodeExtendedFrame,
  decodeFrame,
  decodePayload,
  TIMED_VIDEO_HEADER_BYTES,
  VIDEO_HEADER_BYTES,
} from '../protocol/wire.js';
import { FrameMessages } from './frame-messages.js';

const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
const EXTENDED = { extended: true, decodeOnly: false, decodeTimes: false };
const UNIT = new Uint8Array([0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a]);

describe('FrameMessages', () => {
  it('builds [id length][id][jpeg] once per frame and hands every caller that buffer', () => {
    const messages = new FrameMessages();
    const frame = new Frame(jpeg, 7, 1234.5);
    const message = messages.messageOf('front', frame);
    assert.deepEqual([...message], [5, ...Buffer.from('front'), ...jpeg]);
    assert.equal(messages.messageOf('front', frame), message, 'the same buffer');
    const { camera, payload } = decodeFrame(message);
    assert.equal(camera, 'front');
    assert.deepEqual([...payload], [...jpeg]);
  });

  it('builds the extended layout on first use, once, with sequence and time', () => {
    const messages = new FrameMessages();
    const frame = new Frame(jpeg, 7, 1234.5);
    const extended = messages.variantOf('front', frame, EXTENDED);
    assert.equal(messages.variantOf('front', frame, EXTENDED), extended);
    const decoded = decodeExtendedFrame(extended);
    assert.deepEqual([decoded.camera, decoded.seq, decoded.sentAt], ['front', 7, 1234.5]);
    assert.deepEqual([...decoded.payload], [...jpeg]);
  });

  it('builds a new message for each new frame of a camera', () => {
    const messages = new FrameMessages();
    const first = messages.messageOf('a', new Frame(jpeg, 1, 0));
    const second = messages.messageOf('a', new Frame(jpeg, 2, 0));
    assert.notEqual(first, second);
    assert.deepEqual(first, second, 'same bytes: same camera, same JPEG');
  });

  it('times video by the camera: the presentation time, and the decode time for those who ask', () => {
    const messages = new FrameMessages();
    const frame = new Frame(UNIT, 3, 1000.25, 'h264', false, 1_000_300_000, 1_000_233_333);
    const plain = decodePayload(decodeFrame(messages.messageOf('cam', frame)).payload);
    assert.equal(plain.kind, 'video');
    assert.deepEqual(
      plain.kind === 'video' && [plain.timestamp, plain.decodeTimestamp, plain.key],
      [1_000_300_000, 1_000_300_000, false],
    );
    const kind = { extended: false, decodeOnly: true, decodeTimes: true };
    const timed = messages.variantOf('cam', frame, kind);
    assert.notEqual(messages.variantOf('cam', frame, kind), timed, 'decode-only: not kept');
    const live = { ...kind, decodeOnly: false };
    assert.equal(messages.variantOf('cam', frame, live), messages.variantOf('cam', frame, live));
    const read = decodePayload(decodeFrame(timed).payload);
    assert.deepEqual(
      read.kind === 'video' && [
        read.timestamp,
        read.decodeTimestamp,
        read.decodeOnly,
        [...read.data],
      ],
      [1_000_300_000, 1_000_233_333, true, [...UNIT]],
    );
  });

  it('puts a sound frame behind its own header, decode times or not', () => {
    const messages = new FrameMessages();
    const frame = new Frame(new Uint8Array([0xd5, 0xd5]), 9, 1000, 'pcma', true, 42_000, 42_000);
    const message = messages.variantOf('cam', frame, {
      extended: false,
      decodeOnly: true,
      decodeTimes: true,
    });
    assert.equal(message, messages.messageOf('cam', frame), 'the bits are for video only');
    const read = decodePayload(decodeFrame(message).payload);
    assert.deepEqual(read.kind === 'audio' && [read.codec, read.timestamp, [...read.data]], [
      'pcma',
      42_000,
      [0xd5, 0xd5],
    ]);
  });

  describe('around a unit its splitter left room in front of', () => {
    /** `unit` behind `headroom` bytes of 0xee in a buffer of its own, as a Frame. */
    const roomy = (unit: Uint8Array, headroom: number, seq = 1) => {
      const buffer = new Uint8Array(headroom + unit.length).fill(0xee);
      buffer.set(unit, headroom);
      const data = buffer.subarray(headroom);
      return { buffer, frame: new Frame(data, seq, 5, 'h264', true, 10, 9, headroom) };
    };
    const timedKind = { extended: true, decodeOnly: false, decodeTimes: true };

    it('writes the first message in that room, sharing the unit’s memory: no copy', () => {
      const { buffer, frame } = roomy(UNIT, FRAME_HEADROOM_BYTES);
      const expected = new FrameMessages().variantOf(
        'cam',
        new Frame(UNIT, 1, 5, 'h264', true, 10, 9),
        timedKind,
      );
      const message = new FrameMessages().variantOf('cam', frame, timedKind);
      assert.deepEqual([...message], [...expected], 'the same bytes as a copied message');
      assert.equal(message.buffer, buffer.buffer, 'the unit’s own memory');
      assert.equal(frame.headroom, 0, 'the room is spent');
      assert.deepEqual([...frame.data], [...UNIT], 'the unit untouched');
    });

    it('copies every later variant, leaving the first message as it was', () => {
      const { frame } = roomy(UNIT, FRAME_HEADROOM_BYTES);
      const messages = new FrameMessages();
      const first = messages.variantOf('cam', frame, timedKind);
      const before = [...first];
      const plain = messages.messageOf('cam', frame);
      const decodeOnly = messages.variantOf('cam', frame, { ...timedKind, decodeOnly: true });
      assert.notEqual(plain.buffer, first.buffer);
      assert.notEqual(decodeOnly.buffer, first.buffer);
      assert.deepEqual([...first], before);
      assert.deepEqual([...decodeFrame(plain).payload.subarray(VIDEO_HEADER_BYTES)], [...UNIT]);
    });

    it('has room for the longest head: a 68-character stream name, extended layout, decode times', () => {
      const name = `${'x'.repeat(64)}@sub`;
      const { buffer, frame } = roomy(UNIT, FRAME_HEADROOM_BYTES);
      const message = new FrameMessages().variantOf(name, frame, timedKind);
      assert.equal(message.buffer, buffer.buffer);
      const read = decodeExtendedFrame(message);
      assert.equal(read.camera, name);
      assert.deepEqual([...read.payload.subarray(TIMED_VIDEO_HEADER_BYTES)], [...UNIT]);
    });

    it('copies when the room is too small for the head, and never writes into it', () => {
      const { buffer, frame } = roomy(UNIT, 6);
      const message = new FrameMessages().variantOf('camera', frame, timedKind);
      assert.notEqual(message.buffer, buffer.buffer);
      assert.deepEqual([...buffer.subarray(0, 6)], Array(6).fill(0xee));
      assert.equal(frame.headroom, 6, 'still free for a smaller head');
    });

    it('never counts room the buffer does not have in front of the unit', () => {
      assert.equal(new Frame(UNIT, 1, 0, 'h264', true, 0, 0, FRAME_HEADROOM_BYTES).headroom, 0);
    });
  });
});
