/**
 * The `/ws/cameras` endpoint: `ws` in noServer mode on our own HTTP server, so every upgrade is
 * checked before the 101 (path, Origin, Host, authentication, socket limits) and a refused one
 * gets an HTTP status and a destroyed socket: no WebSocket ever opens unchecked.
 */
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Access, isDenial, type Principal } from '../access/access.js';
import { isAllowedOrigin, isTrustedHost, type OriginPolicy } from '../access/origin.js';
import type { Config } from '../config/schema.js';
import type { ConnectionGuard } from '../guard/connections.js';
import type { RefusalKind, Refusals } from '../guard/refusals.js';
import type { Hub } from '../hub/hub.js';
import type { Log } from '../log.js';
import { CloseCodes } from '../protocol/errors.js';
import { SUBPROTOCOL, SUBPROTOCOL_EXTENDED, WS_PATH } from '../protocol/wire.js';
import { Session } from './session.js';

/** Pings left unanswered in a row before a viewer is taken for gone. */
const MAX_MISSED_PONGS = 2;

export interface SocketEndpoint {
  /** Closes the sockets a login session opened (after logout), with 1008. */
  closeLoginSession(sessionToken: string, reason: string): void;
  /** Closes every socket with `code` and stops accepting new ones. */
  close(code?: number, reason?: string): Promise<void>;
}

export interface EndpointOptions {
  hub: Hub;
  log: Log;
  access: Access;
  originPolicy: OriginPolicy;
  refusals: Refusals;
  connections: ConnectionGuard;
  /** The client's address and its key for limits (X-Forwarded-For through trusted proxies). */
  client: (req: IncomingMessage) => { address: string; key: string };
  stream: Config['stream'];
  limitsConfig: Config['limits'];
}

interface Refusal {
  status: number;
  message: string;
  kind: RefusalKind | undefined;
  headers?: Record<string, string>;
}

