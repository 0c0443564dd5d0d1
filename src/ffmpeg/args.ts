/**
 * Builds ffmpeg's argument lists: for a camera (copy its H.264 / H.265 and its sound into
 * fragmented MP4 with their timestamps, copy an MJPEG camera's JPEGs, or transcode to JPEG), for
 * a probe of what a camera sends, and for the JPEG transcoder fed a copied stream on stdin. Only
 * config values ever reach these arguments (never client input), and ffmpeg is spawned without a
 * shell.
 */
import { fileURLToPath } from 'node:url';
import type { OutputFormat, SourcePlan } from '../camera/source.js';
import type { CameraConfig } from '../config/schema.js';

/** Where ffmpeg writes a camera's sound: a pipe of its own beside stdout's pictures. */
export const SOUND_OUTPUT = 'pipe:3';

/** The multipart boundary ffmpeg writes between JPEGs; the splitter expects the same. */
export const MPJPEG_BOUNDARY = 'camplexframe';

export type { OutputFormat, SourcePlan };

/** Socket timeout for network sources: a frozen camera makes ffmpeg exit instead of hang. */
const IO_TIMEOUT_US = 5_000_000;
const DEFAULT_QUALITY = 7;
const DEMO_WIDTH = 480;
const DEMO_FPS = 10;
/**
 * Copied video goes out as fragmented MP4, a fragment per unit, so every unit keeps the camera's
 * decode time and composition offset; the sound goes to a second output (fd 3) of its own, also
 * fragmented MP4 (G.711 needs QuickTime's flavour: `-f mp4` refuses pcm_alaw; Opus MP4's: `-f mov`
 * refuses it). Two outputs, not two tracks of one, because one file is interleaved by decode
 * time: a camera whose sound stops holds its pictures back for `-max_interleave_delta` (10 s by
 * default), and a small delta makes ffmpeg 5.1 drop B-frames' composition offsets. `delay_moov`
 * writes each track's start in its edit list, which puts both outputs on one timeline.
 * `-frag_duration 1` cuts a fragment before each packet (`frag_every_frame` also does, but writes
 * a sound sample that follows another track's packet with a wrong time).
 */
const FRAGMENTED = ['-movflags', 'delay_moov+default_base_moof', '-frag_duration', '1'];

const COMMON = ['-hide_banner', '-nostdin', '-loglevel', 'error'];

/**
 * Arguments for `camera` run as `plan` says (by default: JPEG, copied as it came from an HTTP
 * camera without fps, width or quality set); `rtspTimeoutFlag` comes from the located binary.
 */
export function ffmpegArgs(
  camera: CameraConfig,
  plan: SourcePlan = { output: 'mpjpeg', copyJpeg: /^https?:/i.test(camera.url) },
  rtspTimeoutFlag: '-timeout' | '-stimeout' = '-timeout',
): string[] {
  const input = inputArgs(camera, rtspTimeoutFlag);
  if (plan.output !== 'mpjpeg') {
    // Video and sound go out as the camera sent them: no decoding, no encoding.
    const video = ['-map', '0:v:0', '-c', 'copy', ...FRAGMENTED, '-f', 'mp4', 'pipe:1'];
    if (!plan.audio) return [...COMMON, ...input, ...video];
    const container = plan.audio === 'pcma' || plan.audio === 'pcmu' ? 'mov' : 'mp4';
    // AAC that came in ADTS (MPEG-TS over HTTP) must lose its headers to go into MP4; ffmpeg 5.1
    // does not add the filter itself for a fragmented output. AAC without them passes as is.
    const adts = plan.audio === 'aac' ? ['-bsf:a', 'aac_adtstoasc'] : [];
    const sound = [
      '-map',
      '0:a:0',
      '-c',
      'copy',
      ...adts,
      ...FRAGMENTED,
      '-f',
      container,
      SOUND_OUTPUT,
    ];
    return [...COMMON, ...input, ...video, ...sound];
  }
  const codec =
    plan.copyJpeg && !shapesJpeg(camera)
      ? ['-c:v', 'copy']
      : [...filterArgs(camera), '-c:v', 'mjpeg', '-q:v', String(camera.quality ?? DEFAULT_QUALITY)];
  return [...COMMON, ...input, '-an', ...codec, ...mpjpegOutput()];
}

/**
 * The JPEG transcoder: Annex B of `codec` on stdin, JPEGs on stdout, shaped by the camera's
 * fps, width and quality. Small probing and low-delay decoding, so it paints within a frame or
 * two. (`-fflags nobuffer` would be wrong here: with raw H.264 on a pipe it makes ffmpeg 5.1
 * write nothing at all.)
 */
export function transcoderArgs(camera: CameraConfig, codec: 'h264' | 'h265'): string[] {
  return [
    ...COMMON,
    '-flags',
    'low_delay',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-f',
    codec === 'h264' ? 'h264' : 'hevc',
    '-i',
    'pipe:0',
    '-fps_mode',
    'passthrough',
    ...filterArgs(camera),
    '-c:v',
    'mjpeg',
    '-q:v',
    String(camera.quality ?? DEFAULT_QUALITY),
    '-flush_packets',
    '1',
    ...mpjpegOutput(),
  ];
}

/** A short look at what `camera` sends: ffmpeg prints its streams and stops (no output). */
export function probeArgs(
  camera: CameraConfig,
  rtspTimeoutFlag: '-timeout' | '-stimeout',
): string[] {
  return ['-hide_banner', '-nostdin', ...inputArgs(camera, rtspTimeoutFlag, false)];
}

/**
 * Whether camera `camera` can be sent as video (a probe or `codec` decides which): network
 * cameras only. A looped file stays JPEG: ffmpeg 5.1 cannot loop (`-stream_loop`) a copied
 * stream through bitstream filters ("A non-NULL packet sent after an EOF").
 */
export function mayCarryVideo(camera: CameraConfig): boolean {
  return /^(rtsps?|https?):/i.test(camera.url) && camera.codec !== 'jpeg';
}

function mpjpegOutput(): string[] {
  return ['-f', 'mpjpeg', '-boundary_tag', MPJPEG_BOUNDARY, 'pipe:1'];
}

/** How ffmpeg reads camera `camera`'s input (also benchmark B12's, for the same options). */
export function inputArgs(
  camera: CameraConfig,
  rtspTimeoutFlag: string,
  realTime = true,
): string[] {
  const url = camera.url;
  if (/^rtsps?:/i.test(url)) {
    return [
      '-rtsp_transport',
      'tcp',
      rtspTimeoutFlag,
      String(IO_TIMEOUT_US),
      // genpts: a camera with B-frames sends units without a presentation time, which the
      // MP4 muxer refuses (one -fflags: a second would replace the first).
      '-fflags',
      'nobuffer+genpts',
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
  if (/^https?:/i.test(url)) return ['-rw_timeout', String(IO_TIMEOUT_US), '-i', url];
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
  return [...(realTime ? ['-re', '-stream_loop', '-1'] : []), '-i', path];
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

function shapesJpeg(camera: CameraConfig): boolean {
  return camera.fps !== undefined || camera.width !== undefined || camera.quality !== undefined;
}
