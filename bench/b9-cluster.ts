/**
 * B9, cluster relay: what a camera costs when its frames reach viewers through NATS. One
 * nats-server (JetStream) and three camplex children (bench/b9-node.ts) with the same cameras
 * of recorded JPEGs:
 * - "owner" and "gateway", two nodes of one cluster. The owner's viewer subscribes first, so the
 *   owner takes every camera's lease and runs its source; then the gateway's viewer subscribes,
 *   and the gateway gets every frame from the owner over NATS;
 * - "single", a camplex without `cluster`: the baseline, in the same window.
 * All three viewers live in this process and use the extended layout. The added latency is
 * measured on one clock: the time a frame reaches the gateway's viewer minus the time the same
 * frame (same camera, same JPEG bytes, within a loop of the recording) reaches the owner's.
 * CPU per MB is each node's CPU over the window divided by the JPEG bytes into its hub (the
 * gateway's came from NATS; the owner's and the single node's from their sources).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
  decodeExtendedFrame,
  decodeServerMessage,
  SUBPROTOCOL_EXTENDED,
} from '../src/protocol/wire.js';
import { type NatsServer, startNatsServer } from '../support/nats.js';
import type { NodeStats } from './b9-node.js';
import { averageFrameBytes, recordedFrames } from './lib/frames.js';
import { LineChild } from './lib/line-child.js';
import { compare } from './lib/rig.js';
import { median, percentile } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const FPS = 15;
const LEASE_SECONDS = 6;
const START_DEADLINE_MS = 30_000;
/** Every camera of a node's viewer has drawn within this long of its subscription. */
const FIRST_FRAMES_DEADLINE_MS = 30_000;
const POLL_MS = 50;
/**
 * A frame on one node pairs with the same bytes of the same camera on the other within this
 * long; the recordings loop every 30 frames (2 s at 15 fps), so a match cannot be a lap off.
 */
const MATCH_WINDOW_MS = 900;
/** Unpaired arrivals are forgotten (and counted) after this long. */
const PENDING_FORGET_MS = 2000;
const SWEEP_MS = 500;
/** Latency samples kept per series; later ones are counted, not kept. */
const MAX_SAMPLES = 1_000_000;
/** Other processes using more than this much of one core make the figures noisy. */
const NOISY_OTHER_CPU_PERCENT = 25;

const NODE = fileURLToPath(new URL('./b9-node.ts', import.meta.url));
type Role = 'owner' | 'gateway' | 'single';
const ROLES: readonly Role[] = ['owner', 'gateway', 'single'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();
const cpuMs = (cpu: { user: number; system: number }) => (cpu.user + cpu.system) / 1000;

/** CPU time every core of the machine spent busy so far (ms). */
function machineBusyMs(): number {
  let busy = 0;
  for (const { times } of cpus()) busy += times.user + times.nice + times.sys + times.irq;
  return busy;
}

let clockTicks: number | undefined;
/** utime + stime of process `pid` from /proc (ms); NaN when it cannot be read. */
function procCpuMs(pid: number): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm sits in parentheses and may hold spaces: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000;
  } catch {
    return Number.NaN;
  }
}

interface Spread {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** A bounded list of samples. */
class Samples {
  readonly values: number[] = [];
  overflow = 0;
  add(value: number): void {
    if (this.values.length < MAX_SAMPLES) this.values.push(value);
    else this.overflow++;
  }
}

type FrameListener = (camera: string, payload: Uint8Array, sentAt: number, at: number) => void;

/** One WebSocket viewer of every camera of a node, extended layout. */
class Viewer {
  private readonly ws: WebSocket;
  private readonly counts = new Map<string, { frames: number; bytes: number }>();
  /** Cameras in hello, and those that sent a frame since the viewer started. */
  cameras: string[] = [];
  readonly drawn = new Set<string>();
  closed = false;
  private closing = false;
  error: string | undefined;

