/**
 * camplex's HTTP server on fastify: security headers (helmet, configured so the login form and
 * embedding keep working), cookies and form bodies by their plugins, one hook that checks who
 * may ask (connection cap of a proxied client, Host while access is open, authentication), and
 * fastify's error handler as the one boundary of every request. The server is node:http (or
 * https) made here but never listening itself: the connection guard accepts for it.
 */

import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { type Access, isDenial, type Principal } from '../access/access.js';
import { isTrustedHost, type OriginPolicy } from '../access/origin.js';
import { ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { ConnectionGuard } from '../guard/connections.js';
import type { Refusals } from '../guard/refusals.js';
import { replyError } from './responses.js';

/** The login form is the only body camplex reads. */
const MAX_FORM_BYTES = 4096;
/**
 * What pages of `server.allowedOrigins` may read across origins (CORS): the client bundle, the
 * camera list and the HTTP fallbacks. Never the login, metrics or anything with cookies: the
 * embedding client authenticates with a token.
 */
const EMBEDDABLE = /^\/(client\.js(\.map)?|api\/cameras|mjpeg\/[^/]+|snapshot\/[^/]+)$/;
/** Where HTTP Basic (a token as the password) is accepted: the MJPEG stream and the snapshot. */
const CAMERA_IMAGES = /^\/(mjpeg|snapshot)\/[^/?]+(\?.*)?$/;
const CORS_FOR_EMBEDDING = {
  origin: true, // the request's own origin, already checked against allowedOrigins
  methods: ['GET', 'HEAD'],
  allowedHeaders: ['Authorization'],
  credentials: false,
  maxAge: 600,
};

export interface HttpAppOptions {
  log: Log;
  access: Access;
  originPolicy: OriginPolicy;
  refusals: Refusals;
  connections: ConnectionGuard;
  /** The client's address and its key for limits (X-Forwarded-For through trusted proxies). */
  client: (req: IncomingMessage) => { address: string; key: string };
  tls: { cert: string; key: string } | undefined;
  timeouts: { headersMs: number; requestMs: number; idleMs: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking, once the access hook let the request through a protected route. */
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** Reachable without signing in. */
    public?: boolean;
  }
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};
const STATUS_LINES: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};
/** How long an answered client error may take to reach a client that does not read it. */
const CLIENT_ERROR_LINGER_MS = 1000;
/** Errors of a request the client broke off, not of camplex. */
const CLIENT_FAULTS = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { refusals, tls, timeouts } = options;
  const app = Fastify({
    serverFactory: (handler) => createServer(handler, tls, timeouts),
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    // No line per request: refusals are logged at a bounded rate instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_FORM_BYTES,
    clientErrorHandler: (error, socket) => onClientError(refusals, error, socket),
    frameworkErrors: (error, request, reply) => {
      refusals.hit('bad-request', `bad request: ${error.message}`, { path: request.url });
      replyError(reply, 400, ErrorCodes.BAD_REQUEST, 'malformed request');
    },
  });
  app.decorateRequest('principal', undefined);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: MAX_FORM_BYTES });
  await app.register(helmet, {
    // Chromium sends `Origin: null` on a form post under no-referrer, which camplex refuses.
    referrerPolicy: { policy: 'same-origin' },
    // Camera images may be embedded by pages camplex allows (CORS decides, not CORP).
    crossOriginResourcePolicy: false,
    contentSecurityPolicy: false, // on HTML pages only (responses.ts); JSON and images need none
    frameguard: { action: 'deny' },
    // Browsers ignore it on plain http (and say so in the console of every LAN page).
    crossOriginOpenerPolicy: tls ? { policy: 'same-origin' } : false,
    strictTransportSecurity: tls ? { maxAge: 15_552_000, includeSubDomains: false } : false,
  });
  // Before the access hook, so a preflight (which carries no token) is answered first.
  await app.register(cors, {
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      const allowed =
        origin !== undefined &&
        options.originPolicy.allowedOrigins.includes(origin) &&
        EMBEDDABLE.test(request.url.split('?')[0] ?? '');
      callback(null, allowed ? CORS_FOR_EMBEDDING : { origin: false });
    },
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('Cache-Control', 'no-store');
    if (checkRequest(options, request, reply)) done();
  });
  app.setErrorHandler((error, request, reply) => onError(options, error as Error, request, reply));
  return app;
}

