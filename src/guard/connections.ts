/**
 * Every TCP connection camplex accepts (HTTP requests, MJPEG streams and WebSockets alike) is
 * counted here before HTTP sees it: past the cap per client address or the total cap it is
 * refused (plain HTTP gets a 503 it can read; TLS is cut, there is no handshake to answer in).
 * A connection from a trusted proxy is counted against the client behind it once its first
 * request names that client. Descriptors and kernel socket buffers stay bounded: per address,
 * at most `perAddress` x (camplex's own buffer + the kernel's send buffer).
 */
import type { IncomingMessage, Server } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { addressKey, clientAddress, type ProxyTrust } from './client-address.js';
import type { Refusals } from './refusals.js';

export interface ConnectionCaps {
  /** Connections per client address key (an IPv4 address or an IPv6 /64). */
  perAddress: number;
  /** Connections in all, kept below the process's descriptor limit. */
  total: number;
}

interface Tracked {
  /** The address key this connection counts against; undefined until a proxy names it. */
  key: string | undefined;
  readonly viaProxy: boolean;
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address in use (another program has this port; pick another with --port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this machine',
};

/** Refused connections answered and left to close by themselves at once, at most. */
const MAX_LINGERING = 64;
const LINGER_MS = 1000;

export class ConnectionGuard {
  private readonly caps: ConnectionCaps;
  private readonly trust: ProxyTrust;
  private readonly refusals: Refusals;
  private readonly log: Log;
  private readonly tracked = new Map<string, Tracked>();
  private readonly sockets = new Set<Socket>();
  private readonly perKey = new Map<string, number>();
  private lingering = 0;

  constructor(options: { caps: ConnectionCaps; trust: ProxyTrust; refusals: Refusals; log: Log }) {
    this.caps = options.caps;
    this.trust = options.trust;
    this.refusals = options.refusals;
    this.log = options.log;
  }

  /** Connections open now. */
  get count(): number {
    return this.sockets.size;
  }

  /**
   * Listens on `host:port` for `target`, which never listens itself: each accepted connection
   * is counted and handed to it, or refused. Rejects with a readable reason.
   */
  listen(target: Server, port: number, host: string, tls: boolean): Promise<NetServer> {
    // The options node:http gives its own listener (http keeps half-open sockets to answer
    // a client that already sent FIN; TLS sockets manage that themselves).
    const front = createServer({ noDelay: true, allowHalfOpen: !tls }, (socket) =>
      this.accept(socket, target, tls),
    );
    return new Promise((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) => {
        const why = LISTEN_ERRORS[error.code ?? ''] ?? error.message;
        reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
      };
      front.once('error', failed);
      front.listen(port, host, () => {
        front.removeListener('error', failed);
        front.on('error', (error) => this.log.error({ err: error.message }, 'listener error'));
        // node:http starts its header and request timeout checks on its own 'listening'.
        target.emit('listening');
        resolve(front);
      });
    });
  }

  /**
   * Counts a trusted proxy's connection against the client behind it, at its first request.
   * False when that client is over its cap: the caller answers 503 and closes.
   */
  admit(req: IncomingMessage): boolean {
    const tracked = this.tracked.get(connectionId(req.socket));
    if (!tracked?.viaProxy || tracked.key !== undefined) return true;
    const client = clientAddress(req, this.trust);
    const key = addressKey(client);
    if ((this.perKey.get(key) ?? 0) >= this.caps.perAddress) {
      this.refuse('sockets-per-ip', 'too many connections from your address', client);
      return false;
    }
    tracked.key = key;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    return true;
  }

  /** Cuts every connection (at shutdown, after the polite closes had their chance). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket, target: Server, tls: boolean): void {
    const address = socket.remoteAddress;
    if (address === undefined) {
      socket.destroy(); // gone before we saw it
      return;
    }
    const viaProxy = this.trust.isTrusted(address);
    const key = viaProxy ? undefined : addressKey(address);
    if (this.sockets.size >= this.caps.total) {
      this.turnAway(socket, tls, 'sockets-total', 'too many connections: try again later', address);
      return;
    }
    if (key !== undefined && (this.perKey.get(key) ?? 0) >= this.caps.perAddress) {
      this.turnAway(
        socket,
        tls,
        'sockets-per-ip',
        'too many connections from your address',
        address,
      );
      return;
    }
    const id = connectionId(socket);
    const tracked: Tracked = { key, viaProxy };
    this.tracked.set(id, tracked);
    this.sockets.add(socket);
    if (key !== undefined) this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    socket.once('close', () => {
      this.tracked.delete(id);
      this.sockets.delete(socket);
      if (tracked.key === undefined) return;
      const left = (this.perKey.get(tracked.key) ?? 1) - 1;
      if (left > 0) this.perKey.set(tracked.key, left);
      else this.perKey.delete(tracked.key);
    });
    target.emit('connection', socket);
  }

  private refuse(kind: 'sockets-per-ip' | 'sockets-total', message: string, address: string) {
    const caps = { perAddress: this.caps.perAddress, total: this.caps.total };
    this.refusals.hit(kind, `connection refused: ${message}`, { address, ...caps });
  }

  /** Refuses a connection HTTP never saw: a 503 it can read (plain HTTP), then closed. */
  private turnAway(
    socket: Socket,
    tls: boolean,
    kind: 'sockets-per-ip' | 'sockets-total',
    message: string,
    address: string,
  ): void {
    this.refuse(kind, message, address);
    socket.on('error', () => {});
    if (tls || this.lingering >= MAX_LINGERING) {
      socket.destroy();
      return;
    }
    this.lingering++;
    socket.once('close', () => this.lingering--);
    socket.resume(); // read and drop the request, so closing sends FIN, not RST
    socket.end(serviceUnavailable(message));
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }
}

/** Tells a connection apart from every other one open to camplex (TLS or not). */
function connectionId(socket: Socket): string {
  return `${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}

/** The raw HTTP/1.1 503 that refuses a connection, with the usual JSON error body. */
function serviceUnavailable(message: string): string {
  const body = JSON.stringify({ error: { code: ErrorCodes.TOO_MANY_CONNECTIONS, message } });
  return (
    'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 10\r\nConnection: close\r\n\r\n` +
    body
  );
}
