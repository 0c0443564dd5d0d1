import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RelayedSequence } from './sequence.js';

const frame = (seq: number, key = false, from = 'a 1') => ({
  seq,
  key,
  from,
  codec: 'h264' as const,
});
const sound = (seq: number, from = 'a 1') => ({ seq, key: true, from, codec: 'aac' as const });

describe('RelayedSequence', () => {
  it('starts at a key frame and hands each frame on once, in order', () => {
    const order = new RelayedSequence();
    const taken = [frame(4), frame(5, true), frame(6), frame(6), frame(5), frame(7)].map((f) =>
      order.accept(f),
    );
    assert.deepEqual(taken, [false, true, true, false, false, true]);
  });

  it('waits for the next key frame after a gap', () => {
    const order = new RelayedSequence();
    const taken = [frame(1, true), frame(2), frame(4), frame(5), frame(6, true), frame(7)].map(
      (f) => order.accept(f),
    );
    assert.deepEqual(taken, [true, true, false, false, true, true]);
  });

  it('starts afresh for a new publisher, whose numbers may be lower', () => {
    const order = new RelayedSequence();
    assert.ok(order.accept(frame(900, true, 'a 1')));
    assert.ok(order.accept(frame(901, false, 'a 1')));
    // the owner died; the new one counts from where its own camera was
    assert.equal(order.accept(frame(40, false, 'c 7')), false, 'not a delta of another stream');
    assert.equal(order.accept(frame(41, true, 'c 7')), true);
    assert.equal(order.accept(frame(42, false, 'c 7')), true);
  });

  it('numbers sound apart: a sound frame neither ends a gap nor needs a key unit', () => {
    const order = new RelayedSequence();
    const taken = [
      frame(1, true),
      sound(1),
      frame(3),
      sound(2),
      frame(4),
      sound(2),
      frame(5, true),
    ].map((f) => order.accept(f));
    // After the gap (2 missing) the sound goes on, the pictures wait for the key unit.
    assert.deepEqual(taken, [true, true, false, true, false, false, true]);
  });
});
