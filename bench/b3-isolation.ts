/**
 * B3, isolation: the B2 load (20 extended-layout viewers) with and without two bad viewers,
 * one reading at ~1 MB/s and one that stops reading once subscribed, alternating in one
 * invocation. The other viewers' p99 must rise by < 1 ms, and camplex's memory must not grow
 * with the stalled viewer's unread data (a bare `ws` broadcast, run once, shows what does).
 */
import { parseConfig } from '../src/config/load.js';
import {
  alternate,
  CAMERAS,
  compare,
  FPS,
  median,
  otherLoadNote,
  type RunResult,
} from './b1-fanout.js';
import { recordedFrames } from './frames.js';
import type { BenchFigure, BenchOptions, BenchResult } from './types.js';

const SLOW_RATE = 1_000_000;
const P99_RISE_TARGET_MS = 1;
/** Memory figures are whole-process numbers; this much of their movement is GC noise. */
const MEMORY_NOISE_BYTES = 2 * 1024 * 1024;

const MB = (bytes: number) => bytes / 1e6;
const fixed = (value: number, digits = 1) => value.toFixed(digits);

export async function run(options: BenchOptions): Promise<BenchResult> {
  const recordings = await recordedFrames();
  const largestFrame = Math.max(
    ...recordings.flatMap((camera) => camera.frames.map((frame) => frame.length)),
  );
  const { maxBufferedBytes } = parseConfig('', 'defaults', { demo: 1 }).stream;
  const clients = options.quick ? 5 : 20;
  const repeats = options.quick ? 1 : 4;
  const base = {
    mode: 'camplex' as const,
    clients,
    extended: true,
    warmupMs: options.quick ? 1000 : 2000,
    seconds: options.seconds,
    gcBeforeStats: true,
  };
  const stressed = { ...base, slow: 1, slowRate: SLOW_RATE, stalled: 1 };
  const log = (line: string) => process.stderr.write(`B3${line}\n`);
  const [calm = [], rough = []] = await alternate([base, stressed], repeats, log);
  const [bareRough = []] = await alternate([{ ...stressed, mode: 'bare' }], 1, log);

  const p99 = (runs: RunResult[]) =>
    median(runs.map((run) => run.clients.latency?.p99 ?? Number.NaN));
  const fps = (runs: RunResult[]) =>
    median(runs.map((run) => run.clients.normal.frames / run.clients.seconds));
  const growth = (runs: RunResult[], key: 'rss' | 'arrayBuffers') =>
    median(runs.map((run) => run.serverEnd[key] - run.serverStart[key]));
  const slowMBps = (runs: RunResult[]) =>
    median(runs.map((run) => MB(run.clients.slow.bytes) / run.clients.seconds));
  const slowAge = (runs: RunResult[]) =>
    median(runs.map((run) => run.clients.slowLatency?.p50 ?? Number.NaN));

  const calmP99 = p99(calm);
  const roughP99 = p99(rough);
  const rise = roughP99 - calmP99;
  // What camplex may hold for the two bad viewers: each socket's buffer bound plus one
  // pending frame per camera, plus noise.
  const cap = 2 * (maxBufferedBytes + CAMERAS * largestFrame) + MEMORY_NOISE_BYTES;
  const frameMemory = growth(rough, 'arrayBuffers');
  const unread = median(rough.map((run) => run.clients.normal.bytes / clients));
  const figures: BenchFigure[] = [
    {
      ...compare(
        `others' p99 latency with a 1 MB/s + a stalled viewer (baseline: without)`,
        'ms',
        roughP99,
        calmP99,
      ),
      target: `rise < ${P99_RISE_TARGET_MS} ms`,
      met: rise < P99_RISE_TARGET_MS,
    },
    compare(
      `others' delivered frames/s with them (baseline: without)`,
      'frames/s',
      fps(rough),
      fps(calm),
    ),
    {
      ...compare(
        'server frame memory growth with them (arrayBuffers after GC; baseline: bare ws)',
        'MB',
        MB(frameMemory),
        MB(growth(bareRough, 'arrayBuffers')),
      ),
      target: `<= ${fixed(MB(cap))} MB (2 x socket cap + noise)`,
      met: frameMemory <= cap,
    },
    compare(
      'server RSS growth with them (after GC; baseline: bare ws)',
      'MB',
      MB(growth(rough, 'rss')),
      MB(growth(bareRough, 'rss')),
    ),
    compare(
      "1 MB/s viewer's median frame age (baseline: bare ws)",
      'ms',
      slowAge(rough),
      slowAge(bareRough),
    ),
  ];
  const rssLine = (label: string, runs: RunResult[]) =>
    `${label} ${runs
      .map(
        (run) =>
          `${fixed(MB(run.serverStart.rss))} -> ${fixed(MB(run.serverEnd.rss))} ` +
          `(peak ${fixed(MB(run.serverPeakRss))})`,
      )
      .join(', ')}`;
  return {
    id: 'B3',
    title: `Isolation: one 1 MB/s viewer and one stalled viewer among ${clients}`,
    figures,
    notes: [
      `${CAMERAS} cameras x ${FPS} fps to ${clients} extended-layout viewers, camplex with and ` +
        `without the two bad viewers (alternating, ${repeats} run(s) each, medians), then a ` +
        `bare ws broadcast with them once. Others' p99 rose by ${fixed(rise, 2)} ms.`,
      'Server RSS at window start -> end, MB (full GC before each): ' +
        `${rssLine('camplex without', calm)}; ${rssLine('camplex with', rough)}; ` +
        `${rssLine('bare with', bareRough)}.`,
      `The stalled viewer left ~${fixed(MB(unread))} MB unread during the window; camplex ` +
        `holds at most ${fixed(MB(maxBufferedBytes), 2)} MB (stream.maxBufferedBytes) in its ` +
        `socket plus one pending frame per camera (largest ${fixed(largestFrame / 1024)} KiB); ` +
        'kernel socket buffers are not in RSS. Memory figures are whole-process; RSS moves ' +
        'with GC, so frame memory (arrayBuffers, where JPEG buffers live) is judged.',
      `The 1 MB/s viewer got ${fixed(slowMBps(rough), 2)} MB/s (camplex) / ` +
        `${fixed(slowMBps(bareRough), 2)} MB/s (bare). Its frames are seconds old in both: ` +
        'between the server and its reads sit the kernel socket buffers (loopback autotunes ' +
        'the receive buffer up to net.ipv4.tcp_rmem max), which camplex does not bound.',
      'Runs are shorter than stream.slowViewerSeconds (30 s) and two ping periods, so camplex ' +
        'never closes the stalled viewer here.',
      otherLoadNote([...calm, ...rough, ...bareRough]),
    ],
  };
}
