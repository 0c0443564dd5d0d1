/**
 * Wires camplex together in one place: config -> cameras (one ffmpeg each) -> hub -> HTTP
 * routes and the /ws/cameras endpoint. No module-level state: everything lives in here.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { Access } from './access/access.js';
import { LoginSessions } from './access/login-sessions.js';
import { hostName, isTrustedHost, type OriginPolicy } from './access/origin.js';
import { PasswordChecker } from './access/password.js';
import { Camera } from './camera/camera.js';
import { type Clock, systemClock } from './common/clock.js';
import type { CameraConfig, Config } from './config/schema.js';
import { ffmpegArgs, MPJPEG_BOUNDARY } from './ffmpeg/args.js';
import type { FfmpegBinary } from './ffmpeg/locate.js';
import {
  ChildRegistry,
  type FfmpegHandlers,
  type FfmpegProcess,
  startFfmpeg,
} from './ffmpeg/process.js';
import { AccountThrottle } from './guard/account-throttle.js';
import { addressKey, clientAddress, ProxyTrust } from './guard/client-address.js';
import { ConnectionGuard } from './guard/connections.js';
import { connectionCaps, descriptorLimit } from './guard/descriptors.js';
import { FailureLimiter } from './guard/failure-limiter.js';
import { type Redactor, redactorFor } from './guard/redactor.js';
import { Refusals } from './guard/refusals.js';
import { loadAssets } from './http/assets.js';
import { createLogin } from './http/login.js';
import { createMetrics } from './http/metrics.js';
import { createRoutes } from './http/routes.js';
import { Hub } from './hub/hub.js';
import type { Log } from './log.js';
import { attachSocketEndpoint, type SocketEndpoint } from './socket/endpoint.js';

const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};
const STATUS_LINES: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Tables of limiters: addresses or accounts tracked at once (see guard/pressure-table.ts). */
const MAX_TRACKED = 10_000;
/** Password checks waiting for a turn before more are refused with 503. */
const MAX_WAITING_CHECKS = 32;

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address in use (another program has this port; pick another with --port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this machine',
};

export interface CamplexOptions {
  config: Config;
  ffmpeg: FfmpegBinary;
  log: Log;
  /** Folder with the built dashboard (index.html, app.js, ...). */
  publicDir: string;
  clock?: Clock;
  /**
   * Starts the source of one camera. Default: ffmpeg with the camera's arguments. Benchmarks
   * inject recorded frames here so ffmpeg is not what they measure.
   */
  launchSource?: (camera: CameraConfig, handlers: FfmpegHandlers) => FfmpegProcess;
  /** Hides configured secrets in ffmpeg's messages (default: one made from the config). */
  redactor?: Redactor;
}

export interface RunningCamplex {
  /** e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  readonly port: number;
  readonly hub: Hub;
  /** Closes sockets (1001), stops every ffmpeg, stops listening. */
  close(): Promise<void>;
  /** SIGKILLs every ffmpeg at once, synchronously: the last resort of an exiting process. */
  killChildren(): void;
}

