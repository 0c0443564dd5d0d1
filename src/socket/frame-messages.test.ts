import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Frame } from '../camera/frame.js';
import { decodeExtendedFrame, decodeFrame } from '../protocol/wire.js';
import { FrameMessages } from './frame-messages.js';

const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);

describe('FrameMessages', () => {
  it('builds [id length][id][jpeg] once per frame and hands every caller that buffer', () => {
    const messages = new FrameMessages();
    const frame = new Frame(jpeg, 7, 1234.5);
    const message = messages.messageOf('front', frame, false);
    assert.deepEqual([...message], [5, ...Buffer.from('front'), ...jpeg]);
    assert.equal(messages.messageOf('front', frame, false), message, 'the same buffer');
    const { camera, payload } = decodeFrame(message);
    assert.equal(camera, 'front');
    assert.deepEqual([...payload], [...jpeg]);
  });

  it('builds the extended layout on first use, once, with sequence and time', () => {
    const messages = new FrameMessages();
    const frame = new Frame(jpeg, 7, 1234.5);
    const extended = messages.messageOf('front', frame, true);
    assert.equal(messages.messageOf('front', frame, true), extended);
    const decoded = decodeExtendedFrame(extended);
    assert.deepEqual([decoded.camera, decoded.seq, decoded.sentAt], ['front', 7, 1234.5]);
    assert.deepEqual([...decoded.payload], [...jpeg]);
  });

  it('builds a new message for each new frame of a camera', () => {
    const messages = new FrameMessages();
    const first = messages.messageOf('a', new Frame(jpeg, 1, 0), false);
    const second = messages.messageOf('a', new Frame(jpeg, 2, 0), false);
    assert.notEqual(first, second);
    assert.deepEqual(first, second, 'same bytes: same camera, same JPEG');
  });
});
