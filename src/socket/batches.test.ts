import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { Batches } from './batches.js';

describe('Batches', () => {
  const socket = (log: string[], name: string) => ({ sendBatch: () => log.push(name) });

  it('flushes every waiting socket on one timer, at the first deadline', () => {
    const clock = new FakeClock(0);
    const batches = new Batches(clock);
    const sent: string[] = [];
    batches.add(socket(sent, 'a'), 8);
    clock.advance(3);
    batches.add(socket(sent, 'b'), 8);
    clock.advance(4);
    assert.deepEqual(sent, []);
    clock.advance(1);
    assert.deepEqual(sent, ['a', 'b'], 'b goes with a, 5 ms into its 8');
    clock.advance(20);
    assert.deepEqual(sent, ['a', 'b'], 'once each');
  });

  it('forgets a socket that sent its batch itself, and its timer when none is left', () => {
    const clock = new FakeClock(0);
    const batches = new Batches(clock);
    const sent: string[] = [];
    const a = socket(sent, 'a');
    batches.add(a, 8);
    batches.remove(a);
    clock.advance(10);
    assert.deepEqual(sent, []);
    batches.add(socket(sent, 'b'), 2);
    clock.advance(2);
    assert.deepEqual(sent, ['b'], 'a new timer for the next batch');
  });
});
