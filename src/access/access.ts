/**
 * Who is asking: a login-session cookie (browsers), `Authorization: Bearer <token>` (scripts),
 * or on the WebSocket upgrade a `camplex.token.<token>` subprotocol (browsers cannot set
 * headers there). Tokens never ride in the query string. With no users and no tokens
 * configured, access is open (only allowed on loopback, see checkExposure).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hashPassword, verifyPassword } from './password.js';
import type { LoginSession, SessionStore } from './sessions.js';

export const SESSION_COOKIE = 'camplex_session';
/** Prefix of the subprotocol that carries a bearer token on the WebSocket upgrade. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'camplex.token.';

export interface Principal {
  readonly user: string;
  readonly via: 'open' | 'session' | 'token';
  /** The login session's token, when authenticated by cookie (logout closes its sockets). */
  readonly session?: string;
}

export interface AccessOptions {
  /** user name -> scrypt hash */
  users: ReadonlyMap<string, string>;
  /** token name -> token */
  tokens: ReadonlyMap<string, string>;
  sessions: SessionStore;
}

// Compared against when the user does not exist, so a login costs the same either way.
const DUMMY_HASH = hashPassword('camplex-timing-equaliser');

export class Access {
  readonly sessions: SessionStore;
  private readonly users: ReadonlyMap<string, string>;
  private readonly tokenDigests: Array<{ name: string; digest: Buffer }>;

  constructor(options: AccessOptions) {
    this.users = options.users;
    this.sessions = options.sessions;
    this.tokenDigests = [...options.tokens].map(([name, token]) => ({
      name,
      digest: sha256(token),
    }));
  }

  /** Whether anyone must authenticate at all. */
  get required(): boolean {
    return this.users.size > 0 || this.tokenDigests.length > 0;
  }

  /** Whether a login page makes sense (there are users with passwords). */
  get hasUsers(): boolean {
    return this.users.size > 0;
  }

  /** The principal behind `req`, or undefined when it is not authenticated. */
  authenticate(req: IncomingMessage): Principal | undefined {
    if (!this.required) return { user: 'anonymous', via: 'open' };
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined) {
      const session = this.sessions.get(cookie);
      if (session) return { user: session.user, via: 'session', session: session.token };
    }
    const bearer = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(
      req.headers.authorization ?? '',
    )?.[1];
    const token = bearer ?? tokenFromSubprotocol(req.headers['sec-websocket-protocol']);
    if (token !== undefined) {
      const name = this.tokenName(token);
      if (name !== undefined) return { user: name, via: 'token' };
    }
    return undefined;
  }

  /** Checks a user name and password; starts a session when they match. */
  login(user: string, password: string): LoginSession | undefined {
    const hash = this.users.get(user);
    const ok = verifyPassword(password, hash ?? DUMMY_HASH);
    return ok && hash !== undefined ? this.sessions.create(user) : undefined;
  }

  private tokenName(token: string): string | undefined {
    const digest = sha256(token);
    let found: string | undefined;
    // Compare with every token, without stopping early, in constant time each.
    for (const entry of this.tokenDigests) {
      if (timingSafeEqual(entry.digest, digest)) found ??= entry.name;
    }
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The value of cookie `name` in a Cookie header, if present once and well-formed. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

function tokenFromSubprotocol(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const protocol of header.split(',')) {
    const name = protocol.trim();
    if (name.startsWith(TOKEN_SUBPROTOCOL_PREFIX))
      return name.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  }
  return undefined;
}
