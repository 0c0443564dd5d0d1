import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headers, type Msg } from '@nats-io/transport-node';
import { Frame } from '../camera/frame.js';
import { equal } from '../common/bytes.js';
import {
  CacheStream,
  framesOf,
  MAX_PIECES,
  partOf,
  piecesOf,
  respondWithFrames,
  UnitAssembler,
} from './bus-format.js';

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

/** The replies' frames as the asking node reads them (cluster.ts's `cached`). */
const readBack = (replies: Msg[]) => {
  const stream = new CacheStream(1 << 30);
  for (const reply of replies) if (reply.data.length === 0 || !stream.take(reply)) break;
  return stream.frames();
};

/** A relayed message as the receiving node gets it. */
function relayed(data: Uint8Array, fields: Record<string, string>): Msg {
  const h = headers();
  for (const [name, value] of Object.entries({
    codec: 'h264',
    seq: '1',
    pts: '0',
    from: 'n1 1',
    ...fields,
  })) {
    h.set(name, value);
  }
  return { data, headers: h } as unknown as Msg;
}

describe('the late-join cache reply', () => {
  it('goes as replies under max_payload, in order, ended by an empty one', async () => {
    const { msg, replies } = request();
    const frames = gop([3000, 1500, 1500, 1500, 1500, 1500]);
    const sent = await respondWithFrames(msg, frames, 'n1 1', 5000);
    assert.ok(replies.every((reply) => reply.data.length <= 5000 - 1024));
    assert.equal(replies.at(-1)?.data.length, 0, 'the end');
    assert.equal(sent.messages, replies.length - 1);
    assert.deepEqual(
      readBack(replies).map((frame) => [
        frame.seq,
        frame.key,
        frame.data.length,
        frame.from,
        frame.data[0],
      ]),
      frames.map((frame, i) => [frame.seq, frame.key, frame.data.length, 'n1 1', i]),
    );
  });

  it('carries a unit larger than one message across several', async () => {
    const { msg, replies } = request();
    const frames = gop([1000, 12_000, 1000]);
    await respondWithFrames(msg, frames, 'n1 1', 5000);
    assert.ok(replies.length > 4, `${replies.length} replies`);
    assert.ok(replies.every((reply) => reply.data.length <= 5000 - 1024));
    const back = readBack(replies);
    assert.deepEqual(
      back.map((frame) => frame.data.length),
      [1000, 12_000, 1000],
    );
    assert.ok(
      back[1]?.data.every((byte) => byte === 1),
      'the large unit whole and unmixed',
    );
  });

  it('waits for the window between replies, and stops at one it refuses: a prefix of whole units', async () => {
    const { msg, replies } = request();
    const frames = gop([3000, 3000, 3000, 3000]);
    let allowed = 2;
    const sent = await respondWithFrames(msg, frames, 'n1 1', 5000, async () => {
      await new Promise(setImmediate); // the window confirms in its own time
      return allowed-- > 0;
    });
    assert.equal(sent.cut, true);
    assert.equal(sent.messages, 2);
    // Two replies of 3976 bytes hold two whole framed units (3025 bytes each) and part of one.
    assert.equal(sent.frames, 2);
    assert.deepEqual(
      readBack(replies).map((frame) => frame.seq),
      [10, 11],
    );
    assert.equal(replies.at(-1)?.data.length, 0, 'still ended, so the asker does not wait');
  });

  it('ends the stream at a reply lost on the way, or one from another owner', async () => {
    const { msg, replies } = request();
    await respondWithFrames(msg, gop([3000, 3000, 3000, 3000]), 'n1 1', 5000);
    const lost = [...replies.slice(0, 2), ...replies.slice(3)];
    assert.deepEqual(
      readBack(lost).map((frame) => frame.seq),
      [10, 11],
      'only the units wholly before the gap: none made of bytes that do not belong together',
    );
    const other = request();
    await respondWithFrames(other.msg, gop([3000, 3000, 3000, 3000]), 'n2 7', 5000);
    const mixed = [replies[0], other.replies[1], ...replies.slice(2)] as Msg[];
    assert.deepEqual(
      readBack(mixed).map((frame) => frame.seq),
      [10],
      'a reply of another publisher, even at the right offset, ends it: the first one’s unit only',
    );
    const capped = new CacheStream(5000);
    for (const reply of replies) if (!capped.take(reply)) break;
    assert.deepEqual(
      capped.frames().map((frame) => frame.seq),
      [10],
      'no more than the asker takes',
    );
  });

  it('still goes under a tiny max_payload', async () => {
    const { msg, replies } = request();
    const frames = gop([300, 200, 100]);
    await respondWithFrames(msg, frames, 'n1 1', 100);
    assert.ok(
      replies.every((reply) => reply.data.length <= 75),
      'a quarter kept for headers',
    );
    assert.deepEqual(
      readBack(replies).map((frame) => frame.data.length),
      [300, 200, 100],
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

describe('a relayed unit in pieces', () => {
  const unit = new Uint8Array(10_000).map((_, i) => i % 251);

  it('is cut into views no larger than a message may be, and joined whole again', () => {
    const pieces = piecesOf(unit, 3000) ?? [];
    assert.deepEqual(
      pieces.map((piece) => piece.length),
      [3000, 3000, 3000, 1000],
    );
    assert.ok(
      pieces.every((piece) => piece.buffer === unit.buffer),
      'views, not copies',
    );
    const assembler = new UnitAssembler();
    const out = pieces.map((piece, i) =>
      assembler.take(relayed(piece, { seq: '7', key: '1', part: partOf(i, pieces.length) })),
    );
    assert.deepEqual(out.slice(0, 3), [undefined, undefined, undefined]);
    assert.equal(out[3]?.seq, 7);
    assert.equal(out[3]?.key, true);
    assert.ok(equal(out[3]?.data ?? new Uint8Array(0), unit));
    assert.equal(piecesOf(unit, 20_000)?.[0], unit, 'a unit that fits goes as it is');
    assert.equal(piecesOf(unit, 10_000 / (MAX_PIECES + 1)), undefined, 'past MAX_PIECES: none');
  });

  it('drops a unit whose pieces come out of turn, and goes on with the next', () => {
    const pieces = piecesOf(unit, 4000) ?? [];
    const assembler = new UnitAssembler();
    const part = (i: number, fields: Record<string, string> = {}) =>
      assembler.take(relayed(pieces[i] as Uint8Array, { seq: '1', part: partOf(i, 3), ...fields }));
    assert.equal(part(0), undefined);
    assert.equal(part(2), undefined, 'a piece missing');
    assert.equal(part(1), undefined, 'and the rest of that unit is no unit');
    assert.equal(part(0), undefined);
    assert.equal(part(1, { from: 'n2 1' }), undefined, 'another publisher between');
    assert.equal(part(2), undefined);
    assert.equal(part(0), undefined);
    assert.equal(part(1, { seq: '2' }), undefined, 'another unit between');
    for (const bad of ['3/3', '0/1', '1/999', 'x/3', '']) {
      const whole = assembler.take(relayed(new Uint8Array(5), { seq: '9', part: bad }));
      assert.equal(whole?.data.length === 5, bad === '', `part ${JSON.stringify(bad)}`);
    }
    assert.equal(part(0), undefined);
    assert.equal(part(1), undefined);
    assert.equal(part(2)?.data.length, 10_000, 'whole again');
  });

  it('joins two publishers’ pieces apart (an owner and one handing over)', () => {
    const pieces = piecesOf(unit, 4000) ?? [];
    const assembler = new UnitAssembler();
    const part = (i: number, from: string) =>
      assembler.take(relayed(pieces[i] as Uint8Array, { seq: '1', from, part: partOf(i, 3) }));
    assert.equal(part(0, 'n1 1'), undefined);
    assert.equal(part(0, 'n2 5'), undefined);
    assert.equal(part(1, 'n1 1'), undefined);
    assert.equal(part(1, 'n2 5'), undefined);
    assert.equal(part(2, 'n2 5')?.from, 'n2 5');
    assert.equal(part(2, 'n1 1')?.data.length, 10_000);
    assert.equal(part(0, 'n1 1'), undefined);
    assert.equal(part(0, 'n2 5'), undefined);
    assert.equal(part(0, 'n3 9'), undefined, 'a third publisher pushes the oldest out');
    assert.equal(part(1, 'n1 1'), undefined);
    assert.equal(part(2, 'n1 1'), undefined, 'n1’s unit was dropped');
    assert.equal(part(1, 'n2 5'), undefined);
    assert.equal(part(2, 'n2 5')?.data.length, 10_000);
  });
});
