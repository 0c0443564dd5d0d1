/**
 * Sign-in sessions shared by every node of a cluster through the KV bucket `camplex_sessions`
 * (its ttl the session time), keyed by the SHA-256 of the session token, so NATS never holds a
 * usable cookie. What comes from the bus is adopted on LoginSessions' terms (a digest's shape,
 * at most a session from now, never at the cost of a live one), and counts only for a user the
 * node's own config has (access.ts).
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LoginSessions } from '../access/login-sessions.js';
import type { Log } from '../common/log.js';

const SESSIONS = 'camplex_sessions';
/**
 * The bucket's bounds, made with it: a value is `{"user":..,"expiresAt":..}`; a full bucket
 * refuses new writes (JetStream's discard-new, which the KV client sets), so a flood of writes
 * fails instead of pushing real sessions out. About 20,000 sessions of ~200 bytes each, twice
 * what a node keeps (server.ts). A bucket made by an older camplex keeps its own bounds (and
 * the log says so).
 */
const MAX_VALUE_BYTES = 1024;
const MAX_BUCKET_BYTES = 4 * 1024 * 1024;

interface StoredSessionValue {
  user: unknown;
  expiresAt: unknown;
}

/** Tells the other nodes of every session started or ended here, and takes theirs in. */
export async function shareSessions(
  control: NatsConnection,
  logins: LoginSessions,
  ttlMs: number,
  log: Log,
): Promise<void> {
  const kv = await new Kvm(control).create(SESSIONS, {
    ttl: ttlMs,
    history: 1,
    maxValueSize: MAX_VALUE_BYTES,
    max_bytes: MAX_BUCKET_BYTES,
  });
  const { max_bytes } = await kv.status();
  if (max_bytes < 0) {
    log.warn(
      { bucket: SESSIONS },
      'the sessions bucket has no size bound (an older camplex made it): delete it once (nats kv del camplex_sessions) so the next node makes it bounded',
    );
  }
  await followSessions(kv, logins, log);
}

/** An entry of the sessions bucket as its watch gives it. */
export interface SessionEntry {
  readonly key: string;
  readonly operation: string;
  string(): string;
}

/** The calls sessions make on their bucket (a JetStream KV, or one in memory in tests). */
export interface SessionBucket {
  put(key: string, value: string): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  watch(): Promise<AsyncIterable<SessionEntry>>;
}

/**
 * Writes every session started or ended here to `bucket`, and takes every other node's in from
 * its watch. One bad entry is skipped; nothing in the bucket stops the watch.
 */
export async function followSessions(
  bucket: SessionBucket,
  logins: LoginSessions,
  log: Log,
): Promise<void> {
  const warn = (error: unknown) =>
    log.warn({ err: (error as Error).message }, 'could not share a sign-in session');
  logins.shared = {
    started: (session) => {
      const value = JSON.stringify({ user: session.user, expiresAt: session.expiresAt });
      bucket.put(session.digest, value).catch(warn);
    },
    ended: (digest) => {
      bucket.delete(digest).catch(warn);
    },
  };
  const updates = await bucket.watch();
  (async () => {
    for await (const entry of updates) {
      try {
        take(entry, logins);
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'skipped a shared session entry');
      }
    }
  })().catch((error: unknown) => {
    log.warn({ err: (error as Error).message }, 'stopped taking in shared sessions');
  });
}

function take(entry: SessionEntry, logins: LoginSessions): void {
  if (entry.operation !== 'PUT') {
    logins.forget(entry.key);
    return;
  }
  let value: StoredSessionValue;
  try {
    value = JSON.parse(entry.string()) as StoredSessionValue;
  } catch {
    return; // not one of ours
  }
  const { user, expiresAt } = value ?? {};
  if (typeof user === 'string' && typeof expiresAt === 'number') {
    logins.adopt({ digest: entry.key, user, expiresAt });
  }
}
