/**
 * The `/ws/cameras` endpoint: `ws` in noServer mode on camplex's own HTTP server. Every upgrade
 * passes the checks of upgrade.ts before the 101; an accepted socket is registered by its
 * login, watched by the heartbeat and served by a ViewerSocket.
 */

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions, WebSocketServer } from 'ws';
import type { Access } from '../access/access.js';
import type { Holders } from '../access/holders.js';
import type { OriginPolicy } from '../access/origin.js';
import { mayMove, mayWatch } from '../access/scope.js';
import { systemClock } from '../common/clock.js';
import { CloseCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { ConnectionGuard } from '../guard/connections.js';
import type { Refusals } from '../guard/refusals.js';
import type { Hub } from '../hub/hub.js';
import { SUBPROTOCOL, SUBPROTOCOL_EXTENDED } from '../protocol/wire.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import { Batches } from './batches.js';
import { FrameMessages } from './frame-messages.js';
import { Heartbeat } from './heartbeat.js';
import type { SocketRegistry } from './registry.js';
import { checkUpgrade, refuseUpgrade } from './upgrade.js';
import { ViewerSocket } from './viewer-socket.js';

/** A peer that does not answer the close handshake within this long is cut off (by ws). */
const CLOSE_TIMEOUT_MS = 1000;

export interface SocketEndpoint {
  /** Stops accepting sockets and closes every one with `code`. */
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
  /** The cookies of a request (the HTTP layer's parser). */
  cookiesOf: (req: IncomingMessage) => Record<string, string | undefined>;
  /** Where open sockets are kept (shutdown closes them through it). */
  registry: SocketRegistry;
  /** Sockets by the principal they were let in on: closed or narrowed when it changes. */
  holders: Holders;
  stream: Config['stream'];
  limits: Config['limits'];
  /** The config's camera groups now (a reload may change them). */
  groups?: () => Config['groups'];
  /** The cameras' pan, tilt and zoom. */
  ptz?: PtzControl;
}

export function attachSocketEndpoint(server: Server, options: EndpointOptions): SocketEndpoint {
  const { access, refusals, limits, stream } = options;
  const log = options.log.child({ component: 'ws' });
  // closeTimeout (ws 8.23) is missing from @types/ws 8.18, hence the wider type.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    perMessageDeflate: false, // JPEG does not compress; deflate costs memory and leaks (CRIME)
    maxPayload: limits.maxControlMessageBytes,
    clientTracking: false, // the registry tracks them
    closeTimeout: CLOSE_TIMEOUT_MS,
    // Agree only to a subprotocol we speak (the extended layout first); a client offering only
    // others learns at the handshake that this server does not speak them. A token rides in a
    // `camplex.token.*` subprotocol beside these and is never echoed back.
    handleProtocols: (offered) => {
      if (offered.has(SUBPROTOCOL_EXTENDED)) return SUBPROTOCOL_EXTENDED;
      if (offered.has(SUBPROTOCOL)) return SUBPROTOCOL;
      return false;
    },
  };
  const wss = new WebSocketServer(serverOptions);
  // ws's own handshake checks (method, Upgrade, key, version): counted here, then answered as
  // ws itself would (it hands over only the message once a listener exists).
  wss.on('wsClientError', (error, socket, request) => {
    const address = request.socket.remoteAddress;
    refusals.hit('bad-upgrade', `malformed upgrade refused: ${error.message}`, { address });
    const status = error.message === 'Invalid HTTP method' ? 405 : 400;
    const headers: Record<string, string> = /Sec-WebSocket-Version/.test(error.message)
      ? { 'Sec-WebSocket-Version': '13, 8' }
      : {};
    refuseUpgrade(socket, { status, message: error.message, headers });
  });
  const { registry } = options;
  // Every beat also finds the sockets whose login session expired meanwhile.
  const heartbeat = new Heartbeat(stream.pingMs, log, () => options.holders.recheck(access));
  const messages = new FrameMessages();
  // One flush for every socket's batches (sockets of one wall get frames at the same moments).
  const batches = new Batches(systemClock);
  const checks = {
    access,
    originPolicy: options.originPolicy,
    connections: options.connections,
    clientKey: (req: IncomingMessage) => options.client(req).key,
    cookiesOf: options.cookiesOf,
  };
  let accepting = true;

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const result = accepting
      ? checkUpgrade(request, checks)
      : { status: 503, message: 'server is shutting down', kind: undefined };
    if ('status' in result) {
      const details = { address: options.client(request).address, origin: request.headers.origin };
      const line = `upgrade refused with ${result.status}: ${result.message}`;
      if (result.kind) refusals.hit(result.kind, line, details);
      else log.info(details, line);
      refuseUpgrade(socket, result);
      return;
    }
    const principal = result;
    wss.handleUpgrade(request, socket, head, (ws) => {
      registry.add(ws);
      heartbeat.watch(ws);
      const remote = `${options.client(request).address}:${request.socket.remotePort}`;
      const viewer = new ViewerSocket(
        ws,
        {
          hub: options.hub,
          log,
          refusals,
          messages,
          batches,
          maxBufferedBytes: stream.maxBufferedBytes,
          maxUnackedBytes: stream.maxUnackedBytes,
          maxBlockedMs: stream.slowViewerMs,
          maxMessagesPerSecond: limits.maxMessagesPerSecond,
          maxCamerasPerCommand: limits.maxCamerasPerCommand,
          maxCamerasPerSocket: limits.maxCamerasPerSocket,
          now: Date.now,
          groups: options.groups,
          mayWatch: (stream) => mayWatch(principal, stream),
          mayMove: (camera) => mayMove(principal, camera),
          ...(options.ptz ? { ptz: options.ptz } : {}),
        },
        `${remote} ${principal.user}`,
      );
      const held = options.holders.hold(principal, {
        revoke: (reason) => {
          log.info(
            { remote, user: principal.user, reason },
            'closing a socket: its credential changed',
          );
          ws.close(CloseCodes.POLICY_VIOLATION, reason);
        },
        rescope: (now) =>
          viewer.rescope(
            (stream) => mayWatch(now, stream),
            (camera) => mayMove(now, camera),
          ),
      });
      ws.once('close', () => held.release());
    });
  });

  return {
    async close(code = CloseCodes.GOING_AWAY, reason = 'server shutting down') {
      accepting = false;
      heartbeat.stop();
      await registry.closeAll(code, reason);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
