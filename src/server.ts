/**
 * Wires camplex together in one place: config -> cameras (one ffmpeg each) -> hub -> the HTTP
 * app (fastify) and the /ws/cameras endpoint, behind the connection guard. No module-level
 * state: everything lives in here.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { Access, type Scopes } from './access/access.js';
import { Holders } from './access/holders.js';
import { LoginSessions } from './access/login-sessions.js';
import type { OriginPolicy } from './access/origin.js';
import { PasswordChecker } from './access/password.js';
import {
  Camera,
  type CameraInfo,
  type CameraListener,
  type CameraOptions,
} from './camera/camera.js';
import { ownCopy } from './camera/frame.js';
import type { RunningSource, SourceHandlers } from './camera/source.js';
import { Cluster } from './cluster/cluster.js';
import { type Clock, systemClock } from './common/clock.js';
import { Lifecycle } from './common/lifecycle.js';
import type { Log } from './common/log.js';
import { type CameraConfig, type Config, isLoopback } from './config/schema.js';
import { redactorFor } from './config/secrets.js';
import { streamsOf } from './config/streams.js';
import { MPJPEG_BOUNDARY } from './ffmpeg/args.js';
import type { FfmpegBinary } from './ffmpeg/locate.js';
import { ChildRegistry, type FfmpegHandlers, startFfmpeg } from './ffmpeg/process.js';
import { SourceLauncher, type StartFfmpeg } from './ffmpeg/source.js';
import { transcoderLauncher } from './ffmpeg/transcoder.js';
import { AccountThrottle } from './guard/account-throttle.js';
import { addressKey, clientAddress, ProxyTrust } from './guard/client-address.js';
import { ConnectionGuard } from './guard/connections.js';
import { connectionCaps, descriptorLimit } from './guard/descriptors.js';
import { FailureLimiter } from './guard/failure-limiter.js';
import type { Redactor } from './guard/redactor.js';
import { Refusals } from './guard/refusals.js';
import { createHttpApp } from './http/app.js';
import { loadAssets } from './http/assets.js';
import { registerLogin } from './http/login.js';
import { createMetrics } from './http/metrics.js';
import { createRedirectServer } from './http/redirect.js';
import { registerRoutes } from './http/routes.js';
import { Hub } from './hub/hub.js';
import { connectOnvif } from './ptz/onvif.js';
import { PtzCameras, type PtzCamerasOptions } from './ptz/ptz-cameras.js';
import type { ReloadChanges } from './reload/reloader.js';
import { attachSocketEndpoint } from './socket/endpoint.js';
import { SocketRegistry } from './socket/registry.js';

/** Tables of limiters: addresses or accounts tracked at once (see guard/pressure-table.ts). */
const MAX_TRACKED = 10_000;
/** Password checks waiting for a turn before more are refused with 503. */
const MAX_WAITING_CHECKS = 32;

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
  launchSource?: (camera: CameraConfig, handlers: SourceHandlers) => RunningSource;
  /** Hides configured secrets in ffmpeg's messages (default: one made from the config). */
  redactor?: Redactor;
  /** How a camera's PTZ is reached (default: ONVIF). */
  connectPtz?: PtzCamerasOptions['connect'];
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
  /**
   * Applies a reloaded config: cameras added, removed and changed (unchanged ones run on
   * untouched), groups, users and tokens. What needs a restart is only reported.
   */
  reload(next: Config): Promise<ReloadChanges>;
}

/**
 * Builds the object graph and starts listening. Each part built registers how it stops; a
 * start that fails part-way stops what it had built (last built, first stopped) and rejects.
 */
export async function startCamplex(options: CamplexOptions): Promise<RunningCamplex> {
  const lifecycle = new Lifecycle(options.log);
  try {
    return await build(options, lifecycle);
  } catch (error) {
    await lifecycle.close();
    throw error;
  }
}

