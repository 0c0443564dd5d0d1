/**
 * B1, fan-out efficiency: 16 cameras x 15 fps to 20 and to 50 viewers, camplex against a bare
 * `ws` broadcast of the same frames to the same clients, runs alternating in one invocation.
 */
import { averageFrameBytes, recordedFrames } from './lib/frames.js';
import {
  alternate,
  CAMERAS,
  compare,
  cpuMs,
  describeRun,
  FPS,
  measureTogether,
  otherLoadNote,
  pairedRatios,
  type RunResult,
  STEADY_WARMUP_MS,
} from './lib/rig.js';
import { median } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

export async function run(options: BenchOptions): Promise<BenchResult> {
  const recordings = await recordedFrames();
  const frameBytes = averageFrameBytes(recordings);
  const clientCounts = options.quick ? [5, 10] : [20, 50];
  const repeats = options.quick ? 1 : 4;
  const warmupMs = options.quick ? 1000 : STEADY_WARMUP_MS;
  const log = (line: string) => process.stderr.write(`B1${line}\n`);
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  const allRuns: RunResult[] = [];
  for (const clients of clientCounts) {
    const base = { clients, warmupMs, seconds: options.seconds };
    const [bare = [], camplex = []] = await alternate(
      [
        { ...base, mode: 'bare' },
        { ...base, mode: 'camplex' },
      ],
      repeats,
      log,
    );
    allRuns.push(...bare, ...camplex);
    // The same two, both servers running at once, each with its own clients process.
    const together: Array<{ bare: RunResult; camplex: RunResult }> = [];
    for (let round = 0; round < repeats; round++) {
      // Alternate which server starts first, so neither always warms up longer.
      const modes =
        round % 2 === 0 ? (['bare', 'camplex'] as const) : (['camplex', 'bare'] as const);
      const runs = await measureTogether(modes.map((mode) => ({ ...base, mode })));
      const byMode = Object.fromEntries(runs.map((run) => [run.spec.mode, run]));
      if (!byMode.bare || !byMode.camplex) throw new Error('side-by-side run incomplete');
      for (const run of runs) log(`${describeRun(run)} (side by side)`);
      together.push({ bare: byMode.bare, camplex: byMode.camplex });
      allRuns.push(byMode.bare, byMode.camplex);
    }
    const pick = (runs: RunResult[], key: keyof RunResult) =>
      median(runs.map((run) => run[key] as number));
    figures.push(
      compare(
        `delivered frames/s, ${clients} clients`,
        'frames/s',
        pick(camplex, 'deliveredFps'),
        pick(bare, 'deliveredFps'),
        { text: '>= 0.95 x bare ws', met: (ratio) => ratio >= 0.95 },
      ),
      compare(
        `delivered MB/s, ${clients} clients`,
        'MB/s',
        pick(camplex, 'deliveredMBps'),
        pick(bare, 'deliveredMBps'),
      ),
      compare(
        `server CPU per delivered MB, ${clients} clients`,
        'ms/MB',
        pick(camplex, 'serverCpuMsPerMB'),
        pick(bare, 'serverCpuMsPerMB'),
        { text: '<= 1.1 x bare ws', met: (ratio) => ratio <= 1.1 },
      ),
      compare(
        `server CPU per delivered MB, ${clients} clients, both servers at once`,
        'ms/MB',
        median(together.map((pair) => pair.camplex.serverCpuMsPerMB)),
        median(together.map((pair) => pair.bare.serverCpuMsPerMB)),
        { text: '<= 1.1 x bare ws', met: (ratio) => ratio <= 1.1 },
      ),
      compare(
        `clients' CPU per delivered MB, ${clients} clients`,
        'ms/MB',
        pick(camplex, 'clientCpuMsPerMB'),
        pick(bare, 'clientCpuMsPerMB'),
      ),
    );
    const split = (runs: RunResult[]) => {
      const perSecond = (run: RunResult, key: 'user' | 'system') =>
        (run.serverEnd.cpu[key] - run.serverStart.cpu[key]) / 1000 / run.clients.seconds;
      const user = median(runs.map((run) => perSecond(run, 'user'))).toFixed(0);
      const system = median(runs.map((run) => perSecond(run, 'system'))).toFixed(0);
      return `${user} user + ${system} system ms/s`;
    };
    const pairs = pairedRatios(camplex, bare, (run) => run.serverCpuMsPerMB)
      .map((ratio) => ratio.toFixed(2))
      .join(', ');
    const togetherPairs = together
      .map((pair) => (pair.camplex.serverCpuMsPerMB / pair.bare.serverCpuMsPerMB).toFixed(2))
      .join(', ');
    const offered = CAMERAS * FPS * clients;
    const share = (runs: RunResult[], cpu: (run: RunResult) => number) =>
      median(runs.map((run) => cpu(run) / run.clients.seconds / 10)).toFixed(0);
    notes.push(
      `${clients} clients: offered ${offered} frames/s; camplex delivered ` +
        `${((pick(camplex, 'deliveredFps') / offered) * 100).toFixed(1)}%, bare ` +
        `${((pick(bare, 'deliveredFps') / offered) * 100).toFixed(1)}%. CPU of one core: ` +
        `camplex server ${share(camplex, (run) => run.serverCpuMs)}%, bare server ` +
        `${share(bare, (run) => run.serverCpuMs)}%, clients process ` +
        `${share(camplex, (run) => cpuMs(run.clients.cpu))}% (camplex run) / ` +
        `${share(bare, (run) => cpuMs(run.clients.cpu))}% (bare run). Server CPU split: ` +
        `camplex ${split(camplex)}, bare ${split(bare)}. Server CPU per MB, camplex/bare ` +
        `round by round: ${pairs}; both at once: ${togetherPairs}.`,
    );
  }
  notes.unshift(
    `${CAMERAS} cameras x ${FPS} fps of recorded demo JPEGs (average ` +
      `${(frameBytes / 1024).toFixed(1)} KiB), fed as mpjpeg bytes (camplex) or as ready ` +
      `JPEGs (bare); medians of ${repeats} alternating run(s) per mode, ` +
      `${options.seconds} s each after ${warmupMs / 1000} s of warm-up. MB = 10^6 bytes.`,
    'At a fixed offered rate both servers normally deliver every frame, so throughput ratios ' +
      'sit near 1.0; the telling figure is server CPU per MB. All viewers live in ONE client ' +
      'process on this 2-core machine, so the receiving side, not the hub, is the first limit.',
    'Both servers make one writev (ws header + JPEG) per message per viewer; that loopback ' +
      'TCP syscall and the wake-ups (each costs tens of microseconds in this VM) are most of ' +
      'either server CPU and vary from run to run, hence alternating runs and medians, and ' +
      'a second measure with both servers running at once (each with its own clients ' +
      'process), where drift of the machine over time weighs on both alike.',
  );
  notes.push(otherLoadNote(allRuns));
  return { id: 'B1', title: 'Fan-out efficiency: camplex vs bare ws broadcast', figures, notes };
}
