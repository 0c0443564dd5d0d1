/**
 * Real JPEG frames for the benchmarks: recorded once from ffmpeg (the 16 demo cameras, ~30
 * frames each, with camplex's own arguments), cut by camplex's splitter, and cached under
 * node_modules/.cache/camplex-bench/ so later runs start at once. Feeding them back as mpjpeg
 * bytes lets a benchmark drive camplex exactly as ffmpeg would, without ffmpeg's CPU.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoCameras } from '../../src/config/demo.js';
import { ffmpegArgs, MPJPEG_BOUNDARY } from '../../src/ffmpeg/args.js';
import { MpjpegSplitter } from '../../src/frames/mpjpeg-splitter.js';

const FFMPEG = '/usr/bin/ffmpeg';
export const RECORDED_CAMERAS = 16;
const FRAMES_PER_CAMERA = 30;
/** ffmpeg runs with -re (real time): 30 frames at 10 fps take ~3 s; this is the deadline. */
const RECORD_DEADLINE_MS = 60_000;
const MAX_FRAME_BYTES = 8 * 1024 * 1024;
const CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/camplex-bench/', import.meta.url),
);

/** The recorded JPEGs of one demo camera, in order. */
export interface RecordedCamera {
  id: string;
  frames: Buffer[];
}

/** One cache file per camera: the raw mpjpeg ffmpeg wrote, named after the arguments' hash. */
function cacheFile(id: string, args: readonly string[]): string {
  const key = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 16);
  return join(CACHE_DIR, `${id}-${key}.mpjpeg`);
}

function recordingArgs(n: number): { id: string; args: string[] } {
  const camera = demoCameras(RECORDED_CAMERAS)[n];
  if (!camera) throw new RangeError(`no demo camera ${n}`);
  const args = ffmpegArgs(camera, { output: 'mpjpeg', copyJpeg: false });
  // -frames:v goes right before the output, which is the last argument (pipe:1).
  const output = args.length - 1;
  return {
    id: camera.id,
    args: [...args.slice(0, output), '-frames:v', String(FRAMES_PER_CAMERA), ...args.slice(output)],
  };
}

/** Runs ffmpeg once and resolves with everything it wrote to stdout (recordings). */
export function runFfmpeg(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), RECORD_DEADLINE_MS);
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${FFMPEG} (apt-get install ffmpeg): ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`ffmpeg exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/** Cuts mpjpeg bytes into JPEGs with camplex's own splitter; each JPEG is a copy. */
export function splitMpjpeg(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const splitter = new MpjpegSplitter({
    boundary: MPJPEG_BOUNDARY,
    maxFrameBytes: MAX_FRAME_BYTES,
    onFrame: (jpeg) => frames.push(Buffer.from(jpeg)),
  });
  splitter.push(bytes);
  return frames;
}

async function loadOrRecord(n: number): Promise<RecordedCamera> {
  const { id, args } = recordingArgs(n);
  const file = cacheFile(id, args);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    bytes = await runFfmpeg(args);
    mkdirSync(CACHE_DIR, { recursive: true });
    // Write then rename, so a run cut short never leaves a half file in the cache.
    writeFileSync(`${file}.tmp-${process.pid}`, bytes);
    renameSync(`${file}.tmp-${process.pid}`, file);
  }
  const frames = splitMpjpeg(bytes);
  if (frames.length === 0) throw new Error(`no frames recorded for ${id} (${file})`);
  return { id, frames };
}

let recorded: Promise<RecordedCamera[]> | undefined;

/**
 * The recorded frames of the 16 demo cameras; records them with ffmpeg (in parallel, ~3 s)
 * when the cache does not hold them yet.
 */
export function recordedFrames(): Promise<RecordedCamera[]> {
  recorded ??= Promise.all(Array.from({ length: RECORDED_CAMERAS }, (_, n) => loadOrRecord(n)));
  return recorded;
}

/** One mpjpeg part, exactly as ffmpeg writes it: boundary, headers, JPEG, CRLF. */
export function toMpjpeg(jpeg: Uint8Array): Buffer {
  const head = Buffer.from(
    `--${MPJPEG_BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-length: ${jpeg.length}\r\n\r\n`,
    'latin1',
  );
  return Buffer.concat([head, jpeg, Buffer.from('\r\n', 'latin1')]);
}

/** Average JPEG size over every recorded frame, in bytes. */
export function averageFrameBytes(cameras: readonly RecordedCamera[]): number {
  let bytes = 0;
  let count = 0;
  for (const camera of cameras) {
    for (const frame of camera.frames) {
      bytes += frame.length;
      count++;
    }
  }
  return count > 0 ? bytes / count : 0;
}
