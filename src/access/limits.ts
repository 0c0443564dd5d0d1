/**
 * Counts every time a limit refuses something, for the log line that says so and for /metrics.
 */
import type { Log } from '../log.js';

export type LimitName =
  | 'message-size'
  | 'binary-message'
  | 'invalid-utf8'
  | 'message-rate'
  | 'cameras-per-command'
  | 'sockets-per-ip'
  | 'sockets-total'
  | 'slow-viewer'
  | 'login-rate'
  | 'form-size'
  | 'unauthenticated'
  | 'origin'
  | 'host';

export class LimitCounter {
  private readonly counts = new Map<LimitName, number>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** Records one refusal and logs it with the running count. */
  hit(limit: LimitName, message: string, details: Record<string, unknown> = {}): void {
    const count = (this.counts.get(limit) ?? 0) + 1;
    this.counts.set(limit, count);
    this.log.warn({ limit, count, ...details }, message);
  }

  get(limit: LimitName): number {
    return this.counts.get(limit) ?? 0;
  }

  entries(): IterableIterator<[LimitName, number]> {
    return this.counts.entries();
  }
}