async function build(options: CamplexOptions, lifecycle: Lifecycle): Promise<RunningCamplex> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const children = new ChildRegistry();
  const redactor = options.redactor ?? redactorFor(config);
  const start = (args: string[], handlers: FfmpegHandlers, stdin = false) =>
    startFfmpeg(
      {
        binary: options.ffmpeg.path,
        args,
        redact: (text) => redactor.redact(text),
        registry: children,
        stdin,
      },
      handlers,
    );
  const supervised = (
    camera: CameraConfig,
    launch: CameraOptions['launch'],
    listener: CameraListener,
    role = {},
  ) =>
    new Camera(camera, {
      launch,
      ...(camera.stallSeconds !== undefined ? { stallMs: camera.stallSeconds * 1000 } : {}),
      listener,
      clock,
      log: log.child({ camera: camera.id, ...role }),
      boundary: MPJPEG_BOUNDARY,
      maxFrameBytes: config.stream.maxFrameBytes,
    });
  /** The config in force (a reload replaces it), and its groups (replaced first). */
  let current = config;
  let groups = config.groups;
  // In a cluster, a camera runs on the node holding its lease; the others get its frames.
  const cluster = config.cluster && (await Cluster.connect(config.cluster, clock, log));
  if (cluster) lifecycle.add('cluster', () => cluster.close());
  /** Stream `camera`'s source: its ffmpeg, or in a cluster the owner's frames when not ours. */
  const source = (camera: CameraConfig, listener: CameraListener) => {
    const local = launcherFor(camera, options, start, redactor);
    const launch = cluster ? cluster.launcher(camera.id, local) : local;
    return supervised(camera, launch, listener);
  };
  const hub = new Hub({
    graceMs: config.stream.graceMs,
    clock,
    log,
    ...(cluster
      ? {
          describe: (info: CameraInfo) => cluster.describe(info),
          onState: (info: CameraInfo) => cluster.onLocalState(info),
        }
      : {}),
    createCameras: (listener) =>
      streamsOf(config.cameras).map((camera) => source(camera, listener)),
    createTranscoder: (source, listener) => {
      const camera = source.config; // the stream's own: a reload that changed it rebuilt it
      const launch = transcoderLauncher({
        camera,
        codec: () => {
          const codec = source.currentCodec;
          return codec === 'h264' || codec === 'h265' ? codec : undefined;
        },
        // Copies: ffmpeg takes them as its pipe drains, past the cached frames' life.
        backlog: () => source.sinceKey.map(ownCopy),
        tap: (listener) => source.tap(listener),
        start: (args, handlers) => start(args, handlers, true),
      });
      // In a cluster only the owner transcodes; the other nodes take its JPEGs.
      const transcode = cluster ? cluster.transcoderLauncher(source.id, launch) : launch;
      return supervised(camera, transcode, listener, { transcoder: true });
    },
  });

  lifecycle.add('cameras', () => hub.close());
  cluster?.attach(hub);
  // Pan, tilt and zoom: a camera's controls appear on every page allowed them once it answers.
  const ptz = new PtzCameras({
    clock,
    random: Math.random,
    log,
    redact: (text) => redactor.redact(text),
    connect: options.connectPtz ?? connectOnvif,
    onChange: (id) => hub.announce(id),
  });
  ptz.reconfigure(config.cameras);
  lifecycle.add('ptz', () => ptz.close());

  const refusals = new Refusals(log.child({ component: 'limits' }));
  const trust = new ProxyTrust(config.server.trustedProxies);
  const client = (req: IncomingMessage) => {
    const address = clientAddress(req, trust);
    return { address, key: addressKey(address) };
  };
  const access = createAccess(config);
  await cluster?.shareSessions(access.logins, config.auth.sessionMs);
  const tls = config.server.tls;
  const originPolicy: OriginPolicy = {
    allowedOrigins: config.server.allowedOrigins,
    allowedHosts: config.server.allowedHosts,
    secure: tls !== undefined,
    trust,
  };
  const connections = new ConnectionGuard({ caps: capsFor(config, log), trust, refusals, log });
  const app = await createHttpApp({
    log,
    access,
    originPolicy,
    refusals,
    connections,
    client,
    tls,
    timeouts: {
      headersMs: config.limits.headersTimeoutMs,
      requestMs: config.limits.requestTimeoutMs,
      idleMs: config.limits.idleMs,
    },
  });
  /** Resolves once a listener stopped and every connection it accepted is gone. */
  const listenersStopped: Array<Promise<void>> = [];
  lifecycle.add('http', async () => {
    app.server.closeAllConnections(); // MJPEG responses never end by themselves
    app.server.close(() => {}); // stops node:http's timeout checks; it never listened itself
    connections.destroyAll(); // TLS handshakes and refused connections HTTP never saw
    await Promise.all(listenersStopped);
  });
  const sockets = new SocketRegistry();
  const holders = new Holders(log.child({ component: 'access' }));
  // Signed out on another node of a cluster: that session's connections here close at once.
  access.logins.onForgotten = (digest) =>
    holders.revokeWhere(
      (principal) =>
        principal.login !== undefined && LoginSessions.isSession(principal.login, digest),
      'logged out',
    );
  registerLogin(app, {
    access,
    originPolicy,
    refusals,
    client,
    onLogout: (token) =>
      holders.revokeWhere((principal) => principal.login === token, 'logged out'),
  });
  registerRoutes(app, {
    hub,
    groups: () => groups,
    assets: loadAssets(options.publicDir),
    refusals,
    mjpeg: {
      hub,
      holders,
      log: log.child({ component: 'mjpeg' }),
      refusals,
      maxBufferedBytes: config.stream.maxBufferedBytes,
      slowViewerMs: config.stream.slowViewerMs,
      now: Date.now,
    },
    snapshotWaitMs: 5000,
    startedAt: Date.now(),
    metrics: createMetrics(hub, refusals, () => connections.count),
  });
  await app.ready();
  const endpoint = attachSocketEndpoint(app.server, {
    hub,
    log,
    access,
    originPolicy,
    refusals,
    connections,
    client,
    cookiesOf: (req) => app.parseCookie(req.headers.cookie ?? ''),
    registry: sockets,
    holders,
    stream: config.stream,
    limits: config.limits,
    groups: () => groups,
    ptz: cluster ? cluster.ptz(ptz) : ptz,
  });
  lifecycle.add('sockets', () => endpoint.close());

  /** Stops accepting on `listener`; the connections it accepted are cut by the 'http' step. */
  const stopAccepting = (listener: NetServer) => () => {
    listenersStopped.push(new Promise<void>((resolve) => listener.close(() => resolve())));
  };
  const { host } = config.server;
  const front = await connections.listen(app.server, config.server.port, host, tls !== undefined);
  lifecycle.add('listener', stopAccepting(front));
  const { port } = front.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const redirect = config.server.redirectHttpPort;
  const redirectServer =
    redirect === undefined ? undefined : createRedirectServer(port, originPolicy);
  const redirectFront: NetServer | undefined =
    redirectServer && (await connections.listen(redirectServer, redirect ?? 0, host, false));
  if (redirectServer && redirectFront) {
    lifecycle.add('redirect', () => {
      stopAccepting(redirectFront)();
      redirectServer.closeAllConnections();
    });
  }

  return {
    url,
    port,
    hub,
    killChildren: () => children.killAll(),
    async reload(next) {
      // Against what runs, not against the last file: a reload that failed part-way left some
      // streams on their old config, and the next one must mend them.
      const sources = streamsOf(next.cameras).map((stream) => {
        const running = hub.camera(stream.id);
        if (!running || asRun(running.config) !== asRun(stream)) return source(stream, hub);
        running.rename(stream); // a new name alone restarts nothing
        return running;
      });
      const ids = (config: Config) => config.cameras.map((camera) => camera.id);
      const summary: ReloadChanges = {
        added: ids(next).filter((id) => !ids(current).includes(id)),
        removed: ids(current).filter((id) => !ids(next).includes(id)),
        changed: next.cameras
          .filter((camera) => {
            const old = current.cameras.find((c) => c.id === camera.id);
            return old !== undefined && JSON.stringify(old) !== JSON.stringify(camera);
          })
          .map((camera) => camera.id),
        // Against the config camplex started with: these sections are never applied.
        needRestart: (['server', 'limits', 'stream', 'ffmpeg', 'cluster'] as const).filter(
          (key) => JSON.stringify(next[key]) !== JSON.stringify(config[key]),
        ),
      };
      access.setCredentials(
        new Map(Object.entries(next.auth.users)),
        new Map(Object.entries(next.auth.tokens)),
        scopesOf(next),
      );
      // Every hello from here on (a narrowed socket's, the new camera list's) has the new groups.
      groups = next.groups;
      // Before the cameras change: no connection may watch on under a credential now gone.
      holders.recheck(access);
      ptz.reconfigure(next.cameras);
      await hub.reconfigure(sources);
      current = next;
      return summary;
    },
    close: () => lifecycle.close(),
  };
}

