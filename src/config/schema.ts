/**
 * The config's one declaration: every key, its type and message, a finite default for every
 * limit, the rules across keys, and the transform into what the rest of camplex reads (`Config`:
 * milliseconds, cameras as a list, PEM files read). load.ts reads the YAML, merges command-line
 * and environment overrides into it, and parses it once at start.
 */

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { isPasswordHash } from '../access/password.js';
import type { Scope } from '../access/scope.js';
import { CAMERA_ID_PATTERN } from '../common/camera-id.js';
import { isAddressOrCidr } from '../guard/client-address.js';

const SOURCE_URL = /^(rtsps?|https?|file|demo):/i;
const NETWORK_URL = /^((?:rtsps?|https?):\/\/)([^/?#]*)(.*)$/is;
const TOKEN = /^[A-Za-z0-9._~+/=-]{32,512}$/;
/** A group's name, shown as a tab: letters and digits of any script, spaces and . _ - */
const GROUP_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;
const TOKEN_RULE = 'expected a token of 32-512 characters (letters, digits, ._~+/=-)';
const PASSWORD_RULE = 'expected a hash from `camplex hash-password` (scrypt$...)';

/**
 * What a scoped user or token may do: watch the cameras listed and those of the groups listed
 * (every camera when neither is given), and move PTZ cameras only with `ptz: true`.
 */
const scopeFields = {
  cameras: z.array(z.string()).min(1, { error: 'expected at least one camera id' }).optional(),
  groups: z.array(z.string()).min(1, { error: 'expected at least one group name' }).optional(),
  ptz: z.boolean().default(false),
};

const portError = (issue: { input?: unknown }) =>
  typeof issue.input === 'string'
    ? `expected a port number from 0 to 65535, got the text ${JSON.stringify(issue.input)} (a number is written without quotes)`
    : `expected a port number from 0 to 65535, got ${String(issue.input)}`;
const port = z
  .int({ error: portError })
  .min(0, { error: portError })
  .max(65535, { error: portError });
const seconds = (min: number, max: number, fallback: number) =>
  z.number().min(min).max(max).default(fallback);

/** NUL, line breaks, tabs and the other C0/C1 controls: ffmpeg's arguments cannot hold a NUL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_ERROR = 'must not contain control characters (NUL, line breaks, tabs)';
const noControl = (text: string) => !CONTROL.test(text);

const sourceUrl = z
  .string({ error: 'expected a camera URL (rtsp://, http(s)://, file:// or demo:N)' })
  .min(1, { error: 'expected a camera URL, got an empty string', abort: true })
  // ffmpeg's whole command line must fit the kernel's limit for one argument (128 KiB).
  .max(8192, { error: 'expected a URL of at most 8192 characters', abort: true })
  .refine(noControl, { error: CONTROL_ERROR, abort: true })
  .refine((url) => SOURCE_URL.test(url) || url.startsWith('/') || url.startsWith('.'), {
    error: 'expected a URL starting with rtsp://, rtsps://, http://, https://, file:// or demo:',
  });

const cameraSchema = z.strictObject({
  url: sourceUrl,
  /** A second, lighter stream of the same camera (for the grid), addressed as `<id>@sub`. */
  substream: sourceUrl.optional(),
  /**
   * What the camera sends, when known: h264 and h265 pass through to browsers that decode
   * them; jpeg always goes as JPEG. Unset: a short probe before the first start finds out.
   */
  codec: z.enum(['h264', 'h265', 'jpeg'], { error: 'expected h264, h265 or jpeg' }).optional(),
  /**
   * The camera's sound, passed on beside its copied video (never transcoded): aac, opus, pcma
   * (G.711 A-law) or pcmu (mu-law); none (or false) leaves it out. Unset: the probe finds out, so
   * with `codec` set too no probe runs.
   */
  audio: z
    .union([z.literal(false), z.enum(['aac', 'opus', 'pcma', 'pcmu', 'none'])], {
      error: 'expected aac, opus, pcma, pcmu or none',
    })
    .transform((audio) => (audio === false ? 'none' : audio))
    .optional(),
  /** Credentials kept apart from the URL, so they need no URL-encoding and redact exactly. */
  user: z.string().min(1).max(256).optional(),
  password: z.string().min(1).max(1024).optional(),
  name: z.string().min(1).max(200).optional(),
  fps: z.number().positive().max(60).optional(),
  width: z.int({ error: 'expected a whole number of pixels' }).min(16).max(7680).optional(),
  quality: z
    .int({ error: 'expected a whole number from 2 (best) to 31' })
    .min(2)
    .max(31)
    .optional(),
  /** Restart when no frame came for this long (default: the larger of 5 s and 10 frames). */
  stallSeconds: z.number().min(0.5).max(3600).optional(),
  /** Pan, tilt and zoom over ONVIF: the device service's address and its own credentials. */
  ptz: z
    .strictObject({
      onvif: z
        .string()
        .refine((url) => /^https?:\/\/[^\s/@]+(\/\S*)?$/.test(url) && URL.canParse(url), {
          error:
            'expected the ONVIF device service URL like http://192.168.1.20/onvif/device_service (credentials go in user/password)',
        }),
      // The ONVIF client writes the user into SOAP and a header as it is, and hashes the
      // password as ASCII: what it would garble is refused here, clearly.
      user: z
        .string()
        .regex(/^[^\s<>&"'\p{Cc}]{1,256}$/u, {
          error:
            'expected a user name without spaces or < > & " \' (the ONVIF client cannot send them)',
        })
        .optional(),
      password: z
        .string()
        .regex(/^[\x20-\x7e]{1,1024}$/, {
          error: 'expected a password of printable ASCII (the ONVIF client hashes it as ASCII)',
        })
        .optional(),
    })
    .optional(),
});

const fileSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(8080),
      /** Serve HTTPS and WSS with these PEM files. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /** With tls: also listen here over plain HTTP, redirecting to HTTPS. */
      redirectHttpPort: port.optional(),
      /** Origins allowed to open the WebSocket besides the server's own (exact match). */
      allowedOrigins: z
        .array(
          z.string().regex(/^https?:\/\/[^/\s]+$/, {
            error: 'expected an origin like https://cams.example.org',
          }),
        )
        .default([]),
      /** Host names accepted while access is open (besides IP literals and localhost). */
      allowedHosts: z.array(z.string().min(1).toLowerCase()).default([]),
      /** Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs). */
      trustedProxies: z
        .array(
          z.string().refine(isAddressOrCidr, {
            error: 'expected an IP address or a CIDR like 10.0.0.0/8 or fd00::/8',
          }),
        )
        .default([]),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * user name -> scrypt hash from `camplex hash-password` (every camera, may move PTZ
       * cameras), or `{ password, cameras, groups, ptz }` for a user scoped like a token.
       */
      users: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: 'expected a user name of 1-64 characters' }),
          z.union(
            [
              z.string().refine(isPasswordHash, { error: PASSWORD_RULE }),
              z.strictObject({
                password: z.string().refine(isPasswordHash, { error: PASSWORD_RULE }),
                ...scopeFields,
              }),
            ],
            { error: `${PASSWORD_RULE}, or { password, cameras, groups, ptz }` },
          ),
        )
        .default({}),
      /**
       * token name -> bearer token for scripts and embedding pages (at least 32 characters), or
       * `{ token, cameras, groups, ptz }` for a token that may watch only those cameras.
       */
      tokens: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected a token name of 1-64 characters' }),
          z.union(
            [
              z.string().regex(TOKEN, { error: TOKEN_RULE }),
              z.strictObject({
                token: z.string().regex(TOKEN, { error: TOKEN_RULE }),
                ...scopeFields,
              }),
            ],
            { error: `${TOKEN_RULE}, or { token, cameras, groups, ptz }` },
          ),
        )
        .default({}),
      sessionHours: z
        .number()
        .min(0.01)
        .max(24 * 365)
        .default(12),
      /** Serve a non-loopback address without authentication, on purpose (--no-auth). */
      open: z.boolean().default(false),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxControlMessageBytes: z
        .int()
        .min(256)
        .max(16 * 1024 * 1024)
        .default(64 * 1024),
      maxMessagesPerSecond: z.int().min(1).max(10_000).default(50),
      maxCamerasPerCommand: z.int().min(1).max(100_000).default(1024),
      maxCamerasPerSocket: z.int().min(1).max(100_000).default(1024),
      /** TCP connections per client address (default 64); HTTP, MJPEG and WebSocket alike. */
      maxSocketsPerIp: z.int().min(1).max(1_000_000).optional(),
      /** TCP connections in all (default: what the descriptor limit leaves room for). */
      maxSockets: z.int().min(1).max(1_000_000).optional(),
      /** A connection that sends no request this long after accept or the last response closes. */
      idleSeconds: seconds(1, 3600, 10),
      headersTimeoutSeconds: seconds(1, 600, 10),
      requestTimeoutSeconds: seconds(1, 3600, 30),
      /** Failed sign-ins (passwords and tokens) per client address per minute. */
      authFailuresPerMinute: z.int().min(1).max(10_000).default(10),
    })
    .prefault({}),
  ffmpeg: z.strictObject({ path: z.string().min(1).optional() }).prefault({}),
  /** Several camplex nodes sharing the cameras over NATS (docs/CLUSTER.md). */
  cluster: z
    .strictObject({
      nats: z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, {
        error: 'expected a NATS URL like nats://127.0.0.1:4222',
      }),
      /** This node's name (default: the host name). */
      node: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, {
          error: 'expected a node name of 1-64 of A-Z a-z 0-9 . _ -',
        })
        .optional(),
      /** How long a camera's owner may go without renewing before another node takes it. */
      leaseSeconds: z.number().min(1).max(300).default(6),
      /**
       * How this node signs in to NATS (one way): user and password, a token, or a `.creds`
       * file (NATS decentralized auth). Whoever can publish on the bus is a node.
       */
      user: z.string().min(1).max(256).optional(),
      password: z.string().min(1).max(1024).optional(),
      token: z.string().min(1).max(1024).optional(),
      credsFile: z.string().min(1).optional(),
      /** TLS to NATS: the CA that signed the server's certificate, and this node's own. */
      tls: z
        .strictObject({
          ca: z.string().min(1).optional(),
          cert: z.string().min(1).optional(),
          key: z.string().min(1).optional(),
        })
        .optional(),
      /** Accept a NATS server on another machine without credentials (not recommended). */
      insecure: z.boolean().default(false),
    })
    .optional(),
  stream: z
    .strictObject({
      graceSeconds: seconds(0, 3600, 10),
      /** A viewer whose socket drains nothing for this long while frames wait is closed. */
      slowViewerSeconds: seconds(1, 3600, 30),
      /** Viewer liveness: a ping this often; two unanswered in a row close the socket. */
      pingSeconds: seconds(0.1, 3600, 15),
      maxFrameBytes: z
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(8 * 1024 * 1024),
      maxBufferedBytes: z
        .int()
        .min(16 * 1024)
        .max(256 * 1024 * 1024)
        .default(1024 * 1024),
      /** Frame bytes a viewer that acknowledges frames may have unacknowledged at once. */
      maxUnackedBytes: z
        .int()
        .min(16 * 1024)
        .max(256 * 1024 * 1024)
        .default(256 * 1024),
    })
    .prefault({}),
  cameras: z
    .record(
      z.string().regex(CAMERA_ID_PATTERN, {
        error:
          'camera ids must be 1-64 characters of A-Z a-z 0-9 . _ - (they appear in URLs and on the wire)',
      }),
      cameraSchema,
    )
    .default({}),
  /** Tabs of the dashboard's wall: group name -> camera ids, each a camera of `cameras`. */
  groups: z
    .record(
      z.string().regex(GROUP_NAME, {
        error: 'group names must be 1-64 characters of letters, digits, spaces and . _ -',
      }),
      z.array(z.string()).min(1, { error: 'expected at least one camera id' }),
    )
    .default({}),
});

