/**
 * The checks every WebSocket upgrade passes before the 101, in order: path, the connection cap
 * of a proxied client, Origin, Host (while access is open), authentication. A refused upgrade
 * gets an HTTP status it can read and its socket is closed: no WebSocket opens unchecked.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Access, isDenial, type Principal } from '../access/access.js';
import {
  isAllowedOrigin,
  isOwnOrigin,
  isTrustedHost,
  type OriginPolicy,
} from '../access/origin.js';
import type { ConnectionGuard } from '../guard/connections.js';
import type { RefusalKind } from '../guard/refusals.js';
import { WS_PATH } from '../protocol/wire.js';

export interface UpgradeRefusal {
  status: number;
  message: string;
  /** What it is counted as; undefined when the refusal was counted where it was decided. */
  kind: RefusalKind | undefined;
  headers?: Record<string, string>;
}

export interface UpgradeChecks {
  access: Access;
  originPolicy: OriginPolicy;
  connections: ConnectionGuard;
  /** The client's address key for limits (X-Forwarded-For through trusted proxies). */
  clientKey: (req: IncomingMessage) => string;
  /** The cookies of a request (the HTTP layer's parser). */
  cookiesOf: (req: IncomingMessage) => Record<string, string | undefined>;
}

/** Who may open the socket, or why not. */
export function checkUpgrade(
  request: IncomingMessage,
  checks: UpgradeChecks,
): UpgradeRefusal | Principal {
  const path = (request.url ?? '').split('?')[0] ?? '';
  if (!checks.connections.admit(request)) {
    return { status: 503, message: 'too many connections from your address', kind: undefined };
  }
  if (path !== WS_PATH) {
    return {
      status: 404,
      message: `no WebSocket endpoint at ${path.slice(0, 80)}`,
      kind: 'not-found',
    };
  }
  if (!isAllowedOrigin(request, checks.originPolicy)) {
    return { status: 403, message: 'this Origin may not open camplex sockets', kind: 'origin' };
  }
  if (!checks.access.required && !isTrustedHost(request, checks.originPolicy)) {
    return { status: 403, message: 'unknown Host: add it to server.allowedHosts', kind: 'host' };
  }
  const auth = checks.access.authenticate(
    request,
    checks.clientKey(request),
    checks.cookiesOf(request),
    { upgrade: { ownOrigin: isOwnOrigin(request, checks.originPolicy) } },
  );
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

/** Answers a refused upgrade with its status in plain text, then closes the socket. */
export function refuseUpgrade(socket: Duplex, refusal: Omit<UpgradeRefusal, 'kind'>): void {
  const body = `${refusal.message}\n`;
  const extra = Object.entries(refusal.headers ?? {}).map(
    ([name, value]) => `${name}: ${value}\r\n`,
  );
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n${extra.join('')}` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  // end() lets the status reach the client; destroy soon after so a peer that keeps
  // sending cannot hold the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}
