/**
 * B12, timed units: what keeping the camera's timing costs. camplex copies a camera into
 * fragmented MP4 (MOV for G.711) so every unit keeps its decode time, composition offset and
 * its sound; before, it copied raw Annex B, which has no times. Side by side from one GStreamer
 * RTSP camera at once (one ffmpeg per candidate, all pulling together):
 *
 * - latency: for each picture, when its last bytes came out of ffmpeg in each container, less
 *   when they came out as raw Annex B. Raw Annex B has no lengths, so camplex's old splitter
 *   could hand a unit on only when the next picture's delimiter came: one frame interval later.
 *   That is the bound a container must stay within. NUT and Matroska are measured beside.
 * - CPU: the same seconds recorded as fragmented MP4 and as raw Annex B, read again and again in
 *   this process by the MP4 demuxer (frames/media-units.ts) and by the Annex B splitter: CPU
 *   per picture, ratio to the splitter's.
 *
 * Cameras: 640x360 at 15 fps, H.264 without sound (a unit waits for the next picture), with
 * G.711 in 20 ms packets, and with B-frames and AAC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { CameraConfig } from '../src/config/schema.js';
import { inputArgs } from '../src/ffmpeg/args.js';
import { AnnexBSplitter } from '../src/frames/annexb-splitter.js';
import { MediaUnits } from '../src/frames/media-units.js';
import { type RtspCamera, type RtspCameraOptions, startRtspCamera } from '../support/rtsp.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const FPS = 15;
const FRAME_MS = 1000 / FPS;

/** camplex's own input options for an RTSP camera, quiet. */
const INPUT = (url: string) => [
  ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
  ...inputArgs({ url } as CameraConfig, '-timeout'),
];
/** Raw Annex B, as camplex copied cameras before: the reference for every picture's bytes. */
const ANNEXB = [
  '-map',
  '0:v:0',
  '-c:v',
  'copy',
  '-bsf:v',
  'h264_mp4toannexb,dump_extra=freq=keyframe,h264_metadata=aud=insert',
  '-f',
  'h264',
];
/** Pictures and sound in one file, interleaved as ffmpeg does (a packet waits up to 0.1 s). */
const MUXED = ['-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', '-max_interleave_delta', '100000'];
const CANDIDATES: Record<string, string[]> = {
  // As camplex runs it: the pictures alone on stdout (the sound goes to a second output).
  'fragmented MP4 (camplex)': [
    ...['-map', '0:v:0', '-c', 'copy'],
    ...['-movflags', 'delay_moov+default_base_moof', '-frag_duration', '1', '-f', 'mp4'],
  ],
  NUT: [...MUXED, '-f', 'nut'],
  Matroska: [...MUXED, '-cluster_time_limit', '0', '-cluster_size_limit', '0', '-f', 'matroska'],
};

interface Output {
  chunks: Array<{ at: number; bytes: Buffer }>;
  child: ChildProcess;
}

