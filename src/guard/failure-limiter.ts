/**
 * Failed sign-ins per client address (passwords and bearer tokens alike): past `maxFailures`
 * in a window the address is refused until the window ends. An attempt is charged as a
 * failure when it starts and refunded when it succeeds, so a burst of concurrent guesses counts
 * in full before any of them is checked, and a successful sign-in costs nothing.
 */
import { PressureTable } from './pressure-table.js';

export interface FailureLimiterOptions {
  maxFailures: number;
  windowMs: number;
  /** Keys tracked at once; see PressureTable for who is evicted. */
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  since: number;
  failures: number;
}

export class FailureLimiter {
  private readonly options: FailureLimiterOptions;
  private readonly table: PressureTable<Entry>;
  private readonly now: () => number;

  constructor(options: FailureLimiterOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.table = new PressureTable(options.maxEntries, (entry) => this.isLimited(entry));
  }

  /** Milliseconds until `key` may try again; 0 when it may try now. */
  retryAfterMs(key: string): number {
    const entry = this.current(key);
    return entry && this.isLimited(entry) ? entry.since + this.options.windowMs - this.now() : 0;
  }

  /** Counts one attempt of `key` as failed (refund it once it succeeds). */
  charge(key: string): void {
    const entry = this.current(key) ?? { since: this.now(), failures: 0 };
    entry.failures++;
    this.table.set(key, entry);
  }

  /** Takes back the charge of an attempt that succeeded. */
  refund(key: string): void {
    const entry = this.current(key);
    if (!entry) return;
    entry.failures = Math.max(0, entry.failures - 1);
    this.table.set(key, entry);
  }

  get size(): number {
    return this.table.size;
  }

  private isLimited(entry: Entry): boolean {
    return entry.failures >= this.options.maxFailures;
  }

  /** The entry of `key` while its window lasts. */
  private current(key: string): Entry | undefined {
    const entry = this.table.get(key);
    if (entry && this.now() - entry.since >= this.options.windowMs) {
      this.table.delete(key);
      return undefined;
    }
    return entry;
  }
}
