/**
 * The plain HTTP routes besides login: dashboard files, the camera list, MJPEG, snapshots,
 * metrics, health; anything else is a JSON 404, or a 405 for methods other than GET and HEAD.
 * Camera paths are matched on the raw path, so an encoded `/` never becomes part of an id.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OPEN_PRINCIPAL } from '../access/access.js';
import { mayWatch, visibleGroups } from '../access/scope.js';
import type { Camera, Frame } from '../camera/camera.js';
import { STREAM_NAME } from '../common/camera-id.js';
import { ErrorCodes } from '../common/errors.js';
import { clip } from '../common/text.js';
import type { Refusals } from '../guard/refusals.js';
import type { Hub, Viewer } from '../hub/hub.js';
import type { Asset } from './assets.js';
import type { Metrics } from './metrics.js';
import { type MjpegOptions, serveMjpeg } from './mjpeg.js';
import { replyError, replyHtml } from './responses.js';

export interface RouteOptions {
  hub: Hub;
  /** The config's camera groups now (name -> camera ids). */
  groups?: () => Readonly<Record<string, readonly string[]>>;
  assets: Map<string, Asset>;
  refusals: Refusals;
  mjpeg: MjpegOptions;
  /** How long a snapshot of a camera without a frame waits for one. */
  snapshotWaitMs: number;
  startedAt: number;
  metrics: Metrics;
}

const MJPEG_ROUTE = new RegExp(`^/mjpeg/(${STREAM_NAME})$`);
/** Greedy, so `/snapshot/cam.jpg.jpg` is camera `cam.jpg`. */
const SNAPSHOT_ROUTE = new RegExp(`^/snapshot/(${STREAM_NAME})\\.jpg$`);
/** What the login page loads, and the embedding client (it holds no secret), reachable without signing in. */
const PUBLIC_ASSETS = new Set(['/style.css', '/favicon.svg', '/client.js', '/client.js.map']);

export function registerRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { hub, refusals } = options;
  for (const [path, asset] of options.assets) {
    const config = { public: PUBLIC_ASSETS.has(path) };
    app.get(path, { config }, (_request, reply) => sendAsset(reply, asset, path));
  }
  app.get('/api/cameras', (request) => {
    const may = (id: string) => mayWatch(request.principal, id);
    return {
      cameras: hub.infos().filter((info) => may(info.id)),
      groups: visibleGroups(options.groups?.() ?? {}, may),
    };
  });
  app.get('/healthz', { config: { public: true } }, () => {
    const cameras = hub.infos();
    return {
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
      cameras: cameras.length,
      live: cameras.filter((c) => c.state === 'live').length,
      viewers: hub.viewerCount,
    };
  });
  app.get('/metrics', async (request, reply) => {
    // Metrics name every camera: not for a user or token limited to some.
    if (request.principal?.cameras) {
      const who = request.principal.via === 'token' ? 'token' : 'user';
      const message = `this ${who} may watch only some cameras, so it may not read /metrics`;
      return replyError(reply, 403, ErrorCodes.FORBIDDEN, message);
    }
    const text = await options.metrics.render();
    return reply.type(options.metrics.contentType).send(text);
  });
  // Before the GET, so HEAD answers headers only instead of starting an endless stream.
  app.head('/mjpeg/*', (request, reply) => {
    if (!cameraOf(request, reply, MJPEG_ROUTE)) return;
    reply.type('multipart/x-mixed-replace').send();
  });
  app.get('/mjpeg/*', (request, reply) => {
    const camera = cameraOf(request, reply, MJPEG_ROUTE);
    if (!camera) return;
    reply.hijack();
    serveMjpeg(options.mjpeg, camera, reply.raw, request.principal ?? OPEN_PRINCIPAL);
  });
  app.get('/snapshot/*', (request, reply) => {
    const camera = cameraOf(request, reply, SNAPSHOT_ROUTE);
    if (camera) return serveSnapshot(options, camera, request, reply);
  });
  // Other methods are answered before their body is read: camplex reads no body here.
  const refuseMethod = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (request.method === 'GET' || request.method === 'HEAD') return done();
    refusals.hit('method', 'method not allowed: 405', {
      method: request.method,
      path: pathOf(request),
    });
    reply.header('Allow', 'GET, HEAD');
    const method = clip(request.method, 64);
    replyError(reply, 405, ErrorCodes.METHOD_NOT_ALLOWED, `${method} is not allowed`);
  };
  // OPTIONS is left to @fastify/cors (preflights of embedding pages); any other OPTIONS ends in
  // the not-found handler, refused like every other method.
  const methods = app.supportedMethods.filter((method) => method !== 'OPTIONS');
  app.route({
    method: methods,
    url: '*',
    onRequest: refuseMethod,
    handler: (request, reply) => notFound(reply, refusals, pathOf(request)),
  });
  app.setNotFoundHandler({ preHandler: refuseMethod }, (request, reply) =>
    notFound(reply, refusals, pathOf(request)),
  );

  /** The camera a camera path names; else the 404 has been sent. */
  function cameraOf(
    request: FastifyRequest,
    reply: FastifyReply,
    route: RegExp,
  ): Camera | undefined {
    const path = pathOf(request);
    const id = route.exec(path)?.[1];
    if (id === undefined) {
      notFound(reply, refusals, path);
      return undefined;
    }
    // A camera the principal may not watch is answered exactly like one that does not exist.
    const camera = mayWatch(request.principal, id) ? hub.camera(id) : undefined;
    if (!camera)
      replyError(reply, 404, ErrorCodes.UNKNOWN_CAMERA, `unknown camera ${JSON.stringify(id)}`);
    return camera;
  }
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '/';
}

