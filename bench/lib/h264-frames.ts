/**
 * Recorded H.264 for the benchmarks: the 16 demo patterns encoded once by ffmpeg's libx264
 * (640x360, 15 fps, constrained baseline, a key frame every second, access unit delimiters and
 * parameter sets in band, as a camera sends them), cut into access units by camplex's own
 * splitter and cached beside the JPEG recordings (frames.ts). Replayed, they drive camplex as
 * ffmpeg's `-c copy` of 16 real cameras would, without 16 encoders taking the cores.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnnexBSplitter } from '../../src/frames/annexb-splitter.js';
import { runFfmpeg } from './frames.js';

export const H264_CAMERAS = 16;
export const H264_FPS = 15;
const SECONDS = 10;
const CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/camplex-bench/', import.meta.url),
);
const PATTERNS = ['testsrc2', 'smptehdbars', 'testsrc'];

export interface RecordedH264 {
  id: string;
  /** Access units in decode order, from a key unit; the last one precedes a key unit. */
  units: Array<{ data: Buffer; key: boolean }>;
  /** `avc1.PPCCLL` from the stream's SPS. */
  codecString: string;
}

function argsFor(n: number): string[] {
  const pattern = PATTERNS[n % PATTERNS.length];
  const hue = (n * 137) % 360;
  return [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi'],
    ...['-i', `${pattern}=size=640x360:rate=${H264_FPS},hue=h=${hue}`],
    ...['-frames:v', String(SECONDS * H264_FPS), '-c:v', 'libx264', '-profile:v', 'baseline'],
    ...['-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(H264_FPS), '-bf', '0'],
    ...['-b:v', '1M', '-pix_fmt', 'yuv420p'],
    ...['-bsf:v', 'dump_extra=freq=keyframe,h264_metadata=aud=insert', '-f', 'h264', 'pipe:1'],
  ];
}

async function loadOrRecord(n: number): Promise<RecordedH264> {
  const id = `demo-${String(n + 1).padStart(2, '0')}`;
  const file = join(CACHE_DIR, `${id}-h264-640x360-${H264_FPS}fps-${SECONDS}s.h264`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    bytes = await runFfmpeg(argsFor(n));
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(`${file}.tmp-${process.pid}`, bytes);
    renameSync(`${file}.tmp-${process.pid}`, file);
  }
  const units: RecordedH264['units'] = [];
  let codecString = '';
  const splitter = new AnnexBSplitter({
    codec: 'h264',
    maxUnitBytes: 8 * 1024 * 1024,
    onUnit: (unit) => units.push({ data: Buffer.from(unit.data), key: unit.key }),
    onSequence: (info) => {
      codecString = info.codecString;
    },
  });
  splitter.push(bytes);
  // The last unit waits for a delimiter that never comes; the loop goes on at the first key.
  if (units[0]?.key !== true || codecString === '') {
    throw new Error(`recorded H.264 of ${id} does not start at a key unit (${file})`);
  }
  return { id, units, codecString };
}

let recorded: Promise<RecordedH264[]> | undefined;

/** The 16 recordings; encoded (in parallel, a few seconds) when the cache lacks them. */
export function recordedH264(): Promise<RecordedH264[]> {
  recorded ??= Promise.all(Array.from({ length: H264_CAMERAS }, (_, n) => loadOrRecord(n)));
  return recorded;
}
