import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headers, type Msg } from '@nats-io/transport-node';
import { Frame } from '../camera/frame.js';
import { framesOf, respondWithFrames } from './bus-format.js';

/** A request whose replies are kept, to be read back as the asking node reads them. */
function request() {
  const replies: Msg[] = [];
  const msg = {
    respond(data: Uint8Array, options?: { headers?: ReturnType<typeof headers> }) {
      replies.push({ data, headers: options?.headers } as unknown as Msg);
      return true;
    },
  } as unknown as Msg;
  return { msg, replies };
}

const gop = (sizes: number[]) =>
  sizes.map((bytes, i) => new Frame(new Uint8Array(bytes).fill(i), i + 10, 0, 'h264', i === 0));

describe('the late-join cache reply', () => {
  it('goes as replies under max_payload, in order, ended by an empty one', () => {
    const { msg, replies } = request();
    const frames = gop([3000, 1500, 1500, 1500, 1500, 1500]);
    const sent = respondWithFrames(msg, frames, 'n1 1', 5000);
    assert.ok(replies.every((reply) => reply.data.length <= 5000 - 1024));
    assert.equal(replies.at(-1)?.data.length, 0, 'the end');
    assert.equal(sent.messages, replies.length - 1);
    const back = replies.slice(0, -1).flatMap((reply) => framesOf(reply));
    assert.deepEqual(
      back.map((frame) => [frame.seq, frame.key, frame.data.length, frame.from]),
      frames.map((frame) => [frame.seq, frame.key, frame.data.length, 'n1 1']),
    );
  });

  it('stops at the first reply the window refuses: the asker gets a prefix from the key on', () => {
    const { msg, replies } = request();
    const frames = gop([3000, 3000, 3000, 3000]);
    let allowed = 2;
    const sent = respondWithFrames(msg, frames, 'n1 1', 5000, () => allowed-- > 0);
    assert.equal(sent.cut, true);
    const back = replies.slice(0, -1).flatMap((reply) => framesOf(reply));
    assert.deepEqual(
      back.map((frame) => frame.seq),
      [10, 11],
    );
    assert.equal(replies.at(-1)?.data.length, 0, 'still ended, so the asker does not wait');
  });

  it('sends none of a cache holding a unit too large for one message, only the end', () => {
    const { msg, replies } = request();
    respondWithFrames(msg, gop([1000, 9000, 1000]), 'n1 1', 5000);
    assert.deepEqual(
      replies.map((reply) => reply.data.length),
      [0],
    );
  });

  it('reads nothing from a reply that is not one of ours', () => {
    const h = headers();
    h.set('codec', 'vp9');
    assert.deepEqual(framesOf({ data: new Uint8Array(20), headers: h } as unknown as Msg), []);
    const truncated = headers();
    truncated.set('codec', 'h264');
    const body = new Uint8Array(9 + 3);
    new DataView(body.buffer).setUint32(0, 100); // says 100 bytes, has 3
    assert.deepEqual(framesOf({ data: body, headers: truncated } as unknown as Msg), []);
  });
});
