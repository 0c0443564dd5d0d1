/**
 * B1, fan-out efficiency: 16 cameras x 15 fps to 20 and to 50 viewers, camplex against a bare
 * `ws` broadcast of the same frames to the same clients, runs alternating in one invocation.
 * Also the harness B2 and B3 share: `measure()` starts a server child (bench/server.ts) and a
 * clients child (bench/clients.ts), warms up, and reads both over one measured window.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientsReport } from './clients.js';
import { averageFrameBytes, recordedFrames } from './frames.js';
import { LineChild } from './line-child.js';
import type { ServerMode, ServerStats } from './server.js';
import type { BenchFigure, BenchOptions, BenchResult } from './types.js';

export const CAMERAS = 16;
export const FPS = 15;
const START_DEADLINE_MS = 30_000;
/** Other processes using more than this much of one core make a round too noisy to keep. */
const NOISY_OTHER_CPU_PERCENT = 25;
/** Set to a folder to write a V8 CPU profile of every benchmark server there. */
const PROFILE_ENV = 'CAMPLEX_BENCH_CPU_PROF';
let profiles = 0;

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./clients.ts', import.meta.url));

/** One configuration measured once. */
export interface RunSpec {
  mode: ServerMode;
  clients: number;
  extended?: boolean;
  /** Viewers reading at `slowRate` bytes/s (default 1 MB/s). */
  slow?: number;
  slowRate?: number;
  /** The slow viewers acknowledge every frame (flow control, as the browser does). */
  slowAcks?: boolean;
  /** Viewers that stop reading once subscribed. */
  stalled?: number;
  warmupMs: number;
  seconds: number;
  /** Full GC in the server before the start and end samples (B3): comparable memory. */
  gcBeforeStats?: boolean;
}

