/**
 * Builds ffmpeg's argument list for one camera. Only config values ever reach these arguments
 * (never client input), and ffmpeg is spawned without a shell.
 */
import { fileURLToPath } from 'node:url';
import type { CameraConfig } from '../config/schema.js';

/** The multipart boundary ffmpeg writes between frames; the splitter expects the same. */
export const MPJPEG_BOUNDARY = 'camplexframe';

/** Socket timeout for network sources: a frozen camera makes ffmpeg exit instead of hang. */
const IO_TIMEOUT_US = 5_000_000;
const DEFAULT_QUALITY = 7;
const DEMO_WIDTH = 480;
const DEMO_FPS = 10;

/** Arguments for `camera`; `rtspTimeoutFlag` comes from the located binary. */
export function ffmpegArgs(
  camera: CameraConfig,
  rtspTimeoutFlag: '-timeout' | '-stimeout' = '-timeout',
): string[] {
  const input = inputArgs(camera, rtspTimeoutFlag);
  const passThrough = isHttp(camera.url) && !needsTranscode(camera);
  const output = passThrough
    ? ['-c:v', 'copy'] // an MJPEG camera's JPEGs go out as they came in: no re-encoding
    : [...filterArgs(camera), '-c:v', 'mjpeg', '-q:v', String(camera.quality ?? DEFAULT_QUALITY)];
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    ...input,
    '-an',
    ...output,
    '-f',
    'mpjpeg',
    '-boundary_tag',
    MPJPEG_BOUNDARY,
    'pipe:1',
  ];
}

function inputArgs(camera: CameraConfig, rtspTimeoutFlag: string): string[] {
  const url = camera.url;
  if (/^rtsps?:/i.test(url)) {
    return [
      '-rtsp_transport',
      'tcp',
      rtspTimeoutFlag,
      String(IO_TIMEOUT_US),
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      '-analyzeduration',
      '500000',
      '-probesize',
      '500000',
      '-i',
      url,
    ];
  }
  if (isHttp(url)) return ['-rw_timeout', String(IO_TIMEOUT_US), '-i', url];
  if (/^demo:/i.test(url)) {
    const n = Number(url.slice('demo:'.length)) || 1;
    const { pattern, hue } = demoLook(n);
    const width = camera.width ?? DEMO_WIDTH;
    const height = Math.round((width * 9) / 16 / 2) * 2;
    const fps = camera.fps ?? DEMO_FPS;
    return [
      '-re',
      '-f',
      'lavfi',
      '-i',
      `${pattern}=size=${width}x${height}:rate=${fps},hue=h=${hue}`,
    ];
  }
  const path = /^file:/i.test(url) ? fileURLToPath(url) : url;
  return ['-re', '-stream_loop', '-1', '-i', path];
}

// Three patterns against a four-column grid, so neighbours differ in every direction.
const PATTERNS = ['testsrc2', 'smptehdbars', 'testsrc'] as const;

/** The lavfi pattern and hue of demo camera `n` (1-based), so each tile looks different. */
function demoLook(n: number): { pattern: string; hue: number } {
  const pattern = PATTERNS[(n - 1) % PATTERNS.length] ?? 'testsrc2';
  const hue = ((n - 1) * 137) % 360; // golden-angle steps keep neighbours apart
  return { pattern, hue };
}

function filterArgs(camera: CameraConfig): string[] {
  if (/^demo:/i.test(camera.url)) return []; // generated at the wanted size and rate
  const filters: string[] = [];
  if (camera.fps !== undefined) filters.push(`fps=${camera.fps}`);
  if (camera.width !== undefined) filters.push(`scale=${camera.width}:-2`);
  return filters.length > 0 ? ['-vf', filters.join(',')] : [];
}

function needsTranscode(camera: CameraConfig): boolean {
  return camera.fps !== undefined || camera.width !== undefined || camera.quality !== undefined;
}

function isHttp(url: string): boolean {
  return /^https?:/i.test(url);
}
