/**
 * Password hashes with scrypt (node:crypto): `scrypt$N$r$p$<salt>$<hash>`, salt and hash in
 * base64url. Verification is constant-time, never throws on a malformed hash, and runs off the
 * event loop (one check costs ~60 ms of CPU: on the main thread it would stall every viewer).
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{16,})$/;

/** Hashes `password` with a fresh random salt. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `hash` has the shape hashPassword writes (checked at config load). */
export function isPasswordHash(hash: string): boolean {
  const match = FORMAT.exec(hash);
  if (!match) return false;
  const [n, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Bounds keep a hostile config from making every login cost gigabytes.
  return n >= 1024 && n <= 1 << 20 && (n & (n - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

/** Checks `password` against a hash from hashPassword, in constant time, in libuv's pool. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const match = FORMAT.exec(hash);
  if (!match || !isPasswordHash(hash)) return false;
  const [, n, r, p, salt, expected] = match;
  const want = Buffer.from(expected ?? '', 'base64url');
  const got = await new Promise<Buffer>((resolve, reject) => {
    const options = {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: 256 * Number(n) * Number(r) + 1024 * 1024,
    };
    scrypt(password, Buffer.from(salt ?? '', 'base64url'), want.length, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
  return timingSafeEqual(got, want);
}

/**
 * Runs password checks at most `concurrency` at a time (each takes a core for ~60 ms), with at
 * most `maxWaiting` queued behind them; past that a check is refused at once rather than queued
 * without end.
 */
export class PasswordChecker {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly concurrency: number;
  private readonly maxWaiting: number;

  constructor(options: { concurrency: number; maxWaiting: number }) {
    this.concurrency = options.concurrency;
    this.maxWaiting = options.maxWaiting;
  }

  /** The check's result, or undefined when too many checks are waiting already. */
  check(password: string, hash: string): Promise<boolean> | undefined {
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting)
      return undefined;
    return this.turn().then(async () => {
      try {
        return await verifyPassword(password, hash);
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    });
  }

  private turn(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve();
      }),
    );
  }
}