export interface RunResult {
  spec: RunSpec;
  clients: ClientsReport;
  serverStart: ServerStats;
  serverEnd: ServerStats;
  /** Highest server RSS sampled once a second over the window (bytes). */
  serverPeakRss: number;
  /** The server sampled once a second over the window, start and end included. */
  serverSamples: ServerStats[];
  /** Every client together, per second of the window. */
  deliveredFps: number;
  /** 10^6 bytes per second, every client together. */
  deliveredMBps: number;
  serverCpuMs: number;
  serverCpuMsPerMB: number;
  clientCpuMsPerMB: number;
  /**
   * CPU the rest of the machine used during the window (% of one core): other processes
   * running meanwhile make the figures noisy, so every run says how busy the machine was.
   */
  otherCpuPercent: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU time every core of the machine spent busy so far (ms). */
function machineBusyMs(): number {
  let busy = 0;
  for (const { times } of cpus()) busy += times.user + times.nice + times.sys + times.irq;
  return busy;
}
const cpuMs = (cpu: { user: number; system: number }) => (cpu.user + cpu.system) / 1000;

/** A server child and the clients child that views it. */
interface Rig {
  spec: RunSpec;
  server: LineChild;
  clients: LineChild | undefined;
}

async function startRig(spec: RunSpec): Promise<Rig> {
  const profileDir = process.env[PROFILE_ENV];
  const nodeFlags = profileDir
    ? [
        // One folder per run: the loader thread of --import tsx writes a profile of its own.
        '--cpu-prof',
        '--cpu-prof-interval=250',
        `--cpu-prof-dir=${join(profileDir, `${++profiles}-${spec.mode}-${spec.clients}c`)}`,
      ]
    : [];
  if (spec.gcBeforeStats) nodeFlags.push('--expose-gc');
  const rig: Rig = {
    spec,
    server: new LineChild(
      `${spec.mode} server`,
      SERVER,
      [spec.mode, String(CAMERAS), String(FPS)],
      nodeFlags,
    ),
    clients: undefined,
  };
  try {
    const port = await rig.server.waitFor<number>('port', START_DEADLINE_MS);
    const args = ['--url', `ws://127.0.0.1:${port}/ws/cameras`, '--clients', String(spec.clients)];
    if (spec.extended) args.push('--extended');
    if (spec.slow) args.push('--slow', String(spec.slow));
    if (spec.slowRate) args.push('--slow-rate', String(spec.slowRate));
    if (spec.slowAcks) args.push('--slow-acks');
    if (spec.stalled) args.push('--stalled', String(spec.stalled));
    rig.clients = new LineChild('bench clients', CLIENTS, args);
    await rig.clients.waitFor('ready', START_DEADLINE_MS);
    return rig;
  } catch (error) {
    await stopRig(rig);
    throw error;
  }
}

async function stopRig(rig: Rig): Promise<void> {
  await rig.clients?.stop();
  await rig.server.stop();
}

/** Starts a server and its clients, warms up, measures `seconds`, and stops both. */
export async function measure(spec: RunSpec): Promise<RunResult> {
  const [result] = await measureTogether([spec]);
  if (!result) throw new Error('no result');
  return result;
}

/**
 * Runs every spec's server and clients at the same time, over one shared window: whatever the
 * machine does meanwhile (other load, CPU frequency, a noisy neighbour of the VM) weighs on
 * all of them alike, so their ratios are steadier than those of runs taken one after another.
 */
export async function measureTogether(specs: readonly RunSpec[]): Promise<RunResult[]> {
  const rigs: Rig[] = [];
  try {
    for (const spec of specs) rigs.push(await startRig(spec));
    await sleep(Math.max(...specs.map((spec) => spec.warmupMs)));
    const seconds = Math.max(...specs.map((spec) => spec.seconds));

    // A collection (when asked for) happens outside the window the clients measure.
    const statsOf = (rig: Rig) => ({ cmd: 'stats', gc: rig.spec.gcBeforeStats === true });
    const serverStarts = await Promise.all(
      rigs.map((rig) => rig.server.ask<ServerStats>(statsOf(rig), 'stats')),
    );
    await Promise.all(rigs.map((rig) => rig.clients?.ask({ cmd: 'reset' }, 'reset')));
    const machineAtStart = machineBusyMs();
    const selfAtStart = process.cpuUsage();
    const samples = serverStarts.map((start) => [start]);
    const steps = Math.ceil(seconds);
    for (let step = 0; step < steps - 1; step++) {
      await sleep(1000);
      const now = await Promise.all(
        rigs.map((rig) => rig.server.ask<ServerStats>({ cmd: 'stats' }, 'stats')),
      );
      for (const [i, sample] of now.entries()) samples[i]?.push(sample);
    }
    await sleep((seconds - (steps - 1)) * 1000);
    const reports = await Promise.all(
      rigs.map((rig) => rig.clients?.ask<ClientsReport>({ cmd: 'report' }, 'report')),
    );
    const machineMs = machineBusyMs() - machineAtStart;
    const selfMs = cpuMs(process.cpuUsage(selfAtStart));
    const serverEnds = await Promise.all(
      rigs.map((rig) => rig.server.ask<ServerStats>(statsOf(rig), 'stats')),
    );
    let childrenMs = 0;
    const partial = rigs.map((rig, i) => {
      const report = reports[i];
      const serverStart = serverStarts[i];
      const serverEnd = serverEnds[i];
      if (!report || !serverStart || !serverEnd) throw new Error('missing stats');
      const serverSamples = [...(samples[i] ?? []), serverEnd];
      const frames = report.normal.frames + report.slow.frames + report.stalled.frames;
      const megabytes = (report.normal.bytes + report.slow.bytes + report.stalled.bytes) / 1e6;
      const serverCpuMs = cpuMs(serverEnd.cpu) - cpuMs(serverStart.cpu);
      childrenMs += serverCpuMs + cpuMs(report.cpu);
      return {
        spec: rig.spec,
        clients: report,
        serverStart,
        serverEnd,
        serverPeakRss: Math.max(...serverSamples.map((sample) => sample.rss)),
        serverSamples,
        deliveredFps: frames / report.seconds,
        deliveredMBps: megabytes / report.seconds,
        serverCpuMs,
        serverCpuMsPerMB: megabytes > 0 ? serverCpuMs / megabytes : Number.NaN,
        clientCpuMsPerMB: megabytes > 0 ? cpuMs(report.cpu) / megabytes : Number.NaN,
      };
    });
    const otherCpuPercent = Math.max(0, (machineMs - childrenMs - selfMs) / seconds / 10);
    return partial.map((result) => ({ ...result, otherCpuPercent }));
  } finally {
    for (const rig of rigs) await stopRig(rig);
  }
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? upper) + upper) / 2;
}

