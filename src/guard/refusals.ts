/**
 * Counts every refusal (a limit, an access check, a malformed request) for /metrics, and logs
 * it at a bounded rate: a client that repeats one mistake a million times writes a few lines a
 * second, each saying how many were left out, and every string it supplied is clipped.
 */

import type { Log } from '../common/log.js';
import { clip } from '../common/text.js';

export type RefusalKind =
  | 'message-size'
  | 'binary-message'
  | 'invalid-utf8'
  | 'message-rate'
  | 'cameras-per-command'
  | 'bad-message'
  | 'sockets-per-ip'
  | 'sockets-total'
  | 'slow-viewer'
  | 'login-rate'
  | 'auth-busy'
  | 'account-slowed'
  | 'form-size'
  | 'unauthenticated'
  | 'origin'
  | 'host'
  | 'bad-request'
  | 'aborted'
  | 'bad-upgrade'
  | 'not-found'
  | 'method';

/** Longest client-supplied string a log line carries; the rest becomes "...". */
export const MAX_LOGGED_TEXT = 200;
/** Lines of one kind logged back to back before the rate limit applies. */
const BURST_LINES = 20;
/** Sustained lines per second of one kind. */
const LINES_PER_SECOND = 1;

interface Bucket {
  tokens: number;
  refilledAt: number;
  /** Refusals counted but not logged since the last line of this kind. */
  suppressed: number;
}

export class Refusals {
  private readonly counts = new Map<RefusalKind, number>();
  private readonly buckets = new Map<RefusalKind, Bucket>();
  private readonly log: Log;
  private readonly now: () => number;

  constructor(log: Log, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /** Records one refusal; logs it (at `warn`, with the running count) unless over the rate. */
  hit(kind: RefusalKind, message: string, details: Record<string, unknown> = {}): void {
    const count = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, count);
    const bucket = this.take(kind);
    if (!bucket) return;
    const suppressed = bucket.suppressed;
    bucket.suppressed = 0;
    this.log.warn(
      { limit: kind, count, ...(suppressed > 0 ? { suppressed } : {}), ...clipValues(details) },
      clip(message, MAX_LOGGED_TEXT),
    );
  }

  entries(): IterableIterator<[RefusalKind, number]> {
    return this.counts.entries();
  }

  /** A token of `kind`'s bucket, or undefined (and one more suppressed) when it is empty. */
  private take(kind: RefusalKind): Bucket | undefined {
    const now = this.now();
    let bucket = this.buckets.get(kind);
    if (!bucket) {
      bucket = { tokens: BURST_LINES, refilledAt: now, suppressed: 0 };
      this.buckets.set(kind, bucket);
    }
    const earned = ((now - bucket.refilledAt) / 1000) * LINES_PER_SECOND;
    bucket.tokens = Math.min(BURST_LINES, bucket.tokens + earned);
    bucket.refilledAt = now;
    if (bucket.tokens < 1) {
      bucket.suppressed++;
      return undefined;
    }
    bucket.tokens--;
    return bucket;
  }
}

function clipValue(value: unknown): unknown {
  return typeof value === 'string' ? clip(value, MAX_LOGGED_TEXT) : value;
}

function clipValues(details: Record<string, unknown>): Record<string, unknown> {
  const clipped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    clipped[key] = Array.isArray(value) ? value.slice(0, 4).map(clipValue) : clipValue(value);
  }
  return clipped;
}