  constructor(url: string, onFrame: FrameListener) {
    this.ws = new WebSocket(url, [SUBPROTOCOL_EXTENDED], { perMessageDeflate: false });
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        const message = decodeServerMessage(String(data));
        if (message.type === 'hello') {
          this.cameras = message.cameras.map((camera) => camera.id);
          this.ws.send(JSON.stringify({ cmd: 'subscribe', cameras: this.cameras }));
        }
        return;
      }
      const at = now();
      const frame = decodeExtendedFrame(data);
      this.drawn.add(frame.camera);
      let count = this.counts.get(frame.camera);
      if (!count) {
        count = { frames: 0, bytes: 0 };
        this.counts.set(frame.camera, count);
      }
      count.frames++;
      count.bytes += data.length;
      onFrame(frame.camera, frame.payload, frame.sentAt, at);
    });
    this.ws.on('error', (error) => {
      this.error = error.message;
    });
    this.ws.on('close', () => {
      if (!this.closing) this.closed = true;
    });
  }

  /** Whether every camera of hello has sent a frame. */
  get allDrawn(): boolean {
    return this.cameras.length > 0 && this.cameras.every((id) => this.drawn.has(id));
  }

  reset(): void {
    this.counts.clear();
  }

  /** Frames per camera since the reset (0 for a camera that sent none) and bytes in all. */
  report(): { perCamera: number[]; bytes: number } {
    let bytes = 0;
    const perCamera = this.cameras.map((id) => {
      const count = this.counts.get(id);
      bytes += count?.bytes ?? 0;
      return count?.frames ?? 0;
    });
    return { perCamera, bytes };
  }

  close(): void {
    this.closing = true;
    this.ws.terminate();
  }
}

interface Arrival {
  at: number;
  sentAt: number;
}

/**
 * Pairs the owner's and the gateway's arrivals of one frame (camera + JPEG bytes), whichever
 * comes first, oldest first; records gateway minus owner while `measuring`.
 */
class Matcher {
  private readonly pending = new Map<string, { owner: Arrival[]; gateway: Arrival[] }>();
  measuring = false;
  /** Arrivals from this time on that find no pair are counted as unpaired. */
  windowStart = Number.POSITIVE_INFINITY;
  readonly added = new Samples();
  /** Owner's splitter -> gateway's viewer: the whole path through the cluster. */
  readonly ownerToGateway = new Samples();
  unmatched = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
  }

  arrive(side: 'owner' | 'gateway', camera: string, payload: Uint8Array, arrival: Arrival): void {
    const key = `${camera}\0${createHash('sha1').update(payload).digest('base64')}`;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { owner: [], gateway: [] };
      this.pending.set(key, entry);
    }
    const other = side === 'owner' ? entry.gateway : entry.owner;
    while (other.length > 0) {
      const first = other.shift() as Arrival;
      if (arrival.at - first.at > MATCH_WINDOW_MS) {
        this.forget(first);
        continue;
      }
      const owner = side === 'owner' ? arrival : first;
      const gateway = side === 'owner' ? first : arrival;
      if (this.measuring) {
        this.added.add(gateway.at - owner.at);
        this.ownerToGateway.add(gateway.at - owner.sentAt);
      }
      if (entry.owner.length === 0 && entry.gateway.length === 0) this.pending.delete(key);
      return;
    }
    (side === 'owner' ? entry.owner : entry.gateway).push(arrival);
  }

  private sweep(): void {
    const oldest = now() - PENDING_FORGET_MS;
    for (const [key, entry] of this.pending) {
      for (const list of [entry.owner, entry.gateway]) {
        while (list.length > 0 && (list[0]?.at ?? 0) < oldest) {
          this.forget(list.shift() as Arrival);
        }
      }
      if (entry.owner.length === 0 && entry.gateway.length === 0) this.pending.delete(key);
    }
  }

  /** An arrival that found no pair (e.g. one before the gateway's viewer subscribed). */
  private forget(arrival: Arrival): void {
    if (this.measuring && arrival.at >= this.windowStart) this.unmatched++;
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}