type FileConfig = z.output<typeof fileSchema>;

/** Where the config came from ("camplex.yaml", "built-in demo"), and its folder for PEM files. */
export interface ConfigSource {
  name: string;
  folder: string;
}

/** The schema of a config read from `source`, transformed into `Config`. */
export function configSchema(source: ConfigSource) {
  return fileSchema
    .superRefine(checkAcrossKeys)
    .transform((file, ctx) => toConfig(file, source, ctx));
}

/** The whole validated configuration as camplex reads it. */
export type Config = z.output<ReturnType<typeof configSchema>>;
/** One camera as the rest of camplex sees it: validated, named, with its id. */
export type CameraConfig = Config['cameras'][number];

function checkAcrossKeys(file: FileConfig, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  // One token value under two names would be whichever is listed first: a scoped token could
  // turn out unscoped, or gain PTZ.
  const names = new Map<string, string>();
  for (const [name, entry] of Object.entries(file.auth.tokens)) {
    const token = typeof entry === 'string' ? entry : entry.token;
    const other = names.get(token);
    if (other !== undefined) {
      issue(['auth', 'tokens', name], `the same token as auth.tokens.${other}: give each its own`);
    }
    names.set(token, name);
  }
  for (const kind of ['users', 'tokens'] as const) {
    const entries: Array<[string, string | ScopeFields]> = Object.entries(file.auth[kind]);
    for (const [name, entry] of entries) {
      if (typeof entry === 'string') continue;
      entry.cameras?.forEach((id, i) => {
        if (!Object.hasOwn(file.cameras, id)) {
          issue(
            ['auth', kind, name, 'cameras', i],
            `unknown camera "${id}" (not a key of cameras)`,
          );
        }
      });
      entry.groups?.forEach((group, i) => {
        if (!Object.hasOwn(file.groups, group)) {
          issue(
            ['auth', kind, name, 'groups', i],
            `unknown group "${group}" (not a key of groups)`,
          );
        }
      });
    }
  }
  for (const [group, ids] of Object.entries(file.groups)) {
    ids.forEach((id, i) => {
      if (!Object.hasOwn(file.cameras, id)) {
        issue(['groups', group, i], `unknown camera "${id}" (not a key of cameras)`);
      }
    });
  }
  if (Object.keys(file.cameras).length === 0) {
    issue(['cameras'], 'expected at least one camera (run without --config for demo cameras)');
  }
  const { users, tokens, open } = file.auth;
  const authConfigured = Object.keys(users).length > 0 || Object.keys(tokens).length > 0;
  if (!authConfigured && !isLoopback(file.server.host) && !open) {
    issue(
      ['server', 'host'],
      `refusing to serve ${file.server.host} without authentication: add auth.users ` +
        '(hashes from `camplex hash-password`) or auth.tokens, set CAMPLEX_PASSWORD or ' +
        'CAMPLEX_TOKEN, or pass --no-auth to accept that anyone who can reach it sees every camera',
    );
  }
  if (file.cluster) checkCluster(file.cluster, issue);
  if (file.server.redirectHttpPort !== undefined && !file.server.tls) {
    issue(['server', 'redirectHttpPort'], 'only makes sense with server.tls');
  }
  const { headersTimeoutSeconds: headers, requestTimeoutSeconds: request } = file.limits;
  if (headers > request) {
    issue(
      ['limits', 'headersTimeoutSeconds'],
      `${headers} is longer than limits.requestTimeoutSeconds (${request}): headers are part of the request`,
    );
  }
  for (const [id, camera] of Object.entries(file.cameras)) {
    if (camera.user === undefined && camera.password === undefined) continue;
    const url = NETWORK_URL.exec(camera.url);
    if (!url) issue(['cameras', id], 'user/password need an rtsp:// or http(s):// url');
    else if (url[2]?.includes('@')) {
      issue(
        ['cameras', id],
        'the url has credentials already: put them in user/password, not in both',
      );
    }
  }
}

