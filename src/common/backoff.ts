/**
 * Retry delays, for cameras (server) and the browser's socket alike: exponential, capped, with
 * fresh jitter on every attempt.
 */

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before attempt `attempt` (1-based): initial * 2^(attempt-1), capped, then scaled by a
 * random factor in [0.5, 1) drawn anew each time so failed cameras do not retry in lockstep.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  policy = DEFAULT_BACKOFF,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(ceiling * (0.5 + random() * 0.5));
}