function notFound(reply: FastifyReply, refusals: Refusals, path: string): FastifyReply {
  refusals.hit('not-found', 'not found: 404', { path });
  return replyError(reply, 404, ErrorCodes.NOT_FOUND, `nothing at ${clip(path, 80)}`);
}

/**
 * The latest JPEG; a camera that has none yet is woken (a video camera's transcoder too) and
 * given a moment to produce one.
 */
function serveSnapshot(
  options: RouteOptions,
  camera: Camera,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> | FastifyReply {
  const { hub } = options;
  const live = hub.latestJpeg(camera.id);
  if (live) return sendJpeg(reply, live);
  return new Promise((resolve) => {
    let done = false;
    const finish = (frame: Frame | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      hub.unsubscribe(waiter, [camera.id]); // the camera stays up for the grace period
      if (frame) {
        resolve(sendJpeg(reply, frame));
        return;
      }
      const info = camera.info();
      const why = info.reason ? ` - ${info.reason}` : '';
      reply.header('Retry-After', '2');
      const message = `camera "${camera.id}" has no frame yet (${info.state}${why})`;
      resolve(replyError(reply, 503, ErrorCodes.NO_FRAME, message));
    };
    const waiter: Viewer = { sendFrame: (frame) => finish(frame), sendState: () => {} };
    const timer = setTimeout(() => finish(undefined), options.snapshotWaitMs);
    request.raw.socket.setTimeout(0); // the wait is bounded above; the idle timeout must not cut it
    reply.raw.on('close', () => finish(undefined));
    hub.subscribe(waiter, [camera.id]);
  });
}

function sendJpeg(reply: FastifyReply, frame: Frame): FastifyReply {
  return reply
    .type('image/jpeg')
    .send(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.length));
}

function sendAsset(reply: FastifyReply, asset: Asset, path: string): FastifyReply {
  const cache = path === '/' || path.endsWith('.html') ? 'no-cache' : 'public, max-age=300';
  reply.header('Cache-Control', cache);
  if (asset.type.startsWith('text/html')) return replyHtml(reply, asset.body);
  return reply.type(asset.type).send(asset.body);
}