/** Builds the object graph and starts listening. */
export async function startCamplex(options: CamplexOptions): Promise<RunningCamplex> {
  const { config, ffmpeg, log } = options;
  const clock = options.clock ?? systemClock;
  const redactor = options.redactor ?? redactorFor(config);
  const redact = (text: string) => redactor.redact(text);
  const assets = loadAssets(options.publicDir);
  const children = new ChildRegistry();
  const tls = config.server.tls;

  const hub = new Hub({
    graceMs: config.stream.graceMs,
    clock,
    log,
    createCameras: (listener) =>
      config.cameras.map((camera) => {
        const args = ffmpegArgs(camera, ffmpeg.rtspTimeoutFlag);
        const launchSource = options.launchSource;
        return new Camera(camera, {
          launch: launchSource
            ? (handlers) => launchSource(camera, handlers)
            : (handlers) =>
                startFfmpeg({ binary: ffmpeg.path, args, redact, registry: children }, handlers),
          ...(camera.stallSeconds !== undefined ? { stallMs: camera.stallSeconds * 1000 } : {}),
          listener,
          clock,
          log: log.child({ camera: camera.id }),
          boundary: MPJPEG_BOUNDARY,
          maxFrameBytes: config.stream.maxFrameBytes,
        });
      }),
  });

  const refusals = new Refusals(log.child({ component: 'limits' }));
  const trust = new ProxyTrust(config.server.trustedProxies);
  const client = (req: IncomingMessage) => {
    const address = clientAddress(req, trust);
    return { address, key: addressKey(address) };
  };
  const access = new Access({
    users: new Map(Object.entries(config.auth.users)),
    tokens: new Map(Object.entries(config.auth.tokens)),
    logins: new LoginSessions({ ttlMs: config.auth.sessionMs, maxSessions: 10_000 }),
    failures: new FailureLimiter({
      maxFailures: config.limits.authFailuresPerMinute,
      windowMs: 60_000,
      maxEntries: MAX_TRACKED,
    }),
    accounts: new AccountThrottle({
      freeFailures: 5,
      baseDelayMs: 1000,
      maxDelayMs: 16_000,
      maxWaitMs: 10_000,
      forgetAfterMs: 15 * 60_000,
      maxEntries: MAX_TRACKED,
    }),
    // One check takes a core for ~60 ms: leave at least one core to the viewers and ffmpeg.
    passwords: new PasswordChecker({
      concurrency: Math.max(1, Math.floor(availableParallelism() / 2)),
      maxWaiting: MAX_WAITING_CHECKS,
    }),
    secureCookies: tls !== undefined,
  });
  const originPolicy: OriginPolicy = {
    allowedOrigins: config.server.allowedOrigins,
    allowedHosts: config.server.allowedHosts,
    secure: tls !== undefined,
  };
  const descriptors = descriptorLimit();
  const caps = connectionCaps(
    { perAddress: config.limits.maxSocketsPerIp, total: config.limits.maxSockets },
    descriptors,
    config.cameras.length,
  );
  log.info(
    { ...caps, descriptorLimit: descriptors ?? null },
    `connection caps: ${caps.perAddress} per address, ${caps.total} in all ` +
      `(descriptor limit ${descriptors ?? 'unknown'})`,
  );
  if (descriptors !== undefined && caps.total > descriptors) {
    log.warn(
      { maxSockets: caps.total, descriptorLimit: descriptors },
      'limits.maxSockets is above the descriptor limit: connections past it fail with EMFILE, ' +
        'and so may cameras (raise the limit, e.g. LimitNOFILE= in a systemd unit)',
    );
  }
  const connections = new ConnectionGuard({ caps, trust, refusals, log });
  // Slow or silent clients (slowloris) cannot hold a connection: whole headers within
  // headersTimeout, checked every second rather than Node's default 30 s; a TLS handshake
  // within the idle time.
  const serverOptions = {
    headersTimeout: config.limits.headersTimeoutMs,
    requestTimeout: config.limits.requestTimeoutMs,
    connectionsCheckingInterval: 1000,
  };
  const server: Server = tls
    ? createHttpsServer({
        ...serverOptions,
        cert: tls.cert,
        key: tls.key,
        handshakeTimeout: config.limits.idleMs,
      })
    : createHttpServer(serverOptions);
  // A connection that sends no request, from accept or after its last response, is closed.
  // Streams that may go quiet (MJPEG, a snapshot's wait, WebSockets) lift this for themselves.
  server.timeout = config.limits.idleMs;
  server.keepAliveTimeout = config.limits.idleMs;
  // Malformed requests, oversized headers and slowloris timeouts end here: say so, then answer
  // as Node would have.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
    // A client that went away mid-request is no bad request (a handler reading it says so).
    if (error.code !== 'ECONNRESET' && error.code !== 'HPE_INVALID_EOF_STATE') {
      refusals.hit('bad-request', `bad request: ${status} ${error.message}`, {
        address: (socket as Socket).remoteAddress,
        code: error.code,
      });
    }
    if (socket.writable)
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_LINES[status] ?? 'Bad Request'}\r\nConnection: close\r\n\r\n`,
      );
    else socket.destroy();
  });
  let sockets: SocketEndpoint | undefined;
  const login = createLogin({
    access,
    originPolicy,
    refusals,
    client,
    onLogout: (token) => sockets?.closeLogin(token, 'logged out'),
  });
  server.on(
    'request',
    createRoutes({
      hub,
      assets,
      log,
      mjpeg: {
        hub,
        refusals,
        maxBufferedBytes: config.stream.maxBufferedBytes,
        slowViewerMs: config.stream.slowViewerMs,
        now: Date.now,
      },
      snapshotWaitMs: 5000,
      startedAt: Date.now(),
      metrics: createMetrics(hub, refusals, () => connections.count),
      access,
      originPolicy,
      refusals,
      connections,
      client,
      login,
    }),
  );
  sockets = attachSocketEndpoint(server, {
    hub,
    log,
    access,
    originPolicy,
    refusals,
    connections,
    client,
    stream: config.stream,
    limits: config.limits,
  });

  const { host } = config.server;
  const front = await listen(connections, server, config.server.port, host, tls !== undefined);
  const { port } = front.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${port}/`;
  const redirect =
    config.server.redirectHttpPort === undefined
      ? undefined
      : await startRedirect(connections, config.server.redirectHttpPort, host, port, originPolicy);
  const endpoint = sockets;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    hub,
    killChildren: () => children.killAll(),
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => front.close(() => resolve()));
        redirect?.front.close();
        redirect?.server.closeAllConnections();
        await endpoint.close();
        await hub.close();
        server.closeAllConnections(); // MJPEG responses never end by themselves
        server.close(() => {}); // stops node:http's timeout checks; it never listened itself
        connections.destroyAll(); // TLS handshakes and refused connections HTTP never saw
        await stopped;
      })();
      return closing;
    },
  };
}

async function listen(
  connections: ConnectionGuard,
  server: Server,
  port: number,
  host: string,
  tls: boolean,
): Promise<NetServer> {
  try {
    return await connections.listen(server, port, host, tls);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new Error(
      `cannot listen on ${host}:${port}: ${LISTEN_ERRORS[code] ?? (error as Error).message}`,
    );
  }
}

/**
 * Plain HTTP on `port` that sends every request to the same path over HTTPS, at the host it
 * was asked for when that is a name camplex trusts (never to a name a client made up).
 */
async function startRedirect(
  connections: ConnectionGuard,
  port: number,
  host: string,
  httpsPort: number,
  policy: OriginPolicy,
): Promise<{ server: Server; front: NetServer }> {
  const server = createHttpServer((req, res) => {
    const name = hostName(req.headers.host);
    if (name === undefined || !isTrustedHost(req, policy)) {
      const body = 'unknown Host: add it to server.allowedHosts to be redirected to HTTPS\n';
      res.writeHead(400, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    const path = (req.url ?? '/').startsWith('/') ? req.url : '/';
    const target = `https://${name.includes(':') ? `[${name}]` : name}:${httpsPort}${path}`;
    res.writeHead(308, { Location: target, 'Content-Length': 0 });
    res.end();
  });
  const front = await listen(connections, server, port, host, false);
  return { server, front };
}
