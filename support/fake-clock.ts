/**
 * A deterministic Clock for unit tests: time moves only when the test calls `advance`, and due
 * timers run in time order (ties in the order they were scheduled).
 */
import type { Clock } from '../src/common/clock.js';

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/** Timers one `advance` may run before it decides a timer keeps rescheduling itself. */
const MAX_TIMERS_PER_ADVANCE = 10_000;

export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.time + delay, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Number of timers scheduled and not yet run or cleared. */
  pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way (including
   * timers those timers schedule) with `now()` set to its due time.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot advance by ${ms} ms`);
    const target = this.time + ms;
    for (let ran = 0; ; ran++) {
      const next = this.nextDue(target);
      if (!next) break;
      if (ran >= MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`more than ${MAX_TIMERS_PER_ADVANCE} timers in one advance: a timer loop?`);
      }
      this.timers.delete(next.id);
      this.time = next.due;
      next.callback();
    }
    this.time = target;
  }

  private nextDue(limit: number): Timer | undefined {
    let next: Timer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.due > limit) continue;
      if (!next || timer.due < next.due || (timer.due === next.due && timer.id < next.id)) {
        next = timer;
      }
    }
    return next;
  }
}

/** A stand-in for Math.random that returns `values` in turn, starting over at the end. */
export function randomSequence(...values: number[]): () => number {
  if (values.length === 0) throw new RangeError('randomSequence needs at least one value');
  for (const value of values) {
    if (!(value >= 0 && value < 1)) throw new RangeError(`${value} is not in [0, 1)`);
  }
  let index = 0;
  return () => {
    const value = values[index % values.length] as number;
    index++;
    return value;
  };
}
