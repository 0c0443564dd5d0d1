/**
 * Login sessions (a browser signed in with a password): random 256-bit tokens kept in memory
 * with an expiry. A bounded store: past its limit the oldest is dropped, so a login flood
 * cannot grow memory.
 */
import { randomBytes } from 'node:crypto';

export interface LoginSession {
  readonly token: string;
  readonly user: string;
  readonly expiresAt: number;
}

export class LoginSessions {
  private readonly sessions = new Map<string, LoginSession>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: { ttlMs: number; maxSessions: number; now?: () => number }) {
    this.ttlMs = options.ttlMs;
    this.maxSessions = options.maxSessions;
    this.now = options.now ?? Date.now;
  }

  /** Starts a session for `user` and returns it (its token goes into the cookie). */
  create(user: string): LoginSession {
    if (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const session = {
      token: randomBytes(32).toString('base64url'),
      user,
      expiresAt: this.now() + this.ttlMs,
    };
    this.sessions.set(session.token, session);
    return session;
  }

  /** The live session for `token`; an expired one is forgotten and not returned. */
  get(token: string): LoginSession | undefined {
    const session = this.sessions.get(token);
    if (session && session.expiresAt <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    return session;
  }

  delete(token: string): void {
    this.sessions.delete(token);
  }

  get size(): number {
    return this.sessions.size;
  }
}
