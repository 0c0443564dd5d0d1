import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Frame } from '../camera/frame.js';
import { decodeExtendedFrame, decodeFrame, decodePayload } from '../protocol/wire.js';
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
});
