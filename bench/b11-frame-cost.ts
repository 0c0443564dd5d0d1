/**
 * B11, frame cost: node CPU and system calls per delivered H.264 frame, camplex against the
 * least a relay can do with the same bytes (bench/lib/server.ts `relay-h264`: cut each MP4
 * fragment's media data out of the recorded source's output and `ws.send` it to every
 * subscriber, no acks, timing or flow control), the same clients, one after the other in one
 * run (alternating rounds). camplex's clients subscribe as the dashboard does (H.264 with
 * decode times, batches of 8 ms) and acknowledge as it does (AckCadence); the relay's do not
 * acknowledge.
 * Both are fed recorded 640x360 H.264 at 15 fps by the same in-process source (no ffmpeg and
 * no encoders eat the cores): each fragment built once, copied per frame as a pipe read would
 * hand it over, so its cost, small, is in both.
 *
 * Then, camplex alone: acks on every frame (the reference client before the frame cost work)
 * against the cadence, batches against none, and the most cameras at 15 fps it carries into
 * one viewer with every frame delivered.
 */
import {
  alternate,
  compare,
  cpuMs,
  measure,
  type RunResult,
  type RunSpec,
  STEADY_WARMUP_MS,
} from './lib/rig.js';
import { median } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const FPS = 15;
/** What the dashboard asks for: frames held back at most this long to go together. */
const BATCH_MS = 8;
/** A step of the capacity search passes when the viewer gets this share of the frames. */
const FULL_RATE = 0.97;

/** Node CPU (us) per delivered frame over a run's window. */
const cpuPerFrame = (run: RunResult) =>
  ((cpuMs(run.serverEnd.cpu) - cpuMs(run.serverStart.cpu)) * 1000) /
  (run.deliveredFps * run.clients.seconds);

/** Read and write system calls per delivered frame over a run's window. */
const syscallsPerFrame = (run: RunResult) => {
  const { reads, writes } = run.serverEnd.syscalls;
  const start = run.serverStart.syscalls;
  return (reads - start.reads + writes - start.writes) / (run.deliveredFps * run.clients.seconds);
};

const describe = (run: RunResult) => {
  const { spec } = run;
  return (
    `  ${spec.mode.padEnd(12)} ${spec.cameras} cameras x ${spec.clients} viewers` +
    `${spec.acks ? ` (acks: ${spec.acks})` : ''}: ${run.deliveredFps.toFixed(0)} frames/s, ` +
    `${cpuPerFrame(run).toFixed(1)} us and ${syscallsPerFrame(run).toFixed(2)} syscalls per frame, ` +
    `node ${(run.serverCpuMs / run.clients.seconds / 10).toFixed(0)}% CPU, ` +
    `other processes ${run.otherCpuPercent.toFixed(0)}%`
  );
};

