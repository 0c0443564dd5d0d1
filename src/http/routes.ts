/**
 * Every plain HTTP route: dashboard files, the camera list, MJPEG, snapshots, metrics, health,
 * login. Everything but /healthz and the login page's own files needs an authenticated
 * principal once authentication is configured; while it is not, only trusted Host names are
 * answered (see access/origin.ts). Every handler runs inside the error boundary.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Access, isDenial } from '../access/access.js';
import { isTrustedHost, type OriginPolicy } from '../access/origin.js';
import type { Camera, Frame } from '../camera/camera.js';
import { clip } from '../common/text.js';
import type { ConnectionGuard } from '../guard/connections.js';
import type { Refusals } from '../guard/refusals.js';
import type { Hub, Viewer } from '../hub/hub.js';
import type { Log } from '../log.js';
import { ErrorCodes } from '../protocol/errors.js';
import type { Asset } from './assets.js';
import { type Handler, withErrorBoundary } from './boundary.js';
import type { Login } from './login.js';
import type { Metrics } from './metrics.js';
import { type MjpegOptions, serveMjpeg } from './mjpeg.js';
import {
  CONTENT_SECURITY_POLICY,
  redirect,
  SECURITY_HEADERS,
  STRICT_TRANSPORT_SECURITY,
  sendError,
  sendJson,
  wantsHtml,
} from './responses.js';

export interface RouteOptions {
  hub: Hub;
  assets: Map<string, Asset>;
  log: Log;
  mjpeg: MjpegOptions;
  /** How long a snapshot of a camera without a frame waits for one. */
  snapshotWaitMs: number;
  startedAt: number;
  metrics: Metrics;
  access: Access;
  originPolicy: OriginPolicy;
  refusals: Refusals;
  connections: ConnectionGuard;
  /** The client's address and its key for limits (X-Forwarded-For through trusted proxies). */
  client: (req: IncomingMessage) => { address: string; key: string };
  login: Login;
}

const MJPEG_ROUTE = /^\/mjpeg\/([A-Za-z0-9._-]{1,64})$/;
/** Greedy, so `/snapshot/cam.jpg.jpg` is camera `cam.jpg`. */
const SNAPSHOT_ROUTE = /^\/snapshot\/([A-Za-z0-9._-]{1,64})\.jpg$/;
/** Reachable without signing in: health, and what the login page itself loads. */
const PUBLIC_PATHS = new Set(['/healthz', '/login', '/style.css', '/favicon.svg']);