function pull(url: string, args: string[]): Output {
  const child = spawn('ffmpeg', [...INPUT(url), ...args, 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const output: Output = { chunks: [], child };
  child.stdout?.on('data', (bytes: Buffer) => output.chunks.push({ at: performance.now(), bytes }));
  return output;
}

/** When the byte at `offset` of `output` came out of ffmpeg. */
function arrivalAt(output: Output, offset: number): number | undefined {
  let end = 0;
  for (const chunk of output.chunks) {
    end += chunk.bytes.length;
    if (end > offset) return chunk.at;
  }
  return undefined;
}

/** The ends of the pictures in raw Annex B: where each next delimiter starts. */
function pictureEnds(annexB: Buffer): number[] {
  const ends: number[] = [];
  for (let i = 4; i + 5 < annexB.length; i++) {
    const delimiter =
      annexB[i] === 0 &&
      annexB[i + 1] === 0 &&
      annexB[i + 2] === 0 &&
      annexB[i + 3] === 1 &&
      ((annexB[i + 4] ?? 0) & 0x1f) === 9;
    if (delimiter) ends.push(i);
  }
  return ends;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};

async function measureCamera(camera: RtspCamera, seconds: number) {
  const reference = pull(camera.url(), ANNEXB);
  const outputs = Object.fromEntries(
    Object.entries(CANDIDATES).map(([name, args]) => [name, pull(camera.url(), args)]),
  );
  await new Promise((resolve) => setTimeout(resolve, (seconds + 3) * 1000));
  for (const output of [reference, ...Object.values(outputs)]) output.child.kill('SIGKILL');
  const annexB = Buffer.concat(reference.chunks.map((chunk) => chunk.bytes));
  const ends = pictureEnds(annexB).slice(FPS); // after the first second (start-up)
  const after: Record<string, number> = {};
  for (const [name, output] of Object.entries(outputs)) {
    const whole = Buffer.concat(output.chunks.map((chunk) => chunk.bytes));
    const deltas: number[] = [];
    for (const end of ends) {
      // A picture's last 16 bytes of slice data are the same in every container.
      const marker = annexB.subarray(end - 16, end);
      const base = arrivalAt(reference, end - 1);
      const at = whole.indexOf(marker);
      const came = at < 0 ? undefined : arrivalAt(output, at + marker.length - 1);
      if (base !== undefined && came !== undefined) deltas.push(came - base);
    }
    after[name] = median(deltas);
  }
  return {
    after,
    mp4: Buffer.concat(outputs['fragmented MP4 (camplex)']?.chunks.map((c) => c.bytes) ?? []),
    annexB,
  };
}

/** CPU (ms) per picture reading `bytes` `times` times with `read`. */
function cpuPerPicture(times: number, read: () => number): number {
  let pictures = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < times; i++) pictures += read();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / pictures;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 3 : Math.max(5, options.seconds);
  const cases: Array<{ name: string; camera: RtspCameraOptions }> = [
    { name: 'H.264, no sound', camera: { fps: FPS } },
    { name: 'H.264 + G.711', camera: { fps: FPS, audio: 'pcma' } },
    { name: 'H.264 B-frames + AAC', camera: { fps: FPS, audio: 'aac', bframes: 2 } },
  ];
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  let recorded: { mp4: Buffer; annexB: Buffer } | undefined;
  for (const each of cases) {
    const camera = await startRtspCamera({ width: 640, height: 360, ...each.camera });
    try {
      const { after, mp4, annexB } = await measureCamera(camera, seconds);
      recorded ??= { mp4, annexB };
      const camplex = after['fragmented MP4 (camplex)'] ?? Number.NaN;
      figures.push({
        name: `${each.name}: a picture's bytes after raw Annex B's, fragmented MP4`,
        value: camplex,
        unit: 'ms',
        baseline: FRAME_MS,
        ratio: camplex / FRAME_MS,
        target: `<= ${FRAME_MS.toFixed(1)} ms (when the Annex B splitter could hand it on)`,
        met: camplex <= FRAME_MS + 2,
      });
      notes.push(
        `${each.name}: a picture's last bytes after raw Annex B's (median): ${Object.entries(after)
          .map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`)
          .join(', ')}`,
      );
    } finally {
      await camera.stop();
    }
  }
  if (recorded) {
    const { mp4, annexB } = recorded;
    const times = options.quick ? 20 : 200;
    const demuxer = cpuPerPicture(times, () => {
      let pictures = 0;
      const units = new MediaUnits({
        maxUnitBytes: 1 << 22,
        onUnit: (unit) => {
          if (unit.kind === 'video') pictures++;
        },
      });
      units.push(new Uint8Array(mp4));
      return pictures;
    });
    const splitter = cpuPerPicture(times, () => {
      let pictures = 0;
      const split = new AnnexBSplitter({
        codec: 'h264',
        maxUnitBytes: 1 << 22,
        onUnit: () => pictures++,
      });
      split.push(new Uint8Array(annexB));
      return pictures;
    });
    figures.push({
      name: 'CPU per picture read, MP4 demuxer vs Annex B splitter (640x360)',
      value: demuxer * 1000,
      unit: 'us',
      baseline: splitter * 1000,
      ratio: demuxer / splitter,
    });
  }
  notes.push(
    'Raw Annex B tells where a picture ends only when the next begins, so the splitter handed each unit on a frame interval after its bytes; a container says its length. ffmpeg 5.1 writes a fragment of MP4 when the next packet goes in: a frame interval, as the splitter. NUT comes out at once but stores presentation times only (no decode times for B-frames); Matroska is as late as MP4, with a 1 ms time base. In one file with sound, pictures wait for the sound (interleaving): camplex writes the sound to a second output.',
  );
  return { id: 'B12', title: 'timed units: latency and cost of the container', figures, notes };
}
