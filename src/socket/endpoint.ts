/**
 * The `/ws/cameras` endpoint: `ws` in noServer mode on our own HTTP server, so the upgrade is
 * ours to check and refuse before any WebSocket exists.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Hub } from '../hub/hub.js';
import type { Log } from '../log.js';
import { CloseCodes } from '../protocol/errors.js';
import { SUBPROTOCOL, SUBPROTOCOL_EXTENDED, WS_PATH } from '../protocol/wire.js';
import { Session } from './session.js';

/** Control messages are small JSON; anything bigger is closed with 1009 by ws. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;
export const MAX_MESSAGES_PER_SECOND = 50;
/** Pings left unanswered in a row before a viewer is taken for gone. */
export const MAX_MISSED_PONGS = 2;

export interface SocketEndpoint {
  /** Number of open viewer sockets. */
  readonly size: number;
  /** Closes every socket with `code` and stops accepting new ones. */
  close(code?: number, reason?: string): Promise<void>;
}

export function attachSocketEndpoint(
  server: Server,
  options: { hub: Hub; log: Log; maxBufferedBytes: number; maxBlockedMs: number; pingMs: number },
): SocketEndpoint {
  const log = options.log.child({ component: 'ws' });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false, // JPEG does not compress; deflate costs memory and leaks (CRIME)
    maxPayload: MAX_CONTROL_MESSAGE_BYTES,
    clientTracking: true,
    // Agree only to a subprotocol we speak (the extended layout first); a client offering only
    // others learns at the handshake that this server does not speak them.
    handleProtocols: (offered) => {
      if (offered.has(SUBPROTOCOL_EXTENDED)) return SUBPROTOCOL_EXTENDED;
      if (offered.has(SUBPROTOCOL)) return SUBPROTOCOL;
      return false;
    },
  });
  let accepting = true;

  // Liveness: a viewer that vanished without a FIN (a sleeping laptop, a frozen process) never
  // closes its socket; unanswered pings find it, and terminating it frees its subscriptions.
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
  }, options.pingMs);
  heartbeat.unref();

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (request.url ?? '').split('?')[0];
    if (!accepting) return refuseUpgrade(socket, 503, 'server is shutting down');
    if (path !== WS_PATH)
      return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${clipPath(path)}`);
    wss.handleUpgrade(request, socket, head, (ws) => {
      const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
      missedPongs.set(ws, 0);
      ws.on('pong', () => missedPongs.set(ws, 0));
      ws.on('close', () => missedPongs.delete(ws));
      new Session(
        ws,
        {
          hub: options.hub,
          log,
          maxBufferedBytes: options.maxBufferedBytes,
          maxBlockedMs: options.maxBlockedMs,
          maxMessagesPerSecond: MAX_MESSAGES_PER_SECOND,
          now: Date.now,
        },
        remote,
      );
    });
  });

  return {
    get size() {
      return wss.clients.size;
    },
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

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

function clipPath(path: string | undefined): string {
  const text = path ?? '';
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