function toConfig(file: FileConfig, source: ConfigSource, ctx: z.RefinementCtx) {
  const { server, auth, limits, stream } = file;
  const pem = (key: 'cert' | 'key', name: string) =>
    readPem(source.folder, name, ['server', 'tls', key], ctx);
  const tls = server.tls && { cert: pem('cert', server.tls.cert), key: pem('key', server.tls.key) };
  const { sessionHours, users, tokens, ...rest } = auth;
  const scopeOf = (entry: string | ScopeFields, bare: Scope): Scope =>
    typeof entry === 'string' ? bare : resolveScope(entry, file.groups);
  return {
    source: source.name,
    server: { ...server, ...(tls ? { tls } : {}) },
    auth: {
      ...rest,
      /** user name -> scrypt hash */
      users: mapValues(users, (entry) => (typeof entry === 'string' ? entry : entry.password)),
      /** token name -> token */
      tokens: mapValues(tokens, (entry) => (typeof entry === 'string' ? entry : entry.token)),
      /**
       * What each user and token may do. A user given as a bare hash watches every camera and
       * may move PTZ cameras (the household's admin); a bare token only watches.
       */
      scopes: {
        users: mapValues(users, (entry) => scopeOf(entry, { ptz: true })),
        tokens: mapValues(tokens, (entry) => scopeOf(entry, { ptz: false })),
      },
      sessionMs: Math.round(sessionHours * 3600_000),
    },
    limits: {
      maxControlMessageBytes: limits.maxControlMessageBytes,
      maxMessagesPerSecond: limits.maxMessagesPerSecond,
      maxCamerasPerCommand: limits.maxCamerasPerCommand,
      maxCamerasPerSocket: limits.maxCamerasPerSocket,
      ...(limits.maxSocketsPerIp !== undefined ? { maxSocketsPerIp: limits.maxSocketsPerIp } : {}),
      ...(limits.maxSockets !== undefined ? { maxSockets: limits.maxSockets } : {}),
      idleMs: Math.round(limits.idleSeconds * 1000),
      headersTimeoutMs: Math.round(limits.headersTimeoutSeconds * 1000),
      requestTimeoutMs: Math.round(limits.requestTimeoutSeconds * 1000),
      authFailuresPerMinute: limits.authFailuresPerMinute,
    },
    ffmpeg: file.ffmpeg,
    groups: file.groups,
    ...(file.cluster
      ? {
          cluster: {
            nats: file.cluster.nats,
            node: file.cluster.node ?? hostname(),
            leaseMs: Math.round(file.cluster.leaseSeconds * 1000),
            ...natsAuthOf(file.cluster, source),
          },
        }
      : {}),
    stream: {
      graceMs: Math.round(stream.graceSeconds * 1000),
      pingMs: Math.round(stream.pingSeconds * 1000),
      slowViewerMs: Math.round(stream.slowViewerSeconds * 1000),
      maxFrameBytes: stream.maxFrameBytes,
      maxBufferedBytes: stream.maxBufferedBytes,
      maxUnackedBytes: stream.maxUnackedBytes,
    },
    cameras: Object.entries(file.cameras).map(([id, camera]) => ({
      id,
      ...camera,
      name: camera.name ?? id,
      url: withCredentials(camera.url, camera.user, camera.password),
      ...(camera.substream
        ? { substream: withCredentials(camera.substream, camera.user, camera.password) }
        : {}),
    })),
  };
}

