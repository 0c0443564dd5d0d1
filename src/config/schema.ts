/**
 * The config file's schema: every key, its type, and a finite default for every limit.
 * load.ts parses YAML against it once at start; nothing else reads raw config.
 */
import { z } from 'zod';
import { CAMERA_ID_PATTERN } from '../protocol/wire.js';

const SOURCE_URL = /^(rtsps?|https?|file|demo):/i;

const cameraSchema = z.strictObject({
  url: z
    .string({ error: 'expected a camera URL (rtsp://, http(s)://, file:// or demo:N)' })
    .min(1, { error: 'expected a camera URL, got an empty string', abort: true })
    .refine((url) => SOURCE_URL.test(url) || url.startsWith('/') || url.startsWith('.'), {
      error: 'expected a URL starting with rtsp://, rtsps://, http://, https://, file:// or demo:',
    }),
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

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.int().min(0).max(65535).default(8080),
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
    })
    .prefault({}),
  cameras: z.record(z.string(), cameraSchema).default({}),
});

export type CameraConfigInput = z.infer<typeof cameraSchema>;
export type ConfigFile = z.infer<typeof configSchema>;

/** One camera as the rest of camplex sees it: validated, named, with its id. */
export interface CameraConfig {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly fps?: number;
  readonly width?: number;
  readonly quality?: number;
  readonly stallSeconds?: number;
}

/** The whole validated, frozen configuration. */
export interface Config {
  /** Where the config came from, for messages ("camplex.yaml", "built-in demo"). */
  readonly origin: string;
  readonly server: { readonly host: string; readonly port: number };
  readonly ffmpeg: { readonly path?: string };
  readonly stream: {
    readonly graceMs: number;
    readonly pingMs: number;
    readonly slowViewerMs: number;
    readonly maxFrameBytes: number;
    readonly maxBufferedBytes: number;
  };
  readonly cameras: readonly CameraConfig[];
}

export { CAMERA_ID_PATTERN };