/** Everything one round measured. */
interface Round {
  seconds: number;
  /** Frames per camera per second at each node's viewer (mean over cameras), and the worst. */
  fps: Record<Role, number>;
  worstCameraFps: Record<Role, number>;
  /** Node CPU over the window (ms), nats-server's too. */
  cpuMs: Record<Role, number> & { nats: number };
  /** 10^6 bytes of JPEG into each node's hub over the window. */
  mbIn: Record<Role, number>;
  /** Frames into each node's hub over the window. */
  framesIn: Record<Role, number>;
  /** 10^6 bytes received by each node's viewer. */
  mbViewer: Record<Role, number>;
  added: Spread;
  ownerToGateway: Spread;
  /** Splitter (or NATS arrival, on the gateway) -> viewer, per node. */
  hub: Record<Role, Spread>;
  unmatched: number;
  overflow: number;
  launches: Record<Role, number>;
  failures: Record<Role, number>;
  dropped: Record<Role, number>;
  closed: number;
  otherCpuPercent: number;
}

async function waitUntil(test: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`B9: ${what} within ${deadlineMs} ms`);
    await sleep(POLL_MS);
  }
}

/** A viewer of the `role` node that has drawn every camera (or an error naming the node). */
async function startViewer(role: Role, port: number, onFrame: FrameListener): Promise<Viewer> {
  const viewer = new Viewer(`ws://127.0.0.1:${port}/ws/cameras`, onFrame);
  try {
    await waitUntil(
      () => viewer.allDrawn || viewer.closed,
      FIRST_FRAMES_DEADLINE_MS,
      `the ${role} node's viewer did not draw every camera (${viewer.drawn.size} of ` +
        `${viewer.cameras.length}; ${viewer.error ?? 'no socket error'})`,
    );
    if (viewer.closed) throw new Error(`B9: the ${role} node closed its viewer's socket`);
    return viewer;
  } catch (error) {
    viewer.close();
    throw error;
  }
}

