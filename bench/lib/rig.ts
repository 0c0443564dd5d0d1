/**
 * The harness of the socket benchmarks (B1, B2, B3, B11): `measure()` starts a server child
 * (lib/server.ts) and a clients child (lib/clients.ts), warms up, and reads both over one
 * measured window; `alternate()` runs specs in turn, round after round, so a baseline and
 * camplex share the machine's moods; `compare()` makes a figure of a ratio.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/common/node-flags.js';
import type { ClientsReport } from './clients.js';
import { LineChild } from './line-child.js';
import { perfFolder, perfNodeFlags, startPerf } from './perf-record.js';
import type { ServerMode, ServerStats } from './server.js';
import { median } from './stats.js';
import type { BenchFigure } from './types.js';

export const CAMERAS = 16;
export const FPS = 15;
/**
 * Warm-up before a window that compares CPU per unit of work. A node process that just started
 * settles for about 15-20 s: V8's memory reducer and concurrent marking shrink the heap start-up
 * left (an idle bench server burns 10-30 ms of CPU a second then, and nothing after), and in a
 * 2 s warm-up that lands in the window, more for the process that loaded more code. 20 s
 * measures the steady state a long-running server is in.
 */
export const STEADY_WARMUP_MS = 20_000;
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
  /** Cameras and their rate (default CAMERAS at FPS). */
  cameras?: number;
  fps?: number;
  /** How the normal clients acknowledge frames (default: they do not). */
  acks?: 'frame' | 'cadence';
  /** The clients subscribe to H.264 with decode times, as the dashboard does. */
  h264?: boolean;
  /** The normal clients ask for batches of frames held back at most this long (ms). */
  batchMs?: number;
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
export const cpuMs = (cpu: { user: number; system: number }) => (cpu.user + cpu.system) / 1000;

/** A server child and the clients child that views it. */
interface Rig {
  spec: RunSpec;
  server: LineChild;
  clients: LineChild | undefined;
}

async function startRig(spec: RunSpec): Promise<Rig> {
  const profileDir = process.env[PROFILE_ENV];
  // Every server runs with the node flags camplex runs with (the baselines too: the same
  // node, so the comparison is of the code); CAMPLEX_BENCH_NODE_FLAGS="..." replaces them, for
  // an A/B of the flags themselves ("" for node's defaults).
  const flagsOverride = process.env.CAMPLEX_BENCH_NODE_FLAGS;
  const nodeFlags =
    flagsOverride === undefined ? [...NODE_FLAGS] : flagsOverride.split(' ').filter(Boolean);
  if (profileDir) {
    nodeFlags.push(
      // One folder per run: the loader thread of --import tsx writes a profile of its own.
      '--cpu-prof',
      '--cpu-prof-interval=250',
      `--cpu-prof-dir=${join(profileDir, `${++profiles}-${spec.mode}-${spec.clients}c`)}`,
    );
  }
  if (spec.gcBeforeStats) nodeFlags.push('--expose-gc');
  const perf = perfFolder();
  if (perf) nodeFlags.push(...perfNodeFlags(perf));
  const rig: Rig = {
    spec,
    server: new LineChild(
      `${spec.mode} server`,
      SERVER,
      [spec.mode, String(spec.cameras ?? CAMERAS), String(spec.fps ?? FPS)],
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
    if (spec.acks) args.push('--acks', spec.acks);
    if (spec.h264) args.push('--h264');
    if (spec.batchMs) args.push('--batch', String(spec.batchMs));
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
    const perf = perfFolder();
    const stopPerf = perf
      ? rigs.map((rig) => startPerf(perf, rig.server.pid, `${rig.spec.mode}-${rig.spec.clients}c`))
      : [];
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
    // After the window's last reading: writing perf's file is not the window's work.
    await Promise.all(stopPerf.map((stop) => stop()));
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