/** What of a stream's config its source runs by: all of it but the name shown. */
function asRun(stream: CameraConfig): string {
  return JSON.stringify({ ...stream, name: undefined });
}

/** How stream `camera` starts: its ffmpeg (probing first when needed), or a benchmark's source. */
function launcherFor(
  camera: CameraConfig,
  options: CamplexOptions,
  start: StartFfmpeg,
  redactor: Redactor,
): CameraOptions['launch'] {
  const { launchSource } = options;
  if (launchSource) return (handlers) => launchSource(camera, handlers);
  const launcher = new SourceLauncher({
    camera,
    ffmpeg: options.ffmpeg,
    start,
    redact: (text) => redactor.redact(text),
  });
  return (handlers, attempt) => launcher.launch(handlers, attempt);
}

function scopesOf(config: Config): Scopes {
  return {
    users: new Map(Object.entries(config.auth.scopes.users)),
    tokens: new Map(Object.entries(config.auth.scopes.tokens)),
  };
}

/** Who may watch, and how guessing is bounded (docs/SECURITY.md). */
function createAccess(config: Config): Access {
  return new Access({
    users: new Map(Object.entries(config.auth.users)),
    tokens: new Map(Object.entries(config.auth.tokens)),
    scopes: scopesOf(config),
    // Open access moves cameras only where it is the machine's owner: on loopback, with no
    // reverse proxy in front that others reach it through.
    openMayMove: isLoopback(config.server.host) && config.server.trustedProxies.length === 0,
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
    secureCookies: config.server.tls !== undefined,
  });
}

/** The connection caps (configured, or fitted to the descriptor limit), logged at start. */
function capsFor(config: Config, log: Log) {
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
  return caps;
}