export async function run(options: BenchOptions): Promise<BenchResult> {
  const log = (line: string) => process.stderr.write(`B11${line}\n`);
  const repeats = options.quick ? 1 : 2;
  const seconds = options.quick ? 3 : options.seconds;
  const warmupMs = options.quick ? 1000 : STEADY_WARMUP_MS;
  /** The capacity search compares delivered shares, not CPU: a short warm-up does. */
  const searchWarmupMs = options.quick ? 1000 : 2000;
  const shapes: Array<{ cameras: number; clients: number; target?: number }> = options.quick
    ? [
        { cameras: 1, clients: 1, target: 1.0 },
        { cameras: 16, clients: 1, target: 0.8 },
      ]
    : [
        { cameras: 1, clients: 1, target: 1.0 },
        { cameras: 1, clients: 10 },
        { cameras: 8, clients: 1 },
        { cameras: 8, clients: 10 },
        { cameras: 16, clients: 1, target: 0.8 },
        { cameras: 32, clients: 1 },
        { cameras: 32, clients: 10 },
      ];
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  for (const shape of shapes) {
    const base = { ...shape, fps: FPS, warmupMs, seconds };
    const [relay = [], camplex = []] = await alternate(
      [
        { ...base, mode: 'relay-h264', h264: true },
        { ...base, mode: 'camplex-h264', h264: true, acks: 'cadence', batchMs: BATCH_MS },
      ],
      repeats,
      (line) => log(line),
    );
    const label = `${shape.cameras} camera${shape.cameras > 1 ? 's' : ''} x ${shape.clients} viewer${shape.clients > 1 ? 's' : ''}`;
    const target = shape.target;
    figures.push(
      compare(
        `node CPU per delivered frame, ${label}`,
        'us',
        median(camplex.map(cpuPerFrame)),
        median(relay.map(cpuPerFrame)),
        target === undefined
          ? undefined
          : { text: `<= ${target.toFixed(1)} x bare relay`, met: (ratio) => ratio <= target },
      ),
      compare(
        `syscalls per delivered frame, ${label}`,
        'calls',
        median(camplex.map(syscallsPerFrame)),
        median(relay.map(syscallsPerFrame)),
      ),
    );
    const delivered = (runs: RunResult[]) =>
      runs.map((r) => (r.deliveredFps / (shape.cameras * FPS * shape.clients)).toFixed(3));
    notes.push(
      `${label}: share of frames delivered, camplex ${delivered(camplex).join(', ')}, ` +
        `relay ${delivered(relay).join(', ')}; CPU per frame by round, camplex ` +
        `${camplex.map((r) => cpuPerFrame(r).toFixed(0)).join(', ')} us, relay ` +
        `${relay.map((r) => cpuPerFrame(r).toFixed(0)).join(', ')} us.`,
    );
  }

  // What each part saves, 16 cameras into one viewer: acks on every frame and no batches (the
  // reference client before this work), acks by cadence, and batches as well (the dashboard).
  const wall = { cameras: 16, clients: 1, fps: FPS, warmupMs, seconds, h264: true } as const;
  const [perFrame = [], cadence = [], batched = []] = await alternate(
    [
      { ...wall, mode: 'camplex-h264', acks: 'frame' },
      { ...wall, mode: 'camplex-h264', acks: 'cadence' },
      { ...wall, mode: 'camplex-h264', acks: 'cadence', batchMs: BATCH_MS },
    ],
    repeats,
    (line) => log(line),
  );
  figures.push(
    compare(
      'node CPU per delivered frame, 16 cameras x 1 viewer, acks by cadence vs on every frame',
      'us',
      median(cadence.map(cpuPerFrame)),
      median(perFrame.map(cpuPerFrame)),
    ),
    compare(
      `node CPU per delivered frame, 16 cameras x 1 viewer, batches of ${BATCH_MS} ms vs none`,
      'us',
      median(batched.map(cpuPerFrame)),
      median(cadence.map(cpuPerFrame)),
    ),
    compare(
      `syscalls per delivered frame, 16 cameras x 1 viewer, batches of ${BATCH_MS} ms vs none`,
      'calls',
      median(batched.map(syscallsPerFrame)),
      median(cadence.map(syscallsPerFrame)),
    ),
  );

  // The most cameras camplex carries into one acking viewer with every frame delivered.
  // A config takes at most 256 demo cameras: past that the figure is "at least 256".
  const steps = options.quick ? [16, 32] : [64, 128, 192, 256];
  let carried = 0;
  const tried: string[] = [];
  for (const cameras of steps) {
    const spec: RunSpec = {
      mode: 'camplex-h264',
      cameras,
      clients: 1,
      fps: FPS,
      warmupMs: searchWarmupMs,
      seconds,
      h264: true,
      acks: 'cadence',
      batchMs: BATCH_MS,
    };
    const result = await measure(spec);
    log(describe(result));
    const share = result.deliveredFps / (cameras * FPS);
    const busy = result.serverCpuMs / result.clients.seconds / 10;
    tried.push(`${cameras}: ${(share * 100).toFixed(1)}% delivered, node ${busy.toFixed(0)}%`);
    if (share < FULL_RATE) break;
    carried = cameras;
  }
  const last = steps.at(-1) ?? 0;
  figures.push({
    name: `most 15 fps cameras into one viewer, every frame${carried === last ? ` (at least: ${last} is the most tried)` : ''}`,
    value: carried,
    unit: 'cameras',
  });
  notes.push(
    `Capacity steps (cameras: share of frames the viewer got, node's CPU as % of one core): ` +
      `${tried.join('; ')}. A step passes at >= ${FULL_RATE * 100}% delivered; node is one ` +
      'thread, and the clients process shares the 2 cores.',
    'CPU and syscalls are the server process only (process.cpuUsage, /proc/self/io), per frame ' +
      `the clients received, over ${seconds} s after ${warmupMs / 1000} s of warm-up (a node ` +
      'process settles for about 20 s after it starts); the recorded source runs in the same ' +
      'process on both sides.',
  );
  return { id: 'B11', title: 'frame cost: camplex against a bare relay', figures, notes };
}
