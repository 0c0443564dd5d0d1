/**
 * Who is asking: a login-session cookie (browsers), `Authorization: Bearer <token>` (scripts),
 * or on the WebSocket upgrade a `camplex.token.<token>` subprotocol (browsers cannot set
 * headers there). Tokens never ride in the query string. With no users and no tokens
 * configured, access is open (only allowed on loopback, see config/load.ts).
 *
 * Guessing is bounded three ways: failed sign-ins (passwords and tokens) per client address,
 * a growing delay per account (its owner is exempt on a browser that signed in before), and
 * password checks run off the event loop a few at a time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AccountThrottle } from '../guard/account-throttle.js';
import type { FailureLimiter } from '../guard/failure-limiter.js';
import type { LoginSession, LoginSessions } from './login-sessions.js';
import { hashPassword, type PasswordChecker } from './password.js';
import type { Scope } from './scope.js';

/** Prefix of the subprotocol that carries a bearer token on the WebSocket upgrade. */
const TOKEN_SUBPROTOCOL_PREFIX = 'camplex.token.';
/** A trusted-device cookie lasts this long (it also ends when camplex restarts). */
const DEVICE_MS = 365 * 24 * 3600_000;

export interface Principal {
  readonly user: string;
  readonly via: 'open' | 'session' | 'token';
  /** The login session's token, when authenticated by cookie (logout closes its sockets). */
  readonly login?: string;
  /** The cameras it may watch, for a scoped user or token (else every camera). */
  readonly cameras?: ReadonlySet<string>;
  /** May move the PTZ cameras it may watch (absent: may not). */
  readonly ptz?: boolean;
  /** For a token: the SHA-256 (hex) of the token it showed, to tell later whether it still counts. */
  readonly tokenDigest?: string;
}

export interface AuthenticateOptions {
  /** HTTP Basic with a token as the password counts (the camera image paths). */
  basic?: boolean;
  /**
   * A WebSocket upgrade: a `camplex.token.*` subprotocol counts (nowhere else), and the session
   * cookie only when the page is camplex's own (`ownOrigin`).
   */
  upgrade?: { ownOrigin: boolean };
}

/**
 * Who asks while access is open (no users, no tokens). Open access is for loopback, the owner's
 * own machine, so it may move cameras; `--no-auth` on a network address gets OPEN_PRINCIPAL
 * without PTZ (see `openMayMove`).
 */
export const OPEN_PRINCIPAL: Principal = { user: 'anonymous', via: 'open', ptz: true };

/** What a principal is after a change (reload, sign-out): itself, narrowed, or gone and why. */
export type Recheck = Principal | { readonly revoked: string };

/** Why a request was not authenticated: 401, or 429 while its address is limited. */
export interface Denial {
  readonly status: 401 | 429;
  readonly retryAfterMs?: number;
}

export type LoginOutcome =
  | { readonly kind: 'ok'; readonly session: LoginSession; readonly device: string }
  | { readonly kind: 'wrong' }
  /** The client's address failed too often: wait. */
  | { readonly kind: 'address-limited'; readonly retryAfterMs: number }
  /** The account is being guessed at: its checks are spaced out, and this one would wait too long. */
  | { readonly kind: 'account-slowed'; readonly retryAfterMs: number }
  /** Too many password checks are queued already. */
  | { readonly kind: 'busy' };

/** What each configured user and token may do, by name. */
export interface Scopes {
  readonly users: ReadonlyMap<string, Scope>;
  readonly tokens: ReadonlyMap<string, Scope>;
}

export interface AccessOptions {
  /** user name -> scrypt hash */
  users: ReadonlyMap<string, string>;
  /** token name -> token */
  tokens: ReadonlyMap<string, string>;
  /** What each user and token may do; one not listed watches every camera and moves none. */
  scopes?: Scopes;
  /** Whether open access may move cameras (only when it is loopback's; default true). */
  openMayMove?: boolean;
  logins: LoginSessions;
  /** Failed sign-ins per client address key. */
  failures: FailureLimiter;
  accounts: AccountThrottle;
  passwords: PasswordChecker;
  /** Under TLS: `__Host-` cookie names (Secure, Path=/, no Domain: no subdomain can set them). */
  secureCookies: boolean;
  /** For tests: waits before a throttled account's check. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

// Compared against when the user does not exist, so a login costs the same either way.
const DUMMY_HASH = hashPassword('camplex-timing-equaliser');

export class Access {
  readonly logins: LoginSessions;
  /** Cookie names, `__Host-` prefixed under TLS. */
  readonly sessionCookie: string;
  readonly deviceCookie: string;
  private options: AccessOptions;
  private tokenDigests: Array<{ name: string; digest: Buffer }>;
  /** Signs trusted-device cookies; new at every start, so a restart forgets every device. */
  private readonly deviceKey = randomBytes(32);
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(options: AccessOptions) {
    this.options = options;
    this.logins = options.logins;
    this.logins.knows = (user) => this.options.users.has(user);
    const prefix = options.secureCookies ? '__Host-' : '';
    this.sessionCookie = `${prefix}camplex_session`;
    this.deviceCookie = `${prefix}camplex_device`;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
    this.tokenDigests = [...options.tokens].map(([name, token]) => ({
      name,
      digest: sha256(token),
    }));
  }