async function measureRound(
  cameras: number,
  warmupMs: number,
  seconds: number,
  log: (line: string) => void,
): Promise<Round> {
  const nodes = new Map<Role, LineChild>();
  const viewers = new Map<Role, Viewer>();
  const matcher = new Matcher();
  const samples: Record<Role, Samples> = {
    owner: new Samples(),
    gateway: new Samples(),
    single: new Samples(),
  };
  let nats: NatsServer | undefined;
  try {
    nats = await startNatsServer();
    const common = ['--cameras', String(cameras), '--fps', String(FPS)];
    const cluster = (node: string) => [
      ...common,
      ...['--nats', nats?.url ?? '', '--node', node, '--lease', String(LEASE_SECONDS)],
    ];
    nodes.set('owner', new LineChild('B9 owner node', NODE, cluster('owner')));
    nodes.set('gateway', new LineChild('B9 gateway node', NODE, cluster('gateway')));
    nodes.set('single', new LineChild('B9 single node', NODE, common));
    const ports = new Map<Role, number>();
    for (const role of ROLES) {
      ports.set(
        role,
        await (nodes.get(role) as LineChild).waitFor<number>('port', START_DEADLINE_MS),
      );
    }
    const listener =
      (role: Role): FrameListener =>
      (camera, payload, sentAt, at) => {
        if (matcher.measuring) samples[role].add(at - sentAt);
        if (role !== 'single') matcher.arrive(role, camera, payload, { at, sentAt });
      };
    // The owner's viewer first: its node takes every lease and runs every camera.
    for (const role of ROLES) {
      const began = performance.now();
      viewers.set(role, await startViewer(role, ports.get(role) ?? 0, listener(role)));
      log(`  ${role}: every camera drawing after ${(performance.now() - began).toFixed(0)} ms`);
    }
    await sleep(warmupMs);

    const ask = () =>
      Promise.all(
        ROLES.map((role) =>
          (nodes.get(role) as LineChild).ask<NodeStats>({ cmd: 'stats' }, 'stats'),
        ),
      );
    const natsPid = nats.pid;
    const starts = await ask();
    const natsStart = procCpuMs(natsPid);
    for (const viewer of viewers.values()) viewer.reset();
    matcher.measuring = true;
    matcher.windowStart = now();
    const machineAtStart = machineBusyMs();
    const selfAtStart = process.cpuUsage();
    const began = performance.now();
    await sleep(seconds * 1000);
    matcher.measuring = false;
    const windowSeconds = (performance.now() - began) / 1000;
    const reports = ROLES.map((role) => (viewers.get(role) as Viewer).report());
    const machineMs = machineBusyMs() - machineAtStart;
    const selfMs = cpuMs(process.cpuUsage(selfAtStart));
    const natsMs = procCpuMs(natsPid) - natsStart;
    const ends = await ask();

    const byRole = <T>(pick: (index: number, role: Role) => T) =>
      Object.fromEntries(ROLES.map((role, index) => [role, pick(index, role)])) as Record<Role, T>;
    const stat = (index: number) => {
      const start = starts[index];
      const end = ends[index];
      if (!start || !end) throw new Error('B9: missing node stats');
      return { start, end };
    };
    const cpu = byRole((index) => {
      const { start, end } = stat(index);
      return cpuMs(end.cpu) - cpuMs(start.cpu);
    });
    const childrenMs = cpu.owner + cpu.gateway + cpu.single + natsMs;
    const perCameraFps = (index: number) =>
      (reports[index]?.perCamera ?? []).map((frames) => frames / windowSeconds);
    return {
      seconds: windowSeconds,
      fps: byRole((index) => {
        const all = perCameraFps(index);
        return all.reduce((sum, fps) => sum + fps, 0) / Math.max(1, all.length);
      }),
      worstCameraFps: byRole((index) => Math.min(...perCameraFps(index))),
      cpuMs: { ...cpu, nats: natsMs },
      mbIn: byRole((index) => {
        const { start, end } = stat(index);
        return (end.bytes - start.bytes) / 1e6;
      }),
      framesIn: byRole((index) => {
        const { start, end } = stat(index);
        return end.frames - start.frames;
      }),
      mbViewer: byRole((index) => (reports[index]?.bytes ?? 0) / 1e6),
      added: spread(matcher.added.values),
      ownerToGateway: spread(matcher.ownerToGateway.values),
      hub: byRole((_index, role) => spread(samples[role].values)),
      unmatched: matcher.unmatched,
      overflow:
        matcher.added.overflow + ROLES.reduce((sum, role) => sum + samples[role].overflow, 0),
      launches: byRole((index) => stat(index).end.launches),
      failures: byRole((index) => stat(index).end.failures),
      dropped: byRole((index) => {
        const { start, end } = stat(index);
        return end.dropped - start.dropped;
      }),
      closed: [...viewers.values()].filter((viewer) => viewer.closed).length,
      otherCpuPercent: Math.max(0, (machineMs - childrenMs - selfMs) / windowSeconds / 10),
    };
  } finally {
    matcher.stop();
    for (const viewer of viewers.values()) viewer.close();
    await Promise.all([...nodes.values()].map((node) => node.stop()));
    await nats?.stop();
  }
}

