/**
 * The login page, POST /login, POST /logout and GET /api/session. A successful login sets an
 * HttpOnly, SameSite=Strict session cookie (Secure and `__Host-` under TLS) and a trusted-device
 * cookie that spares this browser the delay of an account under attack; logout forgets the
 * session and closes the sockets it opened. Guessing limits live in access/access.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Access, type Principal, readCookie } from '../access/access.js';
import { isAllowedOrigin, type OriginPolicy } from '../access/origin.js';
import type { Refusals } from '../guard/refusals.js';
import { ErrorCodes } from '../protocol/errors.js';
import { redirect, sendError, sendHtml, sendJson, wantsHtml } from './responses.js';

const MAX_FORM_BYTES = 4096;

export interface LoginOptions {
  access: Access;
  originPolicy: OriginPolicy;
  refusals: Refusals;
  /** The client's address and its key for limits (X-Forwarded-For through trusted proxies). */
  client: (req: IncomingMessage) => { address: string; key: string };
  /** Called with a login session's token when it ends, to close its sockets. */
  onLogout: (sessionToken: string) => void;
  now?: () => number;
}

export type Login = ReturnType<typeof createLogin>;

export function createLogin(options: LoginOptions) {
  const { access, originPolicy, refusals } = options;
  const now = options.now ?? Date.now;
  const flags = `Path=/; HttpOnly; SameSite=Strict${originPolicy.secure ? '; Secure' : ''}`;

  function page(res: ServerResponse, status = 200, problem = '', headers = {}): void {
    sendHtml(res, status, loginPage(access.hasUsers, problem), headers);
  }

  /** 429 or 503 with Retry-After: the login page for a person, JSON for a script. */
  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    message: string,
    retryAfterMs: number,
  ) {
    const headers = { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
    if (wantsHtml(req)) page(res, status, `${message}.`, headers);
    else sendError(res, status, ErrorCodes.RATE_LIMITED, message, headers);
  }

  return {
    page(_req: IncomingMessage, res: ServerResponse): void {
      page(res);
    },

    async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const { address, key } = options.client(req);
      if (!isAllowedOrigin(req, originPolicy)) {
        refusals.hit('origin', 'login from a foreign origin refused', {
          origin: req.headers.origin,
        });
        sendError(res, 403, ErrorCodes.ORIGIN, 'login from this origin is not allowed');
        return;
      }
      const form = await readForm(req);
      if (form === 'aborted') {
        refusals.hit('aborted', 'login form not received: the client went away', { address });
        return; // nobody is left to answer
      }
      if (form === undefined) {
        refusals.hit('form-size', 'login form refused: not a form of at most 4 KiB', { address });
        sendError(res, 400, ErrorCodes.BAD_REQUEST, 'expected a form with user and password');
        return;
      }
      const user = form.get('user') ?? '';
      const device = readCookie(req.headers.cookie, access.deviceCookie);
      const outcome = await access.login(user, form.get('password') ?? '', key, device);
      switch (outcome.kind) {
        case 'address-limited': {
          refusals.hit('login-rate', 'too many failed sign-ins: refused', { address });
          const seconds = Math.ceil(outcome.retryAfterMs / 1000);
          const message = `too many failed sign-ins from your address: try again in ${seconds} s`;
          refuse(req, res, 429, message, outcome.retryAfterMs);
          return;
        }
        case 'account-slowed': {
          refusals.hit('account-slowed', 'sign-in to an account under attack: refused', {
            address,
            user,
          });
          const seconds = Math.ceil(outcome.retryAfterMs / 1000);
          const message = `too many failed sign-ins to this account: try again in ${seconds} s`;
          refuse(req, res, 429, message, outcome.retryAfterMs);
          return;
        }
        case 'busy':
          refusals.hit('auth-busy', 'too many password checks waiting: refused', { address });
          refuse(req, res, 503, 'too many sign-ins at once: try again in a second', 1000);
          return;
        case 'wrong':
          refusals.hit('unauthenticated', 'login failed', { address, user });
          page(res, 401, 'Wrong user name or password.');
          return;
        case 'ok': {
          const maxAge = Math.max(1, Math.floor((outcome.session.expiresAt - now()) / 1000));
          redirect(res, '/', {
            'Set-Cookie': [
              `${access.sessionCookie}=${outcome.session.token}; ${flags}; Max-Age=${maxAge}`,
              `${access.deviceCookie}=${outcome.device}; ${flags}; Max-Age=${365 * 24 * 3600}`,
            ],
          });
        }
      }
    },

    logout(req: IncomingMessage, res: ServerResponse): void {
      if (!isAllowedOrigin(req, originPolicy)) {
        refusals.hit('origin', 'logout from a foreign origin refused', {
          origin: req.headers.origin,
        });
        sendError(res, 403, ErrorCodes.ORIGIN, 'logout from this origin is not allowed');
        return;
      }
      const token = readCookie(req.headers.cookie, access.sessionCookie);
      if (token !== undefined && access.logins.get(token)) {
        access.logins.delete(token);
        options.onLogout(token);
      }
      redirect(res, '/login', { 'Set-Cookie': `${access.sessionCookie}=; ${flags}; Max-Age=0` });
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

/**
 * The urlencoded form of `req`: undefined when it is not one or is over 4 KiB, 'aborted' when
 * the body never arrived whole (the client left, or its chunked encoding was malformed).
 */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined | 'aborted'> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  let size = 0;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) return undefined;
      chunks.push(chunk);
    }
  } catch {
    return 'aborted';
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(hasUsers: boolean, problem: string): string {
  const form = hasUsers
    ? `<form method="post" action="/login" class="login">
        <label>User <input name="user" autocomplete="username" required autofocus /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
        <button type="submit">Sign in</button>
      </form>`
    : '<p>This camplex accepts API tokens only: no user can sign in with a password.</p>';
  const message = problem ? `<p class="problem" role="alert">${escapeHtml(problem)}</p>` : '';
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