/** The access hook: true when `request` may go on, else it has been answered. */
function checkRequest(
  options: HttpAppOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): boolean {
  const { access, refusals } = options;
  if (!options.connections.admit(request.raw)) {
    reply.header('Retry-After', '10').header('Connection', 'close');
    replyError(
      reply,
      503,
      ErrorCodes.TOO_MANY_CONNECTIONS,
      'too many connections from your address',
    );
    return false;
  }
  if (!access.required && !isTrustedHost(request.raw, options.originPolicy)) {
    refusals.hit('host', 'request for an unknown Host name refused', {
      host: request.headers.host,
    });
    replyError(reply, 403, ErrorCodes.HOST, 'unknown Host: add it to server.allowedHosts');
    return false;
  }
  // Only GET and HEAD need a principal: any other method is the login form's or refused (405).
  const reading = request.method === 'GET' || request.method === 'HEAD';
  if (request.routeOptions.config.public || !reading) return true;
  const client = options.client(request.raw);
  // Home automation and NVRs fetch camera images with HTTP Basic only: a token as the password.
  const basic = CAMERA_IMAGES.test(request.url);
  const auth = access.authenticate(request.raw, client.key, request.cookies, { basic });
  if (!isDenial(auth)) {
    request.principal = auth;
    return true;
  }
  if (auth.status === 429) {
    refusals.hit('login-rate', 'token from an address with too many failures: refused', {
      address: client.address,
    });
    const seconds = Math.ceil((auth.retryAfterMs ?? 60_000) / 1000);
    reply.header('Retry-After', String(seconds));
    const message = `too many failed sign-ins from your address: try again in ${seconds} s`;
    replyError(reply, 429, ErrorCodes.RATE_LIMITED, message);
    return false;
  }
  refusals.hit('unauthenticated', 'unauthenticated request refused', {
    path: request.url.split('?')[0],
    address: client.address,
  });
  if ((request.headers.accept ?? '').includes('text/html')) {
    reply.redirect('/login', 303); // a person in a browser: show the login page
  } else {
    reply.header(
      'WWW-Authenticate',
      basic ? 'Bearer realm="camplex", Basic realm="camplex"' : 'Bearer realm="camplex"',
    );
    const message = 'sign in or send Authorization: Bearer <token>';
    replyError(reply, 401, ErrorCodes.UNAUTHENTICATED, message);
  }
  return false;
}

/** The boundary of every request: whatever a handler throws ends that request only. */
function onError(
  options: HttpAppOptions,
  error: Error & { code?: string; statusCode?: number },
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const code = error.code ?? '';
  const path = request.url.split('?')[0];
  if (request.raw.destroyed || request.raw.socket.destroyed || CLIENT_FAULTS.has(code)) {
    const what = path === '/login' ? 'login form' : 'request';
    options.refusals.hit('aborted', `${what} not received: the client went away`, {
      address: request.raw.socket.remoteAddress,
      code,
    });
    return;
  }
  if (path === '/login' && code.startsWith('FST_ERR_CTP')) {
    options.refusals.hit('form-size', 'login form refused: not a form of at most 4 KiB', {
      address: options.client(request.raw).address,
    });
    replyError(reply, 400, ErrorCodes.BAD_REQUEST, 'expected a form with user and password');
    return;
  }
  if ((error.statusCode ?? 500) < 500) {
    options.refusals.hit('bad-request', `bad request: ${error.message}`, { path, code });
    replyError(reply, error.statusCode ?? 400, ErrorCodes.BAD_REQUEST, 'malformed request');
    return;
  }
  options.log.error({ err: error, method: request.method, path }, 'request failed: 500');
  if (reply.sent || reply.raw.headersSent) reply.raw.destroy();
  else replyError(reply, 500, ErrorCodes.INTERNAL, 'internal error');
}

/** node:http or node:https with camplex's timeouts; the connection guard listens for it. */
function createServer(
  handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
  tls: HttpAppOptions['tls'],
  timeouts: HttpAppOptions['timeouts'],
): Server {
  // Slow or silent clients (slowloris) cannot hold a connection: whole headers within
  // headersTimeout, checked every second rather than Node's default 30 s; a TLS handshake
  // within the idle time.
  const options = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    connectionsCheckingInterval: 1000,
  };
  const server: Server = tls
    ? createHttpsServer({ ...options, ...tls, handshakeTimeout: timeouts.idleMs }, handler)
    : createHttpServer(options, handler);
  // A connection that sends no request, from accept or after its last response, is closed.
  // Streams that may go quiet (MJPEG, a snapshot's wait, WebSockets) lift this for themselves.
  server.timeout = timeouts.idleMs;
  server.keepAliveTimeout = timeouts.idleMs;
  return server;
}

/** Malformed requests, oversized headers and slowloris timeouts: counted, then answered. */
function onClientError(refusals: Refusals, error: NodeJS.ErrnoException, socket: Socket): void {
  const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
  // A client that went away mid-request is no bad request (a handler reading it says so).
  if (error.code !== 'ECONNRESET' && error.code !== 'HPE_INVALID_EOF_STATE') {
    refusals.hit('bad-request', `bad request: ${status} ${error.message}`, {
      address: socket.remoteAddress,
      code: error.code,
    });
  }
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Half-open sockets are kept for clients that send FIN early, so ending ours alone would leave
  // the connection to the client: one that goes on sending (a slowloris past its 408) would hold
  // its slot for good. What it sends meanwhile is read and dropped, so the close is a FIN that
  // does not cut off the answer; after a moment the connection is let go.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_LINES[status] ?? 'Bad Request'}\r\nConnection: close\r\n\r\n`,
  );
  socket.resume();
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