function describeRound(round: Round, index: number): string {
  const f = (value: number) => value.toFixed(2);
  return (
    `  round ${index + 1}: fps/camera owner ${f(round.fps.owner)} gateway ` +
    `${f(round.fps.gateway)} single ${f(round.fps.single)}; added latency p50 ` +
    `${f(round.added.p50)} p95 ${f(round.added.p95)} ms (${round.added.count} pairs, ` +
    `${round.unmatched} unpaired); CPU ms/MB owner ${f(round.cpuMs.owner / round.mbIn.owner)} ` +
    `gateway ${f(round.cpuMs.gateway / round.mbIn.gateway)} single ` +
    `${f(round.cpuMs.single / round.mbIn.single)} nats ${f(round.cpuMs.nats / round.mbIn.gateway)}` +
    `; other load ${round.otherCpuPercent.toFixed(0)}% of a core`
  );
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const recordings = await recordedFrames();
  const cameras = options.quick ? 8 : 16;
  const rounds = options.quick ? 1 : 3;
  const warmupMs = options.quick ? 1000 : 2000;
  const log = (line: string) => process.stderr.write(`B9${line}\n`);
  const results: Round[] = [];
  let retries = 0;
  for (let index = 0; index < rounds; index++) {
    const round = await measureRound(cameras, warmupMs, options.seconds, log);
    log(describeRound(round, index));
    // As B1 does: a round during which other processes kept the machine busy is run again,
    // up to `rounds` times in all; after that it counts as it is (and the notes say so).
    if (round.otherCpuPercent > NOISY_OTHER_CPU_PERCENT && retries < rounds) {
      retries++;
      log(`  (other processes used ${round.otherCpuPercent.toFixed(0)}% of a core: again)`);
      index--;
      continue;
    }
    results.push(round);
  }
  const mid = (pick: (round: Round) => number) => median(results.map(pick));
  const perMB = (role: Role) => mid((round) => round.cpuMs[role] / round.mbIn[role]);

  const figures: BenchFigure[] = [
    compare(
      `frames/s per camera via NATS (gateway) vs single node, ${cameras} cameras`,
      'fps',
      mid((round) => round.fps.gateway),
      mid((round) => round.fps.single),
    ),
    compare(
      `frames/s per camera on the owner vs single node, ${cameras} cameras`,
      'fps',
      mid((round) => round.fps.owner),
      mid((round) => round.fps.single),
    ),
    {
      name: "added latency through NATS, p50 (gateway's - owner's viewer, same frame)",
      value: mid((round) => round.added.p50),
      unit: 'ms',
    },
    {
      name: 'added latency through NATS, p95',
      value: mid((round) => round.added.p95),
      unit: 'ms',
    },
    compare(
      "latency p50, owner's splitter -> gateway's viewer vs single node's",
      'ms',
      mid((round) => round.ownerToGateway.p50),
      mid((round) => round.hub.single.p50),
    ),
    compare(
      'gateway CPU per relayed MB (NATS in, 1 viewer) vs single node',
      'ms/MB',
      perMB('gateway'),
      perMB('single'),
    ),
    compare(
      'owner CPU per MB (1 viewer + NATS publishing) vs single node',
      'ms/MB',
      perMB('owner'),
      perMB('single'),
    ),
    {
      name: "owner's extra CPU for publishing, per relayed MB (owner - single)",
      value: mid((round) => (round.cpuMs.owner - round.cpuMs.single) / round.mbIn.owner),
      unit: 'ms/MB',
    },
    {
      name: 'nats-server CPU per relayed MB',
      value: mid((round) => round.cpuMs.nats / round.mbIn.gateway),
      unit: 'ms/MB',
    },
  ];

  const f1 = (value: number) => value.toFixed(1);
  const f2 = (value: number) => value.toFixed(2);
  const share = (role: Role | 'nats') => f1(mid((round) => round.cpuMs[role] / round.seconds / 10));
  const moved = results.filter(
    (round) => round.launches.owner !== cameras || round.launches.gateway !== 0,
  ).length;
  const noisy = results.filter((round) => round.otherCpuPercent > NOISY_OTHER_CPU_PERCENT).length;
  const frameKiB = mid((round) => (round.mbIn.single * 1e6) / round.framesIn.single / 1024);
  const notes = [
    `${cameras} cameras x ${FPS} fps of recorded demo JPEGs (only the recordings whose frames ` +
      `all differ: average ${f1(frameKiB)} ` +
      `KiB, ${f1(averageFrameBytes(recordings) / 1024)} KiB over all), fed as mpjpeg bytes; one nats-server 2.x with JetStream, lease ${LEASE_SECONDS} s; ` +
      `medians of ${rounds} round(s), each with fresh processes, ${options.seconds} s after ` +
      `${warmupMs / 1000} s of warm-up. Owner, gateway and single node run at once, one viewer ` +
      'each (all three in the bench process, extended layout). MB = 10^6 bytes of JPEG into ' +
      "the node's hub (the gateway's came from NATS).",
    `Added latency pairs a frame's arrival at the gateway's viewer with the same frame's ` +
      "arrival at the owner's viewer (camera + JPEG bytes, same clock): NATS publish, " +
      "nats-server, the gateway's NATS client and hub, and its socket. Per round: p50/p95 " +
      results.map((round) => `${f2(round.added.p50)}/${f2(round.added.p95)}`).join(', ') +
      ` ms; p99 ${results.map((round) => f2(round.added.p99)).join(', ')} ms; max ` +
      `${results.map((round) => f1(round.added.max)).join(', ')} ms; pairs ` +
      `${results.map((round) => round.added.count).join(', ')}; unpaired arrivals ` +
      `${results.map((round) => round.unmatched).join(', ')}.`,
    `Splitter -> viewer p50 on each node (the gateway's clock starts when the unit came out of ` +
      `NATS): owner ${f2(mid((round) => round.hub.owner.p50))}, gateway ` +
      `${f2(mid((round) => round.hub.gateway.p50))}, single ${f2(mid((round) => round.hub.single.p50))} ms.`,
    `Worst camera: owner ${f2(mid((round) => round.worstCameraFps.owner))}, gateway ` +
      `${f2(mid((round) => round.worstCameraFps.gateway))}, single ` +
      `${f2(mid((round) => round.worstCameraFps.single))} fps. MB/s into the hubs: owner ` +
      `${f2(mid((round) => round.mbIn.owner / round.seconds))}, gateway ` +
      `${f2(mid((round) => round.mbIn.gateway / round.seconds))}, single ` +
      `${f2(mid((round) => round.mbIn.single / round.seconds))} (to the viewers, ws framing ` +
      `included: ${f2(mid((round) => round.mbViewer.gateway / round.seconds))} from the ` +
      'gateway). CPU of one core: owner ' +
      `${share('owner')}%, gateway ${share('gateway')}%, single ${share('single')}%, ` +
      `nats-server ${share('nats')}%. The gateway's CPU includes its lease attempts (one KV ` +
      'create per camera per second while another node holds it) and interest messages.',
    moved === 0
      ? `Leases stayed put: in every round the owner started all ${cameras} sources and the ` +
        'gateway none.'
      : `In ${moved} round(s) a lease moved (owner/gateway sources started: ` +
        `${results.map((round) => `${round.launches.owner}/${round.launches.gateway}`).join(', ')}).`,
    `Camera failures at the end (owner/gateway/single): ` +
      `${results.map((round) => `${round.failures.owner}/${round.failures.gateway}/${round.failures.single}`).join(', ')}; ` +
      `frames dropped to viewers in the window: ` +
      `${results.map((round) => `${round.dropped.owner}/${round.dropped.gateway}/${round.dropped.single}`).join(', ')}; ` +
      `viewer sockets closed: ${results.reduce((sum, round) => sum + round.closed, 0)}; ` +
      `latency samples not kept (buffer full): ${results.reduce((sum, round) => sum + round.overflow, 0)}.`,
    `Other processes used ${results.map((round) => round.otherCpuPercent.toFixed(0)).join(', ')}% ` +
      `of a core during the rounds kept${noisy > 0 ? ` (${noisy} noisy round(s) kept)` : ''}; ` +
      `${retries} noisy round(s) run again.`,
  ];
  return {
    id: 'B9',
    title: 'Cluster: frames through NATS vs a single node, added latency, CPU per relayed MB',
    figures,
    notes,
  };
}
