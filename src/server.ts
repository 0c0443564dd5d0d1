/**
 * Wires camplex together in one place: config -> cameras (one ffmpeg each) -> hub -> HTTP
 * routes and the /ws/cameras endpoint. No module-level state: everything lives in here.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Access } from './access/access.js';
import { LimitCounter } from './access/limits.js';
import type { OriginPolicy } from './access/origin.js';
import { SessionStore } from './access/sessions.js';
import { Camera } from './camera/camera.js';
import { type Clock, systemClock } from './camera/clock.js';
import type { CameraConfig, Config } from './config/schema.js';
import { ffmpegArgs, MPJPEG_BOUNDARY } from './ffmpeg/args.js';
import type { FfmpegBinary } from './ffmpeg/locate.js';
import {
  ChildRegistry,
  type FfmpegHandlers,
  type FfmpegProcess,
  startFfmpeg,
} from './ffmpeg/process.js';
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
  const assets = loadAssets(options.publicDir);
  const children = new ChildRegistry();

  const hub = new Hub({
    graceMs: config.stream.graceMs,
    clock,
    log,
    createCamera: (listener) =>
      config.cameras.map((camera) => {
        const args = ffmpegArgs(camera, ffmpeg.rtspTimeoutFlag);
        const launchSource = options.launchSource;
        return new Camera(camera, {
          launch: launchSource
            ? (handlers) => launchSource(camera, handlers)
            : (handlers) => startFfmpeg(ffmpeg.path, args, handlers, children),
          ...(camera.stallSeconds !== undefined ? { stallMs: camera.stallSeconds * 1000 } : {}),
          listener,
          clock,
          log: log.child({ camera: camera.id }),
          boundary: MPJPEG_BOUNDARY,
          maxFrameBytes: config.stream.maxFrameBytes,
        });
      }),
  });

  const access = new Access({
    users: new Map(Object.entries(config.auth.users)),
    tokens: new Map(Object.entries(config.auth.tokens)),
    sessions: new SessionStore({ ttlMs: config.auth.sessionMs, maxSessions: 10_000 }),
  });
  const originPolicy: OriginPolicy = {
    allowedOrigins: config.server.allowedOrigins,
    allowedHosts: config.server.allowedHosts,
    secure: config.server.tls !== undefined,
  };
  const limits = new LimitCounter(log.child({ component: 'limits' }));
  // Slow or silent clients (slowloris) cannot hold a connection: whole headers within
  // headersTimeout, checked every second rather than Node's default 30 s.
  const serverOptions = {
    headersTimeout: config.limits.headersTimeoutMs,
    requestTimeout: config.limits.requestTimeoutMs,
    connectionsCheckingInterval: 1000,
  };
  const server: Server = config.server.tls
    ? createHttpsServer({
        ...serverOptions,
        cert: config.server.tls.cert,
        key: config.server.tls.key,
      })
    : createHttpServer(serverOptions);
  // Malformed requests, oversized headers and slowloris timeouts end here: say so, then answer
  // as Node would have.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
    if (error.code !== 'ECONNRESET') {
      log.info(
        { address: (socket as Socket).remoteAddress, code: error.code },
        `bad request: ${status} ${error.message}`,
      );
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
    limits,
    attemptsPerMinute: config.limits.loginAttemptsPerMinute,
    onLogout: (token) => sockets?.closeLoginSession(token, 'logged out'),
  });
  server.on(
    'request',
    createRoutes({
      hub,
      assets,
      log,
      maxBufferedBytes: config.stream.maxBufferedBytes,
      snapshotWaitMs: 5000,
      startedAt: Date.now(),
      metrics: createMetrics(hub, limits),
      access,
      originPolicy,
      limits,
      login,
    }),
  );
  sockets = attachSocketEndpoint(server, {
    hub,
    log,
    access,
    originPolicy,
    limits,
    stream: config.stream,
    limitsConfig: config.limits,
  });

  await listen(server, config.server.port, config.server.host, log);
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `${config.server.tls ? 'https' : 'http'}://${host}:${port}/`;
  const redirectServer =
    config.server.redirectHttpPort === undefined
      ? undefined
      : await startRedirect(config.server.redirectHttpPort, config.server.host, port, log);
  const endpoint = sockets;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    hub,
    killChildren: () => children.killAll(),
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        redirectServer?.close();
        redirectServer?.closeAllConnections();
        await endpoint.close();
        await hub.close();
        server.closeAllConnections(); // MJPEG responses never end by themselves
        await stopped;
      })();
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string, log: Log): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = LISTEN_ERRORS[error.code ?? ''] ?? error.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', (error) => log.error({ err: error.message }, 'http server error'));
      resolve();
    });
  });
}

/** Plain HTTP on `port` that sends every request to the same path over HTTPS. */
async function startRedirect(
  port: number,
  host: string,
  httpsPort: number,
  log: Log,
): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const name = (req.headers.host ?? host).replace(/:\d+$/, '');
    const target = `https://${name}:${httpsPort}${req.url ?? '/'}`;
    res.writeHead(308, { Location: target, 'Content-Length': 0 });
    res.end();
  });
  await listen(server, port, host, log);
  return server;
}