  /**
   * Users and tokens of a reloaded config, from now on. A removed user's sessions and those of
   * a user whose password changed end at once, and a removed or changed token stops working;
   * `recheck` then tells every open socket and stream what became of its principal (narrowed
   * or widened to its new scope).
   */
  setCredentials(
    users: ReadonlyMap<string, string>,
    tokens: ReadonlyMap<string, string>,
    scopes: Scopes,
  ): void {
    for (const [user, hash] of this.options.users) {
      if (users.get(user) !== hash) this.logins.endUser(user);
    }
    this.options = { ...this.options, users, tokens, scopes };
    this.tokenDigests = [...tokens].map(([name, token]) => ({ name, digest: sha256(token) }));
  }

  /** What `principal`, authenticated earlier, is now (see Recheck). */
  recheck(principal: Principal): Recheck {
    switch (principal.via) {
      case 'open':
        return this.required ? { revoked: 'sign-in is required now' } : this.openPrincipal;
      case 'session': {
        if (!this.options.users.has(principal.user)) return { revoked: 'user removed' };
        const live = principal.login !== undefined && this.sessionOf(principal.login);
        return live || { revoked: 'session ended' };
      }
      case 'token': {
        const digest = Buffer.from(principal.tokenDigest ?? '', 'hex');
        const name = digest.length === 32 ? this.tokenName(digest) : undefined;
        return name === undefined
          ? { revoked: 'token removed or changed' }
          : this.tokenPrincipal(name, digest);
      }
    }
  }

  /** Whether anyone must authenticate at all. */
  get required(): boolean {
    return this.options.users.size > 0 || this.tokenDigests.length > 0;
  }

  /** Whether a login page makes sense (there are users with passwords). */
  get hasUsers(): boolean {
    return this.options.users.size > 0;
  }

  /**
   * The principal behind `req` (with its parsed `cookies`), or why not. `clientKey` is its
   * address key: a wrong token counts as a failure of that address, and a limited address gets
   * 429 for tokens unchecked.
   */
  authenticate(
    req: IncomingMessage,
    clientKey: string,
    cookies: Readonly<Record<string, string | undefined>>,
    options: AuthenticateOptions = {},
  ): Principal | Denial {
    if (!this.required) return this.openPrincipal;
    const bearer = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(
      req.headers.authorization ?? '',
    )?.[1];
    // A token shown is what the client means, so it beats a cookie the browser adds by itself
    // (an embedding page's limited token must not turn into its visitor's full sign-in).
    const token =
      bearer ??
      (options.basic ? tokenFromBasic(req.headers.authorization) : undefined) ??
      (options.upgrade ? tokenFromSubprotocol(req.headers['sec-websocket-protocol']) : undefined);
    if (token === undefined) {
      // Browsers send cookies on upgrades from any same-site page: only camplex's own count.
      const cookie = options.upgrade?.ownOrigin === false ? undefined : cookies[this.sessionCookie];
      return (cookie !== undefined && this.sessionOf(cookie)) || { status: 401 };
    }
    const retryAfterMs = this.options.failures.retryAfterMs(clientKey);
    if (retryAfterMs > 0) return { status: 429, retryAfterMs };
    const digest = sha256(token);
    const name = this.tokenName(digest);
    if (name === undefined) {
      this.options.failures.charge(clientKey);
      return { status: 401 };
    }
    return this.tokenPrincipal(name, digest);
  }

  /** Who asks while access is open. */
  private get openPrincipal(): Principal {
    return this.options.openMayMove === false ? { ...OPEN_PRINCIPAL, ptz: false } : OPEN_PRINCIPAL;
  }

  /**
   * The principal of login session `token`, if it is live and its user is one the config has
   * (a session adopted from a node that had not reloaded yet is no session), scoped as the
   * config says now. A user the scopes do not list (a bare hash) watches and moves everything.
   */
  private sessionOf(token: string): Principal | undefined {
    const session = this.logins.get(token);
    if (!session || !this.options.users.has(session.user)) return undefined;
    const scope = this.options.scopes?.users.get(session.user) ?? { ptz: true };
    return withScope({ user: session.user, via: 'session', login: session.token }, scope);
  }

