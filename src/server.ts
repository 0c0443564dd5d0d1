/**
 * Wires camplex together in one place: config -> cameras (one ffmpeg each) -> hub -> HTTP
 * routes and the /ws/cameras endpoint. No module-level state: everything lives in here.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Camera } from './camera/camera.js';
import { type Clock, systemClock } from './camera/clock.js';
import type { Config } from './config/schema.js';
import { ffmpegArgs, MPJPEG_BOUNDARY } from './ffmpeg/args.js';
import type { FfmpegBinary } from './ffmpeg/locate.js';
import { ChildRegistry, startFfmpeg } from './ffmpeg/process.js';
import { loadAssets } from './http/assets.js';
import { createMetrics } from './http/metrics.js';
import { createRoutes } from './http/routes.js';
import { Hub } from './hub/hub.js';
import type { Log } from './log.js';
import { attachSocketEndpoint } from './socket/endpoint.js';

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
        return new Camera(camera, {
          launch: (handlers) => startFfmpeg(ffmpeg.path, args, handlers, children),
          ...(camera.stallSeconds !== undefined ? { stallMs: camera.stallSeconds * 1000 } : {}),
          listener,
          clock,
          log: log.child({ camera: camera.id }),
          boundary: MPJPEG_BOUNDARY,
          maxFrameBytes: config.stream.maxFrameBytes,
        });
      }),
  });

  const server = createHttpServer(
    createRoutes({
      hub,
      assets,
      log,
      maxBufferedBytes: config.stream.maxBufferedBytes,
      snapshotWaitMs: 5000,
      startedAt: Date.now(),
      metrics: createMetrics(hub),
    }),
  );
  const sockets = attachSocketEndpoint(server, {
    hub,
    log,
    maxBufferedBytes: config.stream.maxBufferedBytes,
    maxBlockedMs: config.stream.slowViewerMs,
    pingMs: config.stream.pingMs,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${config.server.host}:${config.server.port}`;
      const why = LISTEN_ERRORS[error.code ?? ''] ?? error.message;
      reject(new Error(`cannot listen on ${where}: ${why}`));
    });
    server.listen(config.server.port, config.server.host, () => {
      server.removeAllListeners('error');
      server.on('error', (error) => log.error({ err: error.message }, 'http server error'));
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}/`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    hub,
    killChildren: () => children.killAll(),
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await sockets.close();
        await hub.close();
        server.closeAllConnections(); // MJPEG responses never end by themselves
        await stopped;
      })();
      return closing;
    },
  };
}