interface ScopeFields {
  cameras?: string[] | undefined;
  groups?: string[] | undefined;
  ptz: boolean;
}

/**
 * Groups resolve to their cameras here, when the config is read, so a reload that adds a camera
 * to a group widens everyone scoped by it.
 */
function resolveScope(entry: ScopeFields, groups: Record<string, string[]>): Scope {
  if (entry.cameras === undefined && entry.groups === undefined) return { ptz: entry.ptz };
  const cameras = new Set(entry.cameras);
  for (const group of entry.groups ?? []) for (const id of groups[group] ?? []) cameras.add(id);
  return { cameras: [...cameras], ptz: entry.ptz };
}

function mapValues<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

/**
 * `url` with `user` and `password` as its user info, URL-encoded (ffmpeg decodes them), so a
 * password may hold spaces, '/', '@' or ':' as it is.
 */
function withCredentials(url: string, user?: string, password?: string): string {
  const match = NETWORK_URL.exec(url);
  if (!match || (user === undefined && password === undefined)) return url;
  const [, scheme = '', authority = '', rest = ''] = match;
  const secret = password === undefined ? '' : `:${encodeURIComponent(password)}`;
  return `${scheme}${encodeURIComponent(user ?? '')}${secret}@${authority}${rest}`;
}

/** The text of a PEM file named in the config, relative to the config file's folder. */
function readPem(folder: string, file: string, path: PropertyKey[], ctx: z.RefinementCtx): string {
  const full = resolve(folder, file);
  let text = '';
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code;
    ctx.addIssue({ code: 'custom', path, message: `cannot read ${full}: ${why}` });
    return text;
  }
  if (!text.includes('-----BEGIN ')) {
    ctx.addIssue({ code: 'custom', path, message: `${full} is not a PEM file` });
  }
  return text;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type FileCluster = NonNullable<FileConfig['cluster']>;