/** The request handler for node:http. */
export function createRoutes(options: RouteOptions): Handler {
  const { hub, assets, access, refusals, login } = options;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!options.connections.admit(req)) {
      sendError(
        res,
        503,
        ErrorCodes.TOO_MANY_CONNECTIONS,
        'too many connections from your address',
        {
          'Retry-After': '10',
          Connection: 'close',
        },
      );
      return;
    }
    if (options.originPolicy.secure)
      res.setHeader('Strict-Transport-Security', STRICT_TRANSPORT_SECURITY);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (!access.required && !isTrustedHost(req, options.originPolicy)) {
      refusals.hit('host', 'request for an unknown Host name refused', { host: req.headers.host });
      sendError(res, 403, ErrorCodes.HOST, 'unknown Host: add it to server.allowedHosts');
      return;
    }
    if (method === 'POST' && path === '/login') return login.login(req, res);
    if (method === 'POST' && path === '/logout') return login.logout(req, res);
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      refusals.hit('method', 'method not allowed: 405', { method, path });
      sendError(res, 405, ErrorCodes.METHOD_NOT_ALLOWED, `${clip(method, 64)} is not allowed`);
      return;
    }
    if (path === '/login') return login.page(req, res);
    const client = options.client(req);
    const auth = PUBLIC_PATHS.has(path) ? undefined : access.authenticate(req, client.key);
    if (auth !== undefined && isDenial(auth)) {
      if (auth.status === 429) {
        refusals.hit('login-rate', 'token from an address with too many failures: refused', {
          address: client.address,
        });
        const seconds = Math.ceil((auth.retryAfterMs ?? 60_000) / 1000);
        sendError(
          res,
          429,
          ErrorCodes.RATE_LIMITED,
          `too many failed sign-ins from your address: try again in ${seconds} s`,
          { 'Retry-After': String(seconds) },
        );
        return;
      }
      refusals.hit('unauthenticated', 'unauthenticated request refused', {
        path,
        address: client.address,
      });
      if (wantsHtml(req)) {
        redirect(res, '/login'); // a person in a browser: show the login page
      } else {
        sendError(
          res,
          401,
          ErrorCodes.UNAUTHENTICATED,
          'sign in or send Authorization: Bearer <token>',
          {
            'WWW-Authenticate': 'Bearer realm="camplex"',
          },
        );
      }
      return;
    }
    const principal = auth;
    const asset = assets.get(path);
    if (asset) {
      sendAsset(res, asset, path);
      return;
    }
    if (path === '/api/session' && principal) {
      login.session(res, principal);
      return;
    }
    if (path === '/api/cameras') {
      sendJson(res, 200, { cameras: hub.infos() });
      return;
    }
    if (path === '/metrics') {
      const text = await options.metrics.render();
      res.writeHead(200, {
        'Content-Type': options.metrics.contentType,
        'Cache-Control': 'no-store',
        ...SECURITY_HEADERS,
      });
      res.end(text);
      return;
    }
    if (path === '/healthz') {
      const cameras = hub.infos();
      sendJson(res, 200, {
        status: 'ok',
        uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
        cameras: cameras.length,
        live: cameras.filter((c) => c.state === 'live').length,
        viewers: hub.viewerCount,
      });
      return;
    }
    const mjpeg = MJPEG_ROUTE.exec(path)?.[1];
    const snapshot = SNAPSHOT_ROUTE.exec(path)?.[1];
    const id = mjpeg ?? snapshot;
    if (id !== undefined) {
      const camera = hub.camera(id);
      if (!camera) {
        sendError(res, 404, ErrorCodes.UNKNOWN_CAMERA, `unknown camera ${JSON.stringify(id)}`);
      } else if (snapshot !== undefined) {
        serveSnapshot(options, camera, req, res);
      } else if (req.method === 'HEAD') {
        sendHead(res, 'multipart/x-mixed-replace');
      } else {
        serveMjpeg(options.mjpeg, camera, res);
      }
      return;
    }
    refusals.hit('not-found', 'not found: 404', { path });
    sendError(res, 404, ErrorCodes.NOT_FOUND, `nothing at ${clip(path, 80)}`);
  };
  return withErrorBoundary(route, options.log, refusals);
}

/** The latest frame; a camera that has none yet is woken and given a moment to produce one. */
function serveSnapshot(
  options: RouteOptions,
  camera: Camera,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const live = camera.latest;
  if (live) {
    sendJpeg(res, live, req.method === 'HEAD');
    return;
  }
  const { hub } = options;
  let done = false;
  const finish = (frame: Frame | undefined) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    hub.unsubscribe(waiter, [camera.id]); // the camera stays up for the grace period
    if (frame) {
      sendJpeg(res, frame, req.method === 'HEAD');
      return;
    }
    const info = camera.info();
    const why = info.reason ? ` - ${info.reason}` : '';
    res.setHeader('Retry-After', '2');
    sendError(
      res,
      503,
      ErrorCodes.NO_FRAME,
      `camera "${camera.id}" has no frame yet (${info.state}${why})`,
    );
  };
  const waiter: Viewer = { sendFrame: (frame) => finish(frame), sendState: () => {} };
  const timer = setTimeout(() => finish(undefined), options.snapshotWaitMs);
  req.socket.setTimeout(0); // the wait is bounded above; the idle timeout must not cut it
  res.on('close', () => finish(undefined));
  hub.subscribe(waiter, [camera.id]);
}

function sendJpeg(res: ServerResponse, frame: Frame, headOnly: boolean): void {
  res.writeHead(200, {
    'Content-Type': 'image/jpeg',
    'Content-Length': frame.jpeg.length,
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
  });
  res.end(headOnly ? undefined : frame.jpeg);
}

function sendAsset(res: ServerResponse, asset: Asset, path: string): void {
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': asset.body.length,
    'Cache-Control': path === '/' || path.endsWith('.html') ? 'no-cache' : 'public, max-age=300',
    ...SECURITY_HEADERS,
    ...(asset.type.startsWith('text/html')
      ? { 'Content-Security-Policy': CONTENT_SECURITY_POLICY }
      : {}),
  });
  res.end(res.req.method === 'HEAD' ? undefined : asset.body);
}

function sendHead(res: ServerResponse, type: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', ...SECURITY_HEADERS });
  res.end();
}