  private tokenPrincipal(name: string, digest: Buffer): Principal {
    const scope = this.options.scopes?.tokens.get(name) ?? { ptz: false };
    return withScope({ user: name, via: 'token', tokenDigest: digest.toString('hex') }, scope);
  }

  /**
   * Checks a user name and password from `clientKey`; starts a session when they match. A
   * `device` cookie from an earlier sign-in of this user skips the account's delay.
   */
  async login(
    user: string,
    password: string,
    clientKey: string,
    device: string | undefined,
  ): Promise<LoginOutcome> {
    const { failures, accounts, passwords } = this.options;
    const addressWait = failures.retryAfterMs(clientKey);
    if (addressWait > 0) return { kind: 'address-limited', retryAfterMs: addressWait };
    // Charged before anything waits, so a burst of concurrent guesses counts at once.
    failures.charge(clientKey);
    const trusted = this.isTrustedDevice(device, user);
    if (!trusted) {
      const turn = accounts.reserve(user);
      if ('refusedForMs' in turn)
        return { kind: 'account-slowed', retryAfterMs: turn.refusedForMs };
      if (turn.waitMs > 0) await this.sleep(turn.waitMs);
    }
    const hash = this.options.users.get(user);
    const checking = passwords.check(password, hash ?? DUMMY_HASH);
    if (!checking) {
      // camplex is busy: not the client's failure
      failures.refund(clientKey);
      if (!trusted) accounts.succeeded(user);
      return { kind: 'busy' };
    }
    if (!((await checking) && hash !== undefined)) return { kind: 'wrong' };
    // A reload may have removed the user or changed the password while the check ran.
    if (this.options.users.get(user) !== hash) return { kind: 'wrong' };
    failures.refund(clientKey);
    if (!trusted) accounts.succeeded(user);
    return { kind: 'ok', session: this.logins.create(user), device: this.issueDevice(user) };
  }

  /** A trusted-device cookie value for `user`: `<user>.<expiry>.<signature>`, base64url parts. */
  private issueDevice(user: string): string {
    const body = `${Buffer.from(user).toString('base64url')}.${this.now() + DEVICE_MS}`;
    return `${body}.${this.sign(`${body}.${this.passwordOf(user)}`)}`;
  }

  /**
   * What a trusted-device cookie is signed with besides its body: the user's password hash now,
   * so a password change or removal (or a new user of the same name) ends the exemption.
   */
  private passwordOf(user: string): string {
    return this.options.users.get(user) ?? '';
  }

  private isTrustedDevice(cookie: string | undefined, user: string): boolean {
    const parts = cookie?.split('.');
    if (parts?.length !== 3) return false;
    const [name = '', expiry = '', signature = ''] = parts;
    const want = Buffer.from(this.sign(`${name}.${expiry}.${this.passwordOf(user)}`));
    const got = Buffer.from(signature);
    return (
      got.length === want.length &&
      timingSafeEqual(got, want) &&
      Number(expiry) > this.now() &&
      Buffer.from(name, 'base64url').toString() === user
    );
  }

  private sign(text: string): string {
    return createHmac('sha256', this.deviceKey).update(text).digest('base64url');
  }

  private tokenName(digest: Buffer): string | undefined {
    let found: string | undefined;
    // Compare with every token, without stopping early, in constant time each.
    for (const entry of this.tokenDigests) {
      if (timingSafeEqual(entry.digest, digest)) found ??= entry.name;
    }
    return found;
  }
}

function withScope(principal: Principal, scope: Scope): Principal {
  return {
    ...principal,
    ...(scope.cameras ? { cameras: new Set(scope.cameras) } : {}),
    ...(scope.ptz ? { ptz: true } : {}),
  };
}

/** True when `result` of authenticate is a refusal. */
export function isDenial(result: Principal | Denial): result is Denial {
  return 'status' in result;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * The token in HTTP Basic credentials, as the password (any user name): what Home Assistant's
 * MJPEG and generic cameras and most NVRs can send, since they cannot set other headers. Only
 * asked for on the camera image paths (see http/app.ts).
 */
function tokenFromBasic(header: string | undefined): string | undefined {
  const encoded = /^Basic ([A-Za-z0-9+/=]{1,1100})$/.exec(header ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * The token of a `camplex.token.<token>` subprotocol. A subprotocol is an RFC 7230 token, which
 * cannot hold `/` or `=` (Chromium throws on them): clients percent-encode
 * the token (`encodeURIComponent`); `%` never occurs in a token, so decoding is unambiguous and
 * a token without such characters is sent as it is.
 */
function tokenFromSubprotocol(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const protocol of header.split(',')) {
    const name = protocol.trim();
    if (!name.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) continue;
    try {
      return decodeURIComponent(name.slice(TOKEN_SUBPROTOCOL_PREFIX.length));
    } catch {
      return undefined; // malformed percent-encoding: no token (401)
    }
  }
  return undefined;
}
