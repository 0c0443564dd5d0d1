import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomSequence } from '../../support/fake-clock.js';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';

/** Just below 1, the largest factor Math.random can give. */
const ALMOST_ONE = 1 - 2 ** -53;

describe('backoffDelay', () => {
  it('starts at half a second and doubles up to a 30 s cap', () => {
    const ceilings = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
    ceilings.forEach((ceiling, i) => {
      assert.equal(
        backoffDelay(i + 1, () => ALMOST_ONE),
        ceiling,
        `attempt ${i + 1}`,
      );
      assert.equal(
        backoffDelay(i + 1, () => 0),
        ceiling / 2,
        `attempt ${i + 1}`,
      );
    });
  });

  it('keeps every delay within [ceiling / 2, ceiling] for any jitter', () => {
    const jitters = [0, 0.1, 0.25, 0.5, 0.75, 0.999, ALMOST_ONE];
    for (let attempt = 1; attempt <= 40; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** (attempt - 1));
      for (const jitter of jitters) {
        const delay = backoffDelay(attempt, () => jitter);
        assert.ok(Number.isInteger(delay), `attempt ${attempt}: ${delay} is not whole ms`);
        assert.ok(
          delay >= ceiling / 2 && delay <= ceiling,
          `attempt ${attempt}, jitter ${jitter}: ${delay} outside [${ceiling / 2}, ${ceiling}]`,
        );
      }
    }
  });

  it('scales the ceiling by a factor from 0.5 to 1 drawn from random', () => {
    assert.equal(
      backoffDelay(3, () => 0.5),
      1500,
    );
    assert.equal(
      backoffDelay(7, () => 0.5),
      22_500,
    );
  });

  it('draws fresh jitter on every call', () => {
    const random = randomSequence(0, 0.5, 0.9);
    const delays = [1, 1, 1].map((attempt) => backoffDelay(attempt, random));
    assert.deepEqual(delays, [250, 375, 475]);
  });

  it('stays finite and capped for huge attempt numbers', () => {
    assert.equal(
      backoffDelay(1_000_000, () => ALMOST_ONE),
      DEFAULT_BACKOFF.maxMs,
    );
    assert.equal(
      backoffDelay(Number.MAX_SAFE_INTEGER, () => 0),
      DEFAULT_BACKOFF.maxMs / 2,
    );
  });

  it('treats an attempt below 1 as the first', () => {
    assert.equal(
      backoffDelay(0, () => 0),
      250,
    );
    assert.equal(
      backoffDelay(-3, () => 0),
      250,
    );
  });

  it('follows a custom policy', () => {
    const policy = { initialMs: 100, maxMs: 1000 };
    assert.equal(
      backoffDelay(1, () => 0, policy),
      50,
    );
    assert.equal(
      backoffDelay(4, () => 0, policy),
      400,
    );
    assert.equal(
      backoffDelay(5, () => 0, policy),
      500,
    );
    assert.equal(
      backoffDelay(20, () => 0.5, policy),
      750,
    );
  });
});
