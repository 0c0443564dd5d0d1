/**
 * The login page, POST /login, POST /logout and GET /api/session. A successful login sets an
 * HttpOnly, SameSite=Strict cookie (Secure under TLS); logout forgets the session and closes
 * the sockets it opened. Login attempts are limited per client address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Access, type Principal, readCookie, SESSION_COOKIE } from '../access/access.js';
import type { LimitCounter } from '../access/limits.js';
import { isAllowedOrigin, type OriginPolicy } from '../access/origin.js';
import { ErrorCodes } from '../protocol/errors.js';
import { redirect, sendError, sendHtml, sendJson } from './responses.js';

const MAX_FORM_BYTES = 4096;
/** Past this many tracked addresses the attempt table starts over, so it cannot grow. */
const MAX_TRACKED_ADDRESSES = 10_000;

export interface LoginOptions {
  access: Access;
  originPolicy: OriginPolicy;
  limits: LimitCounter;
  attemptsPerMinute: number;
  /** Called with a login session's token when it ends, to close its sockets. */
  onLogout: (sessionToken: string) => void;
  now?: () => number;
}

export function createLogin(options: LoginOptions) {
  const { access, originPolicy, limits } = options;
  const now = options.now ?? Date.now;
  const attempts = new Map<string, { since: number; count: number }>();
  const secureFlag = originPolicy.secure ? '; Secure' : '';

  function tooManyAttempts(address: string): boolean {
    const at = now();
    if (attempts.size > MAX_TRACKED_ADDRESSES) attempts.clear();
    const entry = attempts.get(address);
    if (!entry || at - entry.since >= 60_000) {
      attempts.set(address, { since: at, count: 1 });
      return false;
    }
    entry.count++;
    return entry.count > options.attemptsPerMinute;
  }

  return {
    page(_req: IncomingMessage, res: ServerResponse, status = 200, problem = ''): void {
      sendHtml(res, status, loginPage(access.hasUsers, problem));
    },

    async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const address = req.socket.remoteAddress ?? 'unknown';
      if (!isAllowedOrigin(req, originPolicy)) {
        limits.hit('origin', 'login from a foreign origin refused', { origin: req.headers.origin });
        sendError(res, 403, ErrorCodes.ORIGIN, 'login from this origin is not allowed');
        return;
      }
      if (tooManyAttempts(address)) {
        limits.hit('login-rate', 'too many login attempts: refused', { address });
        sendError(res, 429, ErrorCodes.RATE_LIMITED, 'too many login attempts: wait a minute', {
          'Retry-After': '60',
        });
        return;
      }
      const form = await readForm(req);
      if (form === undefined) {
        limits.hit('form-size', 'login form refused: not a form of at most 4 KiB', { address });
        sendError(res, 400, ErrorCodes.BAD_REQUEST, 'expected a form with user and password');
        return;
      }
      const session = access.login(form.get('user') ?? '', form.get('password') ?? '');
      if (!session) {
        limits.hit('unauthenticated', 'login failed', {
          address,
          user: clipName(form.get('user')),
        });
        this.page(req, res, 401, 'Wrong user name or password.');
        return;
      }
      const maxAge = Math.max(1, Math.floor((session.expiresAt - now()) / 1000));
      redirect(res, '/', {
        'Set-Cookie': `${SESSION_COOKIE}=${session.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secureFlag}`,
      });
    },

    logout(req: IncomingMessage, res: ServerResponse): void {
      if (!isAllowedOrigin(req, originPolicy)) {
        limits.hit('origin', 'logout from a foreign origin refused', {
          origin: req.headers.origin,
        });
        sendError(res, 403, ErrorCodes.ORIGIN, 'logout from this origin is not allowed');
        return;
      }
      const token = readCookie(req.headers.cookie, SESSION_COOKIE);
      if (token !== undefined && access.sessions.get(token)) {
        access.sessions.delete(token);
        options.onLogout(token);
      }
      redirect(res, '/login', {
        'Set-Cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secureFlag}`,
      });
    },

    session(res: ServerResponse, principal: Principal): void {
      sendJson(res, 200, {
        user: principal.user,
        via: principal.via,
        authRequired: access.required,
      });
    },
  };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function clipName(name: string | null | undefined): string {
  return (name ?? '').slice(0, 64);
}

function loginPage(hasUsers: boolean, problem: string): string {
  const form = hasUsers
    ? `<form method="post" action="/login" class="login">
        <label>User <input name="user" autocomplete="username" required autofocus /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
        <button type="submit">Sign in</button>
      </form>`
    : '<p>This camplex accepts API tokens only: no user can sign in with a password.</p>';
  const message = problem ? `<p class="problem" role="alert">${problem}</p>` : '';
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Sign in - camplex</title>
    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/style.css" />
  </head>
  <body class="login-page">
    <main>
      <h1>camplex</h1>
      ${message}
      ${form}
    </main>
  </body>
</html>
`;
}