/** The bus is a trust boundary: credentials come whole, and a remote NATS needs them. */
function checkCluster(
  cluster: FileCluster,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const ways = [
    cluster.user !== undefined || cluster.password !== undefined,
    cluster.token !== undefined,
    cluster.credsFile !== undefined,
  ].filter(Boolean).length;
  if (ways > 1) {
    issue(['cluster'], 'give one way to sign in to NATS: user and password, token, or credsFile');
  }
  if ((cluster.user === undefined) !== (cluster.password === undefined)) {
    issue(
      ['cluster', cluster.user === undefined ? 'user' : 'password'],
      'user and password go together',
    );
  }
  const url = /^(?:nats|tls):\/\/([^/]*)$/.exec(cluster.nats)?.[1];
  if (url === undefined) return; // the URL's own rule says what is wrong with it
  if (url.includes('@')) {
    issue(
      ['cluster', 'nats'],
      'credentials in the NATS URL are ignored by the client: put them in cluster.user and cluster.password (or token)',
    );
  }
  const host = url.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (ways === 0 && !cluster.insecure && !isLoopback(host)) {
    issue(
      ['cluster', 'nats'],
      `refusing a NATS server on ${host} without credentials: whoever can publish on the bus ` +
        'acts as a node (watches every camera, signs anyone in); give cluster.user and ' +
        'cluster.password, a token or a credsFile, or set cluster.insecure: true',
    );
  }
}

/** The NATS sign-in and TLS settings of a cluster section, files resolved against the config's folder. */
function natsAuthOf(cluster: FileCluster, source: ConfigSource) {
  const path = (file: string) => resolve(source.folder, file);
  return {
    ...(cluster.user !== undefined && cluster.password !== undefined
      ? { user: cluster.user, password: cluster.password }
      : {}),
    ...(cluster.token !== undefined ? { token: cluster.token } : {}),
    ...(cluster.credsFile !== undefined ? { credsFile: path(cluster.credsFile) } : {}),
    ...(cluster.tls
      ? {
          tls: {
            ...(cluster.tls.ca ? { caFile: path(cluster.tls.ca) } : {}),
            ...(cluster.tls.cert ? { certFile: path(cluster.tls.cert) } : {}),
            ...(cluster.tls.key ? { keyFile: path(cluster.tls.key) } : {}),
          },
        }
      : {}),
  };
}
