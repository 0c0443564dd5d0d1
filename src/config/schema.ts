/**
 * The config file's schema: every key, its type, and a finite default for every limit.
 * load.ts parses YAML against it once at start; nothing else reads raw config.
 */
import { z } from 'zod';
import { isPasswordHash } from '../access/password.js';
import { isAddressOrCidr } from '../guard/client-address.js';
import { CAMERA_ID_PATTERN } from '../protocol/wire.js';

const SOURCE_URL = /^(rtsps?|https?|file|demo):/i;

const cameraSchema = z.strictObject({
  url: z
    .string({ error: 'expected a camera URL (rtsp://, http(s)://, file:// or demo:N)' })
    .min(1, { error: 'expected a camera URL, got an empty string', abort: true })
    .refine((url) => SOURCE_URL.test(url) || url.startsWith('/') || url.startsWith('.'), {
      error: 'expected a URL starting with rtsp://, rtsps://, http://, https://, file:// or demo:',
    }),
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
});

const seconds = (min: number, max: number, fallback: number) =>
  z.number().min(min).max(max).default(fallback);

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.int().min(0).max(65535).default(8080),
      /** Serve HTTPS and WSS with these PEM files. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /** With tls: also listen here over plain HTTP, redirecting to HTTPS. */
      redirectHttpPort: z.int().min(0).max(65535).optional(),
      /** Origins allowed to open the WebSocket besides the server's own (exact match). */
      allowedOrigins: z
        .array(
          z.string().regex(/^https?:\/\/[^/\s]+$/, {
            error: 'expected an origin like https://cams.example.org',
          }),
        )
        .default([]),
      /** Host names accepted while access is open (besides IP literals and localhost). */
      allowedHosts: z.array(z.string().min(1)).default([]),
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
      /** user name -> scrypt hash from `camplex hash-password` */
      users: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: 'expected a user name of 1-64 characters' }),
          z.string().refine(isPasswordHash, {
            error: 'expected a hash from `camplex hash-password` (scrypt$...)',
          }),
        )
        .default({}),
      /** token name -> bearer token for scripts (at least 32 characters) */
      tokens: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected a token name of 1-64 characters' }),
          z.string().regex(/^[A-Za-z0-9._~+/=-]{32,512}$/, {
            error: 'expected a token of 32-512 characters (letters, digits, ._~+/=-)',
          }),
        )
        .default({}),
      sessionHours: z
        .number()
        .min(0.01)
        .max(24 * 365)
        .default(12),
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
  ffmpeg: z
    .strictObject({
      path: z.string().min(1).optional(),
    })
    .prefault({}),
  stream: z
    .strictObject({
      graceSeconds: z.number().min(0).max(3600).default(10),
      /** A viewer whose socket drains nothing for this long while frames wait is closed. */
      slowViewerSeconds: z.number().min(1).max(3600).default(30),
      /** Viewer liveness: a ping this often; two unanswered in a row close the socket. */
      pingSeconds: z.number().min(0.1).max(3600).default(15),
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
  cameras: z.record(z.string(), cameraSchema).default({}),
});

/** One camera as the rest of camplex sees it: validated, named, with its id. */
export interface CameraConfig {
  readonly id: string;
  readonly name: string;
  /** With `user`/`password` folded in (URL-encoded): what ffmpeg opens. */
  readonly url: string;
  readonly user?: string;
  readonly password?: string;
  readonly fps?: number;
  readonly width?: number;
  readonly quality?: number;
  readonly stallSeconds?: number;
}

/** The whole validated, frozen configuration. */
export interface Config {
  /** Where the config came from, for messages ("camplex.yaml", "built-in demo"). */
  readonly origin: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** PEM contents (read at load), when serving HTTPS and WSS. */
    readonly tls?: { readonly cert: string; readonly key: string };
    readonly redirectHttpPort?: number;
    readonly allowedOrigins: readonly string[];
    readonly allowedHosts: readonly string[];
    readonly trustedProxies: readonly string[];
  };
  readonly auth: {
    /** user name -> scrypt hash */
    readonly users: Readonly<Record<string, string>>;
    /** token name -> token */
    readonly tokens: Readonly<Record<string, string>>;
    readonly sessionMs: number;
  };
  readonly limits: {
    readonly maxControlMessageBytes: number;
    readonly maxMessagesPerSecond: number;
    readonly maxCamerasPerCommand: number;
    readonly maxCamerasPerSocket: number;
    readonly maxSocketsPerIp?: number;
    readonly maxSockets?: number;
    readonly idleMs: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly authFailuresPerMinute: number;
  };
  readonly ffmpeg: { readonly path?: string };
  readonly stream: {
    readonly graceMs: number;
    readonly pingMs: number;
    readonly slowViewerMs: number;
    readonly maxFrameBytes: number;
    readonly maxBufferedBytes: number;
    readonly maxUnackedBytes: number;
  };
  readonly cameras: readonly CameraConfig[];
}

export { CAMERA_ID_PATTERN };
