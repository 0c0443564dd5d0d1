import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { every } from './clock.js';

describe('every', () => {
  it('runs a callback every interval on the given clock until stopped, even from inside it', () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const stop = every(clock, 250, () => {
      at.push(clock.now());
      if (at.length === 3) stop();
    });
    clock.advance(2000);
    assert.deepEqual(at, [250, 500, 750]);
    assert.equal(clock.pending(), 0, 'no timer left behind');
    const outside: number[] = [];
    const stopOutside = every(clock, 100, () => outside.push(clock.now()));
    clock.advance(250);
    stopOutside();
    clock.advance(1000);
    assert.deepEqual(outside, [2100, 2200]);
  });
});
