import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountThrottle } from './account-throttle.js';
import { FailureLimiter } from './failure-limiter.js';
import { PressureTable } from './pressure-table.js';

describe('FailureLimiter', () => {
  function limiter(clock: { now: number }, maxEntries = 100) {
    return new FailureLimiter({
      maxFailures: 3,
      windowMs: 60_000,
      maxEntries,
      now: () => clock.now,
    });
  }

  it('limits a key after maxFailures in its window, until the window ends', () => {
    const clock = { now: 0 };
    const failures = limiter(clock);
    for (let i = 0; i < 3; i++) {
      assert.equal(failures.retryAfterMs('a'), 0);
      failures.charge('a');
    }
    clock.now = 10_000;
    assert.equal(failures.retryAfterMs('a'), 50_000);
    assert.equal(failures.retryAfterMs('b'), 0, 'other keys are not limited');
    clock.now = 60_000;
    assert.equal(failures.retryAfterMs('a'), 0);
  });

  it('takes back the charge of a success', () => {
    const clock = { now: 0 };
    const failures = limiter(clock);
    for (let i = 0; i < 10; i++) {
      failures.charge('a');
      failures.refund('a');
    }
    assert.equal(failures.retryAfterMs('a'), 0);
  });

  it('keeps a limited key through 10,000 cheap keys that fill the table', () => {
    const clock = { now: 0 };
    const failures = limiter(clock, 1000);
    for (let i = 0; i < 3; i++) failures.charge('attacker');
    for (let i = 0; i < 10_002; i++) failures.charge(`fresh-${i}`);
    assert.ok(failures.size <= 1000);
    assert.ok(failures.retryAfterMs('attacker') > 0, 'the limited key survived the pressure');
  });
});

describe('PressureTable', () => {
  it('evicts the oldest harmless entry first, a limited one only when nothing else is left', () => {
    const table = new PressureTable<{ bad: boolean }>(3, (entry) => entry.bad);
    table.set('bad1', { bad: true });
    table.set('ok1', { bad: false });
    table.set('ok2', { bad: false });
    table.set('ok3', { bad: false });
    assert.equal(table.get('ok1'), undefined, 'the oldest harmless went');
    assert.ok(table.get('bad1'));
    table.set('bad2', { bad: true });
    table.set('bad3', { bad: true });
    assert.equal(table.limitedCount, 3);
    table.set('bad4', { bad: true });
    assert.equal(table.get('bad1'), undefined, 'all limited: the oldest limited went');
    assert.equal(table.size, 3);
  });
});

describe('AccountThrottle', () => {
  function throttle(clock: { now: number }) {
    return new AccountThrottle({
      freeFailures: 5,
      baseDelayMs: 1000,
      maxDelayMs: 16_000,
      maxWaitMs: 20_000,
      forgetAfterMs: 900_000,
      maxEntries: 100,
      now: () => clock.now,
    });
  }

  it('doubles the delay after the free failures, up to its cap', () => {
    const accounts = throttle({ now: 0 });
    assert.deepEqual(
      [4, 5, 6, 7, 8, 9, 10, 40].map((n) => accounts.delayAfter(n)),
      [0, 1000, 2000, 4000, 8000, 16_000, 16_000, 16_000],
    );
  });

  it('spaces the checks of one account whoever sends them, a concurrent burst too', () => {
    const clock = { now: 0 };
    const accounts = throttle(clock);
    // Ten attempts at the same instant: five free, then 1, 2, 4, 8 s apart, then refused.
    const turns = Array.from({ length: 12 }, () => accounts.reserve('alice'));
    assert.deepEqual(turns, [
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 1000 },
      { waitMs: 3000 },
      { waitMs: 7000 },
      { waitMs: 15_000 },
      { refusedForMs: 31_000 },
      { refusedForMs: 31_000 },
    ]);
    assert.deepEqual(accounts.reserve('bob'), { waitMs: 0 }, 'other accounts are unaffected');
    clock.now += 900_000;
    assert.deepEqual(accounts.reserve('alice'), { waitMs: 0 }, 'forgotten after 15 minutes');
  });

  it('takes back the failure of an attempt that succeeded', () => {
    const accounts = throttle({ now: 0 });
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(accounts.reserve('alice'), { waitMs: 0 });
      accounts.succeeded('alice');
    }
  });
});