/** A figure comparing camplex with a baseline, with its target judged on the ratio. */
export function compare(
  name: string,
  unit: string,
  value: number,
  baseline: number,
  target?: { text: string; met: (ratio: number) => boolean },
): BenchFigure {
  const ratio = baseline !== 0 ? value / baseline : Number.NaN;
  return {
    name,
    value,
    unit,
    baseline,
    ratio,
    ...(target ? { target: target.text, met: target.met(ratio) } : {}),
  };
}

/**
 * Runs `specs` in turn, `repeats` rounds, and returns the runs of each spec in round order.
 * Every other round goes in reverse (A B, B A, A B, ...), so no spec always runs first. A round
 * during which other processes kept the machine busy is run again, up to `repeats` times in all.
 */
export async function alternate(
  specs: readonly RunSpec[],
  repeats: number,
  log: (line: string) => void,
): Promise<RunResult[][]> {
  const results: RunResult[][] = specs.map(() => []);
  let retries = 0;
  for (let round = 0; round < repeats; round++) {
    const order = [...specs.keys()];
    if (round % 2 === 1) order.reverse();
    const runs: Array<{ index: number; result: RunResult }> = [];
    for (const index of order) {
      const spec = specs[index];
      if (!spec) continue;
      const result = await measure(spec);
      log(describeRun(result));
      runs.push({ index, result });
    }
    const busiest = Math.max(...runs.map(({ result }) => result.otherCpuPercent));
    if (busiest > NOISY_OTHER_CPU_PERCENT && retries < repeats) {
      retries++;
      log(`  (other processes used ${busiest.toFixed(0)}% of a core: running that round again)`);
      round--;
      continue;
    }
    for (const { index, result } of runs) results[index]?.push(result);
  }
  return results;
}

/** camplex / bare of one key, pair by pair (runs of one round sit side by side in time). */
export function pairedRatios(
  camplex: readonly RunResult[],
  bare: readonly RunResult[],
  key: (run: RunResult) => number,
): number[] {
  return camplex.flatMap((run, round) => {
    const other = bare[round];
    return other ? [key(run) / key(other)] : [];
  });
}

/** How busy the rest of the machine was over `runs`, as a note. */
export function otherLoadNote(runs: readonly RunResult[]): string {
  const load = runs.map((run) => run.otherCpuPercent);
  return (
    `Other processes on the machine used a median ${median(load).toFixed(0)}% (max ` +
    `${Math.max(...load).toFixed(0)}%) of one core during the kept windows (a round over ` +
    `${NOISY_OTHER_CPU_PERCENT}% is run again, a limited number of times).`
  );
}

/** One line per run, on stderr while the benchmark runs. */
export function describeRun(run: RunResult): string {
  const { spec, clients } = run;
  const extra = [
    spec.slow ? `+${spec.slow} slow` : '',
    spec.stalled ? `+${spec.stalled} stalled` : '',
  ].join(' ');
  const latency = clients.latency
    ? ` p50 ${clients.latency.p50.toFixed(2)} p99 ${clients.latency.p99.toFixed(2)} ms`
    : '';
  return (
    `  ${spec.mode.padEnd(7)} ${spec.clients} clients ${extra.trim()}: ` +
    `${run.deliveredFps.toFixed(0)} frames/s ${run.deliveredMBps.toFixed(1)} MB/s, ` +
    `server ${(run.serverCpuMs / clients.seconds / 10).toFixed(0)}% CPU ` +
    `${run.serverCpuMsPerMB.toFixed(2)} ms/MB, ` +
    `clients ${(cpuMs(clients.cpu) / clients.seconds / 10).toFixed(0)}% CPU, ` +
    `other processes ${run.otherCpuPercent.toFixed(0)}%${latency}`
  );
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const recordings = await recordedFrames();
  const frameBytes = averageFrameBytes(recordings);
  const clientCounts = options.quick ? [5, 10] : [20, 50];
  const repeats = options.quick ? 1 : 4;
  const warmupMs = options.quick ? 1000 : 2000;
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
