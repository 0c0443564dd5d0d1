/**
 * The login page, POST /login, POST /logout and GET /api/session. A successful login sets an
 * HttpOnly, SameSite=Strict session cookie (Secure and `__Host-` under TLS) and a trusted-device
 * cookie that spares this browser the delay of an account under attack; logout forgets the
 * session and closes the sockets it opened. Guessing limits live in access/access.ts.
 */

import type { IncomingMessage } from 'node:http';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../access/access.js';
import { isAllowedOrigin, type OriginPolicy } from '../access/origin.js';
import { ErrorCodes } from '../common/errors.js';
import type { Refusals } from '../guard/refusals.js';
import { replyError, replyHtml } from './responses.js';

export interface LoginOptions {
  access: Access;
  originPolicy: OriginPolicy;
  refusals: Refusals;
  /** The client's address and its key for limits (X-Forwarded-For through trusted proxies). */
  client: (req: IncomingMessage) => { address: string; key: string };
  /** Called with a login session's token when it ends, to close its sockets. */
  onLogout: (token: string) => void;
  now?: () => number;
}

const DEVICE_SECONDS = 365 * 24 * 3600;
const WRONG = 'Wrong user name or password.';

export function registerLogin(app: FastifyInstance, options: LoginOptions): void {
  const { access, originPolicy, refusals } = options;
  const now = options.now ?? Date.now;
  const cookie = (maxAge: number): CookieSerializeOptions => ({
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: originPolicy.secure,
    maxAge,
  });
  const publicRoute = { config: { public: true } };

  /** Refuses a form post from a page of another origin, before its body is read. */
  const fromOwnPage =
    (what: string) => (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (isAllowedOrigin(request.raw, originPolicy)) return done();
      refusals.hit('origin', `${what} from a foreign origin refused`, {
        origin: request.headers.origin,
      });
      replyError(reply, 403, ErrorCodes.ORIGIN, `${what} from this origin is not allowed`);
    };

  /** 429 or 503 with Retry-After: the login page for a person, JSON for a script. */
  const tooSoon = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    message: string,
    ms: number,
  ) => {
    reply.header('Retry-After', String(Math.max(1, Math.ceil(ms / 1000))));
    if ((request.headers.accept ?? '').includes('text/html'))
      return page(reply, status, `${message}.`);
    return replyError(reply, status, ErrorCodes.RATE_LIMITED, message);
  };

  const page = (reply: FastifyReply, status = 200, problem = '') =>
    replyHtml(reply, loginPage(access.hasUsers, problem), status);

  app.get('/login', publicRoute, (_request, reply) => page(reply));

  app.post(
    '/login',
    { ...publicRoute, onRequest: fromOwnPage('login') },
    async (request, reply) => {
      const { address, key } = options.client(request.raw);
      const form = request.body as Record<string, unknown> | undefined;
      if (typeof form !== 'object' || form === null) {
        refusals.hit('form-size', 'login form refused: not a form of at most 4 KiB', { address });
        return replyError(
          reply,
          400,
          ErrorCodes.BAD_REQUEST,
          'expected a form with user and password',
        );
      }
      const user = typeof form.user === 'string' ? form.user : '';
      const password = typeof form.password === 'string' ? form.password : '';
      const device = request.cookies[access.deviceCookie];
      const outcome = await access.login(user, password, key, device);
      switch (outcome.kind) {
        case 'address-limited': {
          refusals.hit('login-rate', 'too many failed sign-ins: refused', { address });
          const seconds = Math.ceil(outcome.retryAfterMs / 1000);
          const message = `too many failed sign-ins from your address: try again in ${seconds} s`;
          return tooSoon(request, reply, 429, message, outcome.retryAfterMs);
        }
        case 'account-slowed': {
          refusals.hit('account-slowed', 'sign-in to an account under attack: refused', {
            address,
            user,
          });
          const seconds = Math.ceil(outcome.retryAfterMs / 1000);
          const message = `too many failed sign-ins to this account: try again in ${seconds} s`;
          return tooSoon(request, reply, 429, message, outcome.retryAfterMs);
        }
        case 'busy':
          refusals.hit('auth-busy', 'too many password checks waiting: refused', { address });
          return tooSoon(
            request,
            reply,
            503,
            'too many sign-ins at once: try again in a second',
            1000,
          );
        case 'wrong':
          refusals.hit('unauthenticated', 'login failed', { address, user });
          return page(reply, 401, WRONG);
        case 'ok': {
          const maxAge = Math.max(1, Math.floor((outcome.session.expiresAt - now()) / 1000));
          reply.setCookie(access.sessionCookie, outcome.session.token, cookie(maxAge));
          reply.setCookie(access.deviceCookie, outcome.device, cookie(DEVICE_SECONDS));
          return reply.redirect('/', 303);
        }
      }
    },
  );

  app.post('/logout', { ...publicRoute, onRequest: fromOwnPage('logout') }, (request, reply) => {
    const token = request.cookies[access.sessionCookie];
    if (token !== undefined && access.logins.get(token)) {
      access.logins.delete(token);
      options.onLogout(token);
    }
    reply.setCookie(access.sessionCookie, '', cookie(0));
    return reply.redirect('/login', 303);
  });

  app.get('/api/session', (request) => ({
    user: request.principal?.user,
    via: request.principal?.via,
    authRequired: access.required,
  }));
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
