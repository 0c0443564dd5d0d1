/**
 * Slows password guessing against one account from many addresses without locking its owner
 * out: after `freeFailures` failed sign-ins, checks of that account are spaced out by a delay
 * that doubles with each further failure (up to `maxDelayMs`), whoever sends them, so guesses
 * per account per hour stay few however many addresses send them. An attempt counts as failed
 * from the moment it is booked until it succeeds, so a burst of concurrent guesses is spaced
 * out too. An attempt whose turn would come later than `maxWaitMs` is refused with the time to
 * wait. The account's owner is exempt on a browser where they signed in before (the
 * trusted-device cookie, see access.ts).
 */
import { PressureTable } from './pressure-table.js';

export interface AccountThrottleOptions {
  /** Failures in a row that cost no delay. */
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest an attempt is held before its check; past it, the attempt is refused. */
  maxWaitMs: number;
  /** Failures are forgotten this long after the last one. */
  forgetAfterMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  /** When the next check of this account may run. */
  nextSlotAt: number;
}

export type Turn = { waitMs: number } | { refusedForMs: number };

export class AccountThrottle {
  private readonly options: AccountThrottleOptions;
  private readonly table: PressureTable<Entry>;
  private readonly now: () => number;

  constructor(options: AccountThrottleOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.table = new PressureTable(
      options.maxEntries,
      (entry) => entry.failures >= options.freeFailures,
    );
  }

  /**
   * Books the next check of `account`, counted as a failure until `succeeded`: how long to
   * hold the attempt, or that it is refused (and not counted).
   */
  reserve(account: string): Turn {
    const now = this.now();
    const entry = this.current(account) ?? { failures: 0, lastFailureAt: now, nextSlotAt: now };
    const slot = Math.max(now, entry.nextSlotAt);
    if (slot - now > this.options.maxWaitMs) return { refusedForMs: slot - now };
    entry.nextSlotAt = slot + this.delayAfter(entry.failures);
    entry.failures++;
    entry.lastFailureAt = now;
    this.table.set(account, entry);
    return { waitMs: slot - now };
  }

  /** Takes back the failure a booked attempt was counted as: it succeeded. */
  succeeded(account: string): void {
    const entry = this.current(account);
    if (!entry) return;
    entry.failures = Math.max(0, entry.failures - 1);
    this.table.set(account, entry);
  }

  /** The delay between checks after `failures` failures. */
  delayAfter(failures: number): number {
    const over = failures - this.options.freeFailures;
    if (over < 0) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(over, 30));
  }

  private current(account: string): Entry | undefined {
    const entry = this.table.get(account);
    if (entry && this.now() - entry.lastFailureAt >= this.options.forgetAfterMs) {
      this.table.delete(account);
      return undefined;
    }
    return entry;
  }
}
