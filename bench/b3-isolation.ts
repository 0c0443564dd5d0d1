/**
 * B3, isolation: the B2 load (20 extended-layout viewers) with and without two bad viewers,
 * one reading at ~1 MB/s and one that stops reading once subscribed, alternating in one
 * invocation. The other viewers' p99 must rise by < 1 ms, and camplex's memory must not grow
 * with the stalled viewer's unread data (a bare `ws` broadcast, run once, shows what does).
 * A third variant has the 1 MB/s viewer acknowledge frames (flow control, as the browser
 * does): how old its frames are with and without acks.
 */
import { parseConfig } from '../src/config/load.js';
import { recordedFrames } from './lib/frames.js';
import { alternate, CAMERAS, compare, FPS, otherLoadNote, type RunResult } from './lib/rig.js';
import { median } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

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
  const { maxBufferedBytes, maxUnackedBytes } = parseConfig('', 'defaults', { demo: 1 }).stream;
  // An acking 1 MB/s reader is behind by at most the window plus the frame in transit, and a
  // frame may wait up to one frame interval in its pending slot before it goes.
  const ackedAgeBound = ((maxUnackedBytes + largestFrame) / SLOW_RATE) * 1000 + 1000 / FPS;
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
  const acking = { ...stressed, slowAcks: true };
  const log = (line: string) => process.stderr.write(`B3${line}\n`);
  const [calm = [], rough = [], acked = []] = await alternate(
    [base, stressed, acking],
    repeats,
    log,
  );
  const [bareRough = []] = await alternate([{ ...stressed, mode: 'bare' }], 1, log);

  const p99 = (runs: RunResult[]) =>
    median(runs.map((run) => run.clients.latency?.p99 ?? Number.NaN));
  const fps = (runs: RunResult[]) =>
    median(runs.map((run) => run.clients.normal.frames / run.clients.seconds));
  const growth = (runs: RunResult[], key: 'rss' | 'arrayBuffers') =>
    median(runs.map((run) => run.serverEnd[key] - run.serverStart[key]));
  const slowMBps = (runs: RunResult[]) =>
    median(runs.map((run) => MB(run.clients.slow.bytes) / run.clients.seconds));
  const slowAge = (runs: RunResult[], key: 'p50' | 'p99' = 'p50') =>
    median(runs.map((run) => run.clients.slowLatency?.[key] ?? Number.NaN));

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
    {
      ...compare(
        "1 MB/s viewer's median frame age when it acks frames (baseline: when it does not)",
        'ms',
        slowAge(acked),
        slowAge(rough),
      ),
      target: `<= ${fixed(ackedAgeBound, 0)} ms (window and one frame at 1 MB/s, + 1 frame interval)`,
      met: slowAge(acked) <= ackedAgeBound,
    },
    compare(
      "1 MB/s viewer's p99 frame age when it acks frames (baseline: when it does not)",
      'ms',
      slowAge(acked, 'p99'),
      slowAge(rough, 'p99'),
    ),
    compare(
      "1 MB/s viewer's MB/s when it acks frames (baseline: when it does not)",
      'MB/s',
      slowMBps(acked),
      slowMBps(rough),
    ),
    {
      ...compare(
        `others' p99 latency with the acking variant (baseline: without bad viewers)`,
        'ms',
        p99(acked),
        calmP99,
      ),
      target: `rise < ${P99_RISE_TARGET_MS} ms`,
      met: p99(acked) - calmP99 < P99_RISE_TARGET_MS,
    },
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
        `${fixed(slowMBps(bareRough), 2)} MB/s (bare). Without acks its frames are seconds old ` +
        'in both: between the server and its reads sit the kernel socket buffers (loopback ' +
        'autotunes the receive buffer up to net.ipv4.tcp_rmem max), which bufferedAmount ' +
        `cannot see. When it acks every frame, camplex keeps at most ${fixed(maxUnackedBytes / 1024, 0)} ` +
        'KiB (stream.maxUnackedBytes) unacknowledged, so its frames are about that many bytes / ' +
        '1 MB/s old, plus the frame being read and up to one frame interval in its pending slot.',
      'Runs are shorter than stream.slowViewerSeconds (30 s) and two ping periods, so camplex ' +
        'never closes the stalled viewer here.',
      otherLoadNote([...calm, ...rough, ...bareRough]),
    ],
  };
}
