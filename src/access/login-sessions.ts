/**
 * Login sessions (a browser signed in with a password): random 256-bit tokens with an expiry,
 * kept in memory by their SHA-256 (so what is kept, or shared with other nodes of a cluster,
 * cannot be used as a cookie). A bounded store, so a login flood cannot grow memory. In a
 * cluster, `shared` tells the other nodes of each session started or ended here, and `adopt` /
 * `forget` take theirs in.
 *
 * Which session goes when the store is full, in this order: an expired one; one adopted from the
 * bus for a user the config does not have (`knows`); any adopted one; the oldest started here.
 * Whatever floods the bus, a sign-in here never costs another sign-in here while the bus's
 * entries are there to give way.
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

/** A kept session, and whether it came from the bus. */
interface KeptSession extends StoredSession {
  readonly adopted: boolean;
}

export class LoginSessions {
  private readonly sessions = new Map<string, KeptSession>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  /** Set by a cluster: told of sessions started and ended here. */
  shared: SessionSharing | undefined;
  /** Told of every session another node ended (see forget). */
  onForgotten: ((digest: string) => void) | undefined;
  /** Whether the config has `user` (Access sets it); sessions of others give way first. */
  knows: (user: string) => boolean = () => true;

  constructor(options: { ttlMs: number; maxSessions: number; now?: () => number }) {
    this.ttlMs = options.ttlMs;
    this.maxSessions = options.maxSessions;
    this.now = options.now ?? Date.now;
  }

  /** Starts a session for `user` and returns it (its token goes into the cookie). */
  create(user: string): LoginSession {
    const token = randomBytes(32).toString('base64url');
    const stored = { digest: digestOf(token), user, expiresAt: this.now() + this.ttlMs };
    if (this.full(stored.digest)) this.evict(true);
    this.sessions.set(stored.digest, { ...stored, adopted: false });
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
   * lasts from now, only with a digest's shape, and in a full store only in the place of an
   * expired session or one of a user the config does not have (so a flood of writes cannot
   * evict live sign-ins). False when it was not taken.
   */
  adopt(session: StoredSession): boolean {
    if (!DIGEST.test(session.digest) || session.expiresAt <= this.now()) return false;
    if (this.full(session.digest) && !this.evict(false)) return false;
    const expiresAt = Math.min(session.expiresAt, this.now() + this.ttlMs);
    this.sessions.set(session.digest, { ...session, expiresAt, adopted: true });
    return true;
  }

  private full(digest: string): boolean {
    return this.sessions.size >= this.maxSessions && !this.sessions.has(digest);
  }

  /**
   * Frees one place, in the order the header gives; `forLocal` (a sign-in here) may also take
   * a live adopted session's place, then the oldest local one's. False when nothing gave way.
   * A scan of the store, only when it is full.
   */
  private evict(forLocal: boolean): boolean {
    const now = this.now();
    let adopted: string | undefined;
    let unknown: string | undefined;
    for (const [digest, session] of this.sessions) {
      if (session.expiresAt <= now) return this.sessions.delete(digest);
      if (!session.adopted) continue;
      adopted ??= digest;
      if (unknown === undefined && !this.knows(session.user)) unknown = digest;
    }
    const victim =
      unknown ?? (forLocal ? (adopted ?? this.sessions.keys().next().value) : undefined);
    return victim !== undefined && this.sessions.delete(victim);
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
