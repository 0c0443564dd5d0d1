import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteQueue } from './byte-queue.js';

describe('ByteQueue', () => {
  it('hands a unit that came in one chunk back uncopied, and joins one that spans chunks', () => {
    const queue = new ByteQueue();
    const chunk = Uint8Array.of(1, 2, 3, 4);
    queue.push(chunk);
    assert.equal(queue.take(2).buffer, chunk.buffer, 'a view, not a copy');
    queue.push(Uint8Array.of(5, 6));
    assert.equal(queue.length, 4);
    assert.deepEqual([...queue.peek(3)], [3, 4, 5]);
    assert.equal(queue.byteAt(3), 6);
    assert.equal(queue.byteAt(4), -1);
    assert.deepEqual([...queue.take(4)], [3, 4, 5, 6]);
    assert.equal(queue.length, 0);
  });

  it('keeps only a copied tail, and clears', () => {
    const queue = new ByteQueue();
    queue.push(Uint8Array.of(1, 2, 3));
    queue.push(Uint8Array.of(4, 5));
    queue.keepLast(3);
    assert.deepEqual([...queue.joined()], [3, 4, 5]);
    queue.clear();
    assert.equal(queue.length, 0);
    assert.equal(queue.byteAt(0), -1);
  });
});
