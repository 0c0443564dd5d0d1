/**
 * Login sessions (a browser signed in with a password): random 256-bit tokens with an expiry,
 * kept in memory by their SHA-256 (so what is kept, or shared with other nodes of a cluster,
 * cannot be used as a cookie). A bounded store: past its limit the oldest is dropped, so a login
 * flood cannot grow memory. In a cluster, `shared` tells the other nodes of each session started
 * or ended here, and `adopt` / `forget` take theirs in.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface LoginSession {
  readonly token: string;
  readonly user: string;
  readonly expiresAt: number;
}

/** A session as it is kept and shared: by the digest of its token. */
export interface StoredSession {
  readonly digest: string;
  readonly user: string;
  readonly expiresAt: number;
}

export interface SessionSharing {
  started(session: StoredSession): void;
  ended(digest: string): void;
}

export class LoginSessions {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  /** Set by a cluster: told of sessions started and ended here. */
  shared: SessionSharing | undefined;
  /** Told of every session another node ended (see forget). */
  onForgotten: ((digest: string) => void) | undefined;

  constructor(options: { ttlMs: number; maxSessions: number; now?: () => number }) {
    this.ttlMs = options.ttlMs;
    this.maxSessions = options.maxSessions;
    this.now = options.now ?? Date.now;
  }

  /** Starts a session for `user` and returns it (its token goes into the cookie). */
  create(user: string): LoginSession {
    const token = randomBytes(32).toString('base64url');
    const stored = { digest: digestOf(token), user, expiresAt: this.now() + this.ttlMs };
    this.keep(stored);
    this.shared?.started(stored);
    return { token, user, expiresAt: stored.expiresAt };
  }

  /** The live session for `token`; an expired one is forgotten and not returned. */
  get(token: string): LoginSession | undefined {
    const digest = digestOf(token);
    const session = this.sessions.get(digest);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(digest);
      return undefined;
    }
    return { token, user: session.user, expiresAt: session.expiresAt };
  }

  delete(token: string): void {
    const digest = digestOf(token);
    if (this.sessions.delete(digest)) this.shared?.ended(digest);
  }

  /** Ends every session of `user` (removed, or its password changed). */
  endUser(user: string): void {
    for (const [digest, session] of this.sessions) {
      if (session.user !== user) continue;
      this.sessions.delete(digest);
      this.shared?.ended(digest);
    }
  }

  /**
   * Keeps a session started on another node, as the bus tells it: never longer than a session
   * lasts from now, only with a digest's shape, and never at the cost of a live session (a full
   * store takes no more from the bus, so a flood of writes cannot evict real sign-ins). False
   * when it was not taken.
   */
  adopt(session: StoredSession): boolean {
    if (!DIGEST.test(session.digest) || session.expiresAt <= this.now()) return false;
    if (this.sessions.size >= this.maxSessions && !this.sessions.has(session.digest)) return false;
    const expiresAt = Math.min(session.expiresAt, this.now() + this.ttlMs);
    this.sessions.set(session.digest, { ...session, expiresAt });
    return true;
  }

  /** Keeps a session started here; past the limit the oldest goes. */
  private keep(session: StoredSession): void {
    if (this.sessions.size >= this.maxSessions && !this.sessions.has(session.digest)) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(session.digest, session);
  }

  /** Forgets a session ended on another node, and tells `onForgotten` (its sockets here close). */
  forget(digest: string): void {
    if (this.sessions.delete(digest)) this.onForgotten?.(digest);
  }

  /** Whether login token `token` is the session with `digest`. */
  static isSession(token: string, digest: string): boolean {
    return digestOf(token) === digest;
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** What a session's digest looks like: SHA-256, hex. */
const DIGEST = /^[0-9a-f]{64}$/;

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