export function attachSocketEndpoint(server: Server, options: EndpointOptions): SocketEndpoint {
  const { access, refusals, limitsConfig } = options;
  const log = options.log.child({ component: 'ws' });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false, // JPEG does not compress; deflate costs memory and leaks (CRIME)
    maxPayload: limitsConfig.maxControlMessageBytes,
    clientTracking: true,
    // Agree only to a subprotocol we speak (the extended layout first); a client offering only
    // others learns at the handshake that this server does not speak them. A token rides in a
    // `camplex.token.*` subprotocol beside these and is never echoed back.
    handleProtocols: (offered) => {
      if (offered.has(SUBPROTOCOL_EXTENDED)) return SUBPROTOCOL_EXTENDED;
      if (offered.has(SUBPROTOCOL)) return SUBPROTOCOL;
      return false;
    },
  });
  // ws's own handshake checks (method, Upgrade, key, version): logged here, then answered as
  // ws itself would (it hands over only the message once a listener exists).
  wss.on('wsClientError', (error, socket, request) => {
    const address = request.socket.remoteAddress;
    refusals.hit('bad-upgrade', `malformed upgrade refused: ${error.message}`, { address });
    const status = error.message === 'Invalid HTTP method' ? 405 : 400;
    const headers: Record<string, string> = /Sec-WebSocket-Version/.test(error.message)
      ? { 'Sec-WebSocket-Version': '13, 8' }
      : {};
    refuseUpgrade(socket, status, error.message, headers);
  });
  let accepting = true;
  const byLoginSession = new Map<string, Set<WebSocket>>();

  // Liveness: a viewer that vanished without a FIN (a sleeping laptop, a frozen process) never
  // closes its socket; unanswered pings find it, and terminating it frees its subscriptions.
  // The same tick closes sockets whose login session has expired.
  const missedPongs = new Map<WebSocket, number>();
  const heartbeat = setInterval(() => {
    for (const [ws, missed] of missedPongs) {
      if (missed >= MAX_MISSED_PONGS) {
        log.warn({ missed }, `viewer missed ${missed} pongs: terminating its socket`);
        missedPongs.delete(ws);
        ws.terminate();
        continue;
      }
      missedPongs.set(ws, missed + 1);
      if (ws.readyState === ws.OPEN) ws.ping();
    }
    for (const token of byLoginSession.keys()) {
      if (!access.sessions.get(token)) closeLoginSession(token, 'session expired');
    }
  }, options.stream.pingMs);
  heartbeat.unref();

  function check(request: IncomingMessage): Refusal | Principal {
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (!accepting) return { status: 503, message: 'server is shutting down', kind: undefined };
    if (!options.connections.admit(request)) {
      return { status: 503, message: 'too many connections from your address', kind: undefined };
    }
    if (path !== WS_PATH) {
      return {
        status: 404,
        message: `no WebSocket endpoint at ${path.slice(0, 80)}`,
        kind: 'not-found',
      };
    }
    if (!isAllowedOrigin(request, options.originPolicy)) {
      return { status: 403, message: 'this Origin may not open camplex sockets', kind: 'origin' };
    }
    if (!access.required && !isTrustedHost(request, options.originPolicy)) {
      return { status: 403, message: 'unknown Host: add it to server.allowedHosts', kind: 'host' };
    }
    const auth = access.authenticate(request, options.client(request).key);
    if (!isDenial(auth)) return auth;
    if (auth.status === 401) {
      return { status: 401, message: 'authentication required', kind: 'unauthenticated' };
    }
    const seconds = Math.ceil((auth.retryAfterMs ?? 60_000) / 1000);
    return {
      status: 429,
      message: `too many failed sign-ins from your address: try again in ${seconds} s`,
      kind: 'login-rate',
      headers: { 'Retry-After': String(seconds) },
    };
  }

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const result = check(request);
    if ('status' in result) {
      const details = { address: options.client(request).address, origin: request.headers.origin };
      const line = `upgrade refused with ${result.status}: ${result.message}`;
      if (result.kind) refusals.hit(result.kind, line, details);
      else log.info(details, line);
      refuseUpgrade(socket, result.status, result.message, result.headers);
      return;
    }
    const principal = result;
    wss.handleUpgrade(request, socket, head, (ws) => {
      const remote = `${options.client(request).address}:${request.socket.remotePort}`;
      missedPongs.set(ws, 0);
      if (principal.session) {
        const sockets = byLoginSession.get(principal.session) ?? new Set();
        sockets.add(ws);
        byLoginSession.set(principal.session, sockets);
      }
      ws.on('pong', () => missedPongs.set(ws, 0));
      ws.on('close', () => {
        missedPongs.delete(ws);
        if (principal.session) {
          const sockets = byLoginSession.get(principal.session);
          sockets?.delete(ws);
          if (sockets?.size === 0) byLoginSession.delete(principal.session);
        }
      });
      new Session(
        ws,
        {
          hub: options.hub,
          log,
          refusals,
          maxBufferedBytes: options.stream.maxBufferedBytes,
          maxUnackedBytes: options.stream.maxUnackedBytes,
          maxBlockedMs: options.stream.slowViewerMs,
          maxMessagesPerSecond: limitsConfig.maxMessagesPerSecond,
          maxCamerasPerCommand: limitsConfig.maxCamerasPerCommand,
          maxCamerasPerSocket: limitsConfig.maxCamerasPerSocket,
          now: Date.now,
        },
        `${remote} ${principal.user}`,
      );
    });
  });

  function closeLoginSession(sessionToken: string, reason: string): void {
    const sockets = byLoginSession.get(sessionToken);
    if (!sockets) return;
    byLoginSession.delete(sessionToken);
    log.info({ sockets: sockets.size, reason }, 'closing the sockets of a login session');
    for (const ws of sockets) ws.close(CloseCodes.POLICY_VIOLATION, reason);
  }

  return {
    closeLoginSession,
    close(code = CloseCodes.GOING_AWAY, reason = 'server shutting down') {
      accepting = false;
      clearInterval(heartbeat);
      const closing = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close(code, reason);
            // A peer that never answers the close handshake is cut off.
            setTimeout(() => ws.terminate(), 1000).unref();
          }),
      );
      return Promise.all(closing).then(
        () => new Promise<void>((resolve) => wss.close(() => resolve())),
      );
    },
  };
}

function refuseUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = `${message}\n`;
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${extra.join('')}` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  // end() lets the status reach the client; destroy soon after so a peer that keeps
  // sending cannot hold the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}
