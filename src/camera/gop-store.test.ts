import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Frame, ownCopy } from './frame.js';
import { GopStore } from './gop-store.js';

const MAX_BYTES = 1 << 30;
const MAX_MS = 60_000;

/** An H.264 unit of `bytes` bytes, all `fill`, at `ms` on the stream's clock. */
function unit(seq: number, key: boolean, bytes: number, fill: number, ms = seq * 66): Frame {
  return new Frame(new Uint8Array(bytes).fill(fill), seq, ms, 'h264', key, ms * 1000, ms * 1000);
}

describe('a camera’s pictures since its key frame', () => {
  it('keeps them from the key frame on, as they came, with their numbers and times', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    store.keep(unit(1, false, 10, 1)); // before any key: not kept
    const gop = [unit(2, true, 100, 2), unit(3, false, 20, 3), unit(4, false, 30, 4)];
    for (const frame of gop) store.keep(frame);
    assert.deepEqual(
      store.frames.map((f) => [f.seq, f.key, f.pts, f.dts, f.data.length, f.data[0]]),
      gop.map((f) => [f.seq, f.key, f.pts, f.dts, f.data.length, f.data[0]]),
    );
    assert.equal(store.bytes, 150);
    store.keep(unit(5, true, 40, 5));
    assert.deepEqual(
      store.frames.map((f) => f.seq),
      [5],
    );
  });

  it('holds copies: the live frame’s buffer is not kept', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    const live = unit(1, true, 64, 7);
    store.keep(live);
    const [kept] = store.frames;
    assert.ok(kept && kept !== live && kept.data.buffer !== live.data.buffer);
    assert.deepEqual([...kept.data], [...live.data]);
    assert.equal(kept.headroom, 0, 'no one may write in front of a cached copy');
  });

  it('keeps every frame’s bytes when a GOP outgrows its buffer', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    const gop = [unit(1, true, 200_000, 1)];
    for (let seq = 2; seq <= 12; seq++) gop.push(unit(seq, false, 100_000, seq));
    for (const frame of gop) store.keep(frame);
    assert.deepEqual(
      store.frames.map((f) => f.data.every((byte) => byte === f.seq)),
      gop.map(() => true),
    );
  });

  it('empties itself past its bounds, until the next key frame', () => {
    const store = new GopStore(250, MAX_MS);
    store.keep(unit(1, true, 100, 1));
    store.keep(unit(2, false, 100, 2));
    store.keep(unit(3, false, 100, 3)); // 300 bytes > 250
    assert.deepEqual(store.frames, []);
    store.keep(unit(4, false, 10, 4));
    assert.deepEqual(store.frames, [], 'no delta without its key');
    store.keep(unit(5, true, 10, 5));
    assert.equal(store.frames.length, 1, 'a key frame starts afresh');

    const brief = new GopStore(MAX_BYTES, 1000);
    brief.keep(unit(5, true, 10, 5));
    brief.keep(unit(6, false, 10, 6, 5 * 66 + 2000)); // 2 s after its key > 1 s
    assert.deepEqual(brief.frames, []);
  });

  it('keeps a JPEG camera’s latest frame alone, as is', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    const first = new Frame(new Uint8Array([1]), 1, 0);
    const second = new Frame(new Uint8Array([2]), 2, 100);
    store.keep(first);
    store.keep(second);
    assert.deepEqual(store.frames, [second]);
    assert.equal(store.frames[0], second);
  });

  it('writes over a GOP from the next key frame on; an own copy outlives it', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    store.keep(unit(1, true, 50, 1));
    const cached = store.frames[0] as Frame;
    const copy = ownCopy(cached);
    store.keep(unit(2, true, 50, 2));
    assert.equal(cached.data[0], 2, 'the cached bytes last until the next key frame only');
    assert.deepEqual(
      [copy.seq, copy.key, copy.pts, copy.data.length, copy.data.every((byte) => byte === 1)],
      [1, true, 66_000, 50, true],
    );
  });

  it('says the memory it holds: its buffer, and the older one a growth left frames in', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    assert.equal(store.memoryBytes, 0);
    store.keep(unit(1, true, 200_000, 1));
    assert.equal(store.memoryBytes, 256 * 1024, 'the first buffer');
    store.keep(unit(2, false, 100_000, 2)); // does not fit: a buffer twice as big
    assert.equal(store.memoryBytes, 256 * 1024 + 512 * 1024, 'the key frame stays in the first');
    store.keep(unit(3, true, 200_000, 3));
    assert.equal(store.memoryBytes, 512 * 1024, 'the next GOP in the larger one alone');
    assert.ok(store.memoryBytes >= store.bytes);
    store.clear();
    assert.equal(store.memoryBytes, 0);

    const jpeg = new GopStore(MAX_BYTES, MAX_MS);
    const read = new Uint8Array(65_536); // a pipe read other frames are views of too
    jpeg.keep(new Frame(read.subarray(100, 200), 1, 0));
    assert.equal(jpeg.memoryBytes, 100, 'a JPEG frame counts its own bytes, not the read');
  });

  it('forgets its frames when cleared', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    store.keep(unit(1, true, 50, 1));
    store.clear();
    assert.deepEqual([store.frames, store.bytes], [[], 0]);
  });
});

describe('the buffer a camera’s pictures are copied into', () => {
  it('is written over from each key frame while GOPs stay alike', () => {
    const store = new GopStore(MAX_BYTES, MAX_MS);
    store.keep(unit(1, true, 1000, 1));
    store.keep(unit(2, false, 1000, 2));
    const first = (store.frames[0] as Frame).data.buffer;
    store.keep(unit(3, true, 1000, 3));
    assert.equal((store.frames[0] as Frame).data.buffer, first, 'no buffer per GOP');
  });

  it('goes when GOPs shrink to under a quarter of it, and never outgrows the bound', () => {
    const maxBytes = 3_000_000;
    const store = new GopStore(maxBytes, MAX_MS);
    store.keep(unit(1, true, 1_000_000, 1));
    store.keep(unit(2, false, 1_000_000, 2));
    const big = (store.frames[1] as Frame).data.buffer;
    assert.ok(big.byteLength <= maxBytes, `${big.byteLength} bytes, bound ${maxBytes}`);
    store.keep(unit(3, true, 1000, 3)); // a 2 MB buffer for a 2 MB GOP: kept
    assert.equal((store.frames[0] as Frame).data.buffer, big);
    store.keep(unit(4, true, 1000, 4)); // for a 1 KB GOP: a new one
    assert.notEqual((store.frames[0] as Frame).data.buffer, big);
    store.keep(unit(5, true, 4_000_000, 5));
    assert.deepEqual(store.frames, [], 'a key frame past the bound is not kept either');
  });
});
