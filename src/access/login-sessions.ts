/**
 * Login sessions (a browser signed in with a password): random 256-bit tokens with an expiry,
 * kept in memory by their SHA-256 (so what is kept, or shared with other nodes of a cluster,
 * cannot be used as a cookie). A bounded store, so a login flood cannot grow memory. In a
 * cluster, `shared` tells the other nodes of each session started or ended here, and `adopt` /
 * `forget` take theirs in.
 *
 * Which session goes when the store is full, in this order: an expired one; one adopted from the
 * bus for a user the config did not have when it came (`knows`); any adopted one; the oldest
 * started here. Whatever floods the bus, a sign-in here never costs another sign-in here while
 * the bus's entries are there to give way.
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

/**
 * Where a kept session came from, which decides when it gives way: signed in here, taken from
 * the bus for a user this node's config has, or for one it does not have (a stranger: the bus
 * is ahead of this node's config, or someone wrote it who should not have).
 */
type Origin = 'local' | 'adopted' | 'stranger';

export class LoginSessions {
  /** One insertion-ordered store per origin: what gives way first is at the head of one. */
  private readonly stores: Record<Origin, Map<string, StoredSession>> = {
    local: new Map(),
    adopted: new Map(),
    stranger: new Map(),
  };
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
    if (this.size >= this.maxSessions) this.evict(['stranger', 'adopted', 'local']);
    this.stores.local.set(stored.digest, stored);
    this.shared?.started(stored);
    return { token, user, expiresAt: stored.expiresAt };
  }

  /** The live session for `token`; an expired one is forgotten and not returned. */
  get(token: string): LoginSession | undefined {
    const digest = digestOf(token);
    const found = this.find(digest);
    if (!found) return undefined;
    const [store, session] = found;
    if (session.expiresAt <= this.now()) {
      store.delete(digest);
      return undefined;
    }
    return { token, user: session.user, expiresAt: session.expiresAt };
  }

  delete(token: string): void {
    const digest = digestOf(token);
    if (this.remove(digest)) this.shared?.ended(digest);
  }

  /** Ends every session of `user` (removed, or its password changed). */
  endUser(user: string): void {
    for (const store of Object.values(this.stores)) {
      for (const [digest, session] of store) {
        if (session.user !== user) continue;
        store.delete(digest);
        this.shared?.ended(digest);
      }
    }
  }

  /**
   * Keeps a session started on another node, as the bus tells it: never longer than a session
   * lasts from now, only with a digest's shape, and in a full store only in the place of an
   * expired session or a stranger's (so a flood of writes cannot evict live sign-ins). A
   * session this node has already (its own sign-in, which the bus hands back) keeps its origin
   * and its user. False when it was not taken.
   */
  adopt(session: StoredSession): boolean {
    if (!DIGEST.test(session.digest) || session.expiresAt <= this.now()) return false;
    const expiresAt = Math.min(session.expiresAt, this.now() + this.ttlMs);
    const found = this.find(session.digest);
    if (found) {
      const [store, kept] = found;
      if (kept.user !== session.user) return false;
      store.set(session.digest, { ...kept, expiresAt: Math.min(kept.expiresAt, expiresAt) });
      return true;
    }
    if (this.size >= this.maxSessions && !this.evict(['stranger'])) return false;
    const origin: Origin = this.knows(session.user) ? 'adopted' : 'stranger';
    this.stores[origin].set(session.digest, { ...session, expiresAt });
    return true;
  }

  /**
   * Frees one place: an expired session at the head of any store, else the head of the first
   * of `order` that has one. Only heads are looked at (each store is in the order its sessions
   * came, so its head is the oldest): constant time, whatever the store holds. False when
   * nothing gave way.
   */
  private evict(order: readonly Origin[]): boolean {
    const now = this.now();
    for (const store of Object.values(this.stores)) {
      const head = store.values().next().value;
      if (head && head.expiresAt <= now) return store.delete(head.digest);
    }
    for (const origin of order) {
      const head = this.stores[origin].keys().next().value;
      if (head !== undefined) return this.stores[origin].delete(head);
    }
    return false;
  }

  private find(digest: string): [Map<string, StoredSession>, StoredSession] | undefined {
    for (const store of Object.values(this.stores)) {
      const session = store.get(digest);
      if (session) return [store, session];
    }
    return undefined;
  }

  private remove(digest: string): boolean {
    return Object.values(this.stores).some((store) => store.delete(digest));
  }

  /** Forgets a session ended on another node, and tells `onForgotten` (its sockets here close). */
  forget(digest: string): void {
    if (this.remove(digest)) this.onForgotten?.(digest);
  }

  /** Whether login token `token` is the session with `digest`. */
  static isSession(token: string, digest: string): boolean {
    return digestOf(token) === digest;
  }

  get size(): number {
    return this.stores.local.size + this.stores.adopted.size + this.stores.stranger.size;
  }
}

/** What a session's digest looks like: SHA-256, hex. */
const DIGEST = /^[0-9a-f]{64}$/;

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
