/**
 * Benchmark server, run as a child process so its CPU and memory can be read on their own:
 *
 *   node --import tsx bench/lib/server.ts <camplex|bare|camplex-h264|relay-h264> <cameras> <fps>
 *
 * `camplex` is the real server (startCamplex) with each camera's source replaced by its recorded
 * mpjpeg bytes, pushed at `fps` the way ffmpeg's stdout would deliver them. `bare` is the naive
 * baseline: a plain `ws` server that builds each frame's message once per tick and sends it to
 * every subscribed client, with no backpressure at all. `camplex-h264` is camplex fed recorded
 * H.264 as ffmpeg's copy into fragmented MP4; `relay-h264` the least a relay can do with the
 * same bytes from the same recorded source: cut each fragment's media data out and `ws.send`
 * it to every subscriber, with no acks, timing or flow control. All of them speak enough of
 * the protocol (hello, subscribe, subscribed, the extended layout) for the same clients.
 *
 * Prints `{"ready":true,"port":N}`, then answers each `{"cmd":"stats"}` line on stdin with one
 * JSON line (ServerStats); `{"cmd":"stats","gc":true}` collects garbage first (when node runs
 * with --expose-gc). Exits when stdin ends. Stats count the collections so far (ServerStats.gc);
 * CAMPLEX_BENCH_GC_LOG=<path> also writes each one, with its kind and the ArrayBuffer bytes then,
 * to `<path>.<pid>`.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../../src/config/load.js';
import type { CameraConfig } from '../../src/config/schema.js';
import {
  encodeExtendedFrame,
  encodeFrame,
  encodeServerMessage,
  framePrefix,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  SUBPROTOCOL_EXTENDED,
} from '../../src/protocol/wire.js';
import { startCamplex } from '../../src/server.js';
import { type RecordedCamera, recordedFrames, toMpjpeg } from './frames.js';
import { recordedH264 } from './h264-frames.js';
import { onLines } from './lines.js';
import { recordedSources, startTicker, UNUSED_FFMPEG } from './recorded-source.js';

export type ServerMode = 'camplex' | 'bare' | 'camplex-h264' | 'relay-h264';

/** The answer to `{"cmd":"stats"}`. */
export interface ServerStats {
  /** process.cpuUsage(), microseconds. */
  cpu: { user: number; system: number };
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  /** camplex only: totals over every camera (frames out of the splitter, sent, dropped). */
  counters?: { frames: number; sent: number; dropped: number };
  /** Read and write system calls so far (/proc/self/io `syscr`, `syscw`). */
  syscalls: { reads: number; writes: number };
  /** Garbage collections so far: young-generation (scavenges) and the rest, and their pauses. */
  gc: { minor: number; major: number; pauseMs: number };
}

/** Collections counted as node reports them (perf_hooks 'gc' entries). */
const collections = { minor: 0, major: 0, pauseMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const detail = (entry as { detail?: { kind?: number; flags?: number } }).detail;
    const kind = detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) collections.minor++;
    else collections.major++;
    if (process.env.CAMPLEX_BENCH_GC_LOG)
      appendFileSync(
        `${process.env.CAMPLEX_BENCH_GC_LOG}.${process.pid}`,
        `${(performance.now() / 1000).toFixed(1)} kind ${kind} flags ${detail?.flags} ${entry.duration.toFixed(1)} ms ab ${(process.memoryUsage().arrayBuffers / 1e6).toFixed(1)}\n`,
      );
    collections.pauseMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

/** /proc/self/io's system call counts (zero where it cannot be read). */
function syscalls(): ServerStats['syscalls'] {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

const SHUTDOWN_DEADLINE_MS = 5000;
const GC_ROUNDS = 2;
const GC_SETTLE_MS = 50;

/** Recorded camera for the `index`-th configured camera (recordings repeat past 16). */
function recordingFor(recordings: readonly RecordedCamera[], index: number): RecordedCamera {
  const recording = recordings[index % recordings.length];
  if (!recording) throw new Error('no recorded frames');
  return recording;
}

/** Each camera's recorded parts: mpjpeg parts, or H.264 access units (recordings repeat). */
async function recordedParts(
  ids: readonly string[],
  output: 'mpjpeg' | 'h264',
): Promise<Map<string, Buffer[]>> {
  const parts = new Map<string, Buffer[]>();
  if (output === 'mpjpeg') {
    const recordings = await recordedFrames();
    ids.forEach((id, index) => {
      parts.set(id, recordingFor(recordings, index).frames.map(toMpjpeg));
    });
  } else {
    const recordings = await recordedH264();
    ids.forEach((id, index) => {
      const recording = recordings[index % recordings.length];
      parts.set(id, recording?.units.map((unit) => unit.data) ?? []);
    });
  }
  return parts;
}

async function startCamplexMode(
  cameras: number,
  fps: number,
  output: 'mpjpeg' | 'h264',
): Promise<{ port: number; stats: () => ServerStats['counters']; close: () => Promise<void> }> {
  const config = parseConfig('', 'camplex benchmark', { demo: cameras, port: 0 });
  const parts = await recordedParts(
    config.cameras.map((camera) => camera.id),
    output,
  );
  const { launch: launchSource } = recordedSources(parts, fps, output);
  // Logs go to stderr: stdout carries this process's JSON lines.
  const log = pino({ level: 'warn', base: { name: 'camplex-bench' } }, pino.destination(2));
  const camplex = await startCamplex({
    config,
    ffmpeg: UNUSED_FFMPEG,
    log,
    publicDir: fileURLToPath(new URL('../../dist/public/', import.meta.url)),
    launchSource,
  });
  return {
    port: camplex.port,
    stats: () => {
      const totals = { frames: 0, sent: 0, dropped: 0 };
      for (const camera of camplex.hub.cameras()) {
        totals.frames += camera.counters.frames;
        totals.sent += camplex.hub.deliveryOf(camera).sent;
        totals.dropped += camplex.hub.deliveryOf(camera).dropped;
      }
      return totals;
    },
    close: () => camplex.close(),
  };
}

/** Camera ids as the demo config names them. */
const demoIds = (cameras: number) =>
  Array.from({ length: cameras }, (_, i) => `demo-${String(i + 1).padStart(2, '0')}`);

/** The baselines' plain `ws` server: hello, subscribe and unsubscribe, and who watches what. */
async function startBareServer(ids: readonly string[]) {
  const subscribers = new Map<string, Set<WebSocket>>(ids.map((id) => [id, new Set()]));
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    handleProtocols: (offered) => {
      if (offered.has(SUBPROTOCOL_EXTENDED)) return SUBPROTOCOL_EXTENDED;
      if (offered.has(SUBPROTOCOL)) return SUBPROTOCOL;
      return false;
    },
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const hello = encodeServerMessage({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    cameras: ids.map((id, i) => ({ id, name: `Demo ${i + 1}`, state: 'live' })),
  });
  wss.on('connection', (ws) => {
    ws.send(hello);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let command: { cmd?: unknown; cameras?: unknown };
      try {
        command = JSON.parse(String(data)) as typeof command;
      } catch {
        return;
      }
      const wanted = Array.isArray(command.cameras) ? command.cameras : [];
      const accepted = ids.filter((id) => wanted.includes(id));
      for (const id of accepted) {
        if (command.cmd === 'subscribe') subscribers.get(id)?.add(ws);
        else subscribers.get(id)?.delete(ws);
      }
      const type = command.cmd === 'subscribe' ? 'subscribed' : 'unsubscribed';
      ws.send(encodeServerMessage({ type, cameras: accepted }));
    });
    ws.on('close', () => {
      for (const set of subscribers.values()) set.delete(ws);
    });
  });
  return {
    subscribers,
    port: (wss.address() as { port: number }).port,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

async function startBareMode(
  cameras: number,
  fps: number,
  recordings: readonly RecordedCamera[],
): Promise<{ port: number; close: () => Promise<void> }> {
  const ids = demoIds(cameras);
  const { subscribers, port, close } = await startBareServer(ids);
  const periodMs = 1000 / fps;
  const stops = ids.map((id, index) => {
    const prefix = framePrefix(id);
    const frames = recordingFor(recordings, index).frames;
    const viewers = subscribers.get(id) ?? new Set<WebSocket>();
    let next = 0;
    let seq = 0;
    return startTicker(periodMs, (index * periodMs) / cameras, () => {
      const jpeg = frames[next++ % frames.length];
      if (!jpeg || viewers.size === 0) return;
      seq++;
      // Taken where camplex takes it (a frame out of the splitter), so latencies compare.
      const sentAt = performance.timeOrigin + performance.now();
      let plain: Uint8Array | undefined;
      let extended: Uint8Array | undefined;
      for (const ws of viewers) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        if (ws.protocol === SUBPROTOCOL_EXTENDED) {
          extended ??= encodeExtendedFrame(prefix, seq, sentAt, jpeg);
          ws.send(extended, { binary: true });
        } else {
          plain ??= encodeFrame(prefix, jpeg);
          ws.send(plain, { binary: true });
        }
      }
    });
  });
  return {
    port,
    close: async () => {
      for (const stop of stops) stop();
      await close();
    },
  };
}

/**
 * Cuts fragmented MP4 into its media data: each `mdat` box's payload, handed on whole. The
 * least a relay of ffmpeg's copy can do: it reads box headers and nothing else.
 */
class MdatCutter {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onMedia: (data: Buffer) => void) {}

  push(chunk: Buffer): void {
    let bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (bytes.length >= 8) {
      const size = bytes.readUInt32BE(0);
      if (size < 8 || bytes.length < size) break;
      if (bytes.readUInt32BE(4) === MDAT) this.onMedia(bytes.subarray(8, size));
      bytes = bytes.subarray(size);
    }
    this.pending = bytes;
  }
}
const MDAT = 0x6d646174;

/** `relay-h264`: the recorded source's fragmented MP4, cut at each `mdat` and sent to all. */
async function startRelayMode(
  cameras: number,
  fps: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const ids = demoIds(cameras);
  const { subscribers, port, close } = await startBareServer(ids);
  const parts = await recordedParts(ids, 'h264');
  const { launch } = recordedSources(parts, fps, 'h264');
  const sources = ids.map((id) => {
    const prefix = framePrefix(id);
    const viewers = subscribers.get(id) ?? new Set<WebSocket>();
    const cutter = new MdatCutter((data) => {
      if (viewers.size === 0) return;
      const message = encodeFrame(prefix, data);
      for (const ws of viewers) ws.send(message, { binary: true });
    });
    return launch({ id } as CameraConfig, {
      onPlan: () => {},
      onStdout: (chunk) => cutter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)),
      onUnit: () => {},
      onExit: () => {},
    });
  });
  return {
    port,
    close: async () => {
      await Promise.all(sources.map((source) => source.stop()));
      await close();
    },
  };
}

/**
 * Full collections (with --expose-gc) so memory figures compare. V8 frees ArrayBuffer backing
 * stores on a background sweeper after the GC, so it waits a little and collects again.
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  for (let round = 0; round < GC_ROUNDS; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, GC_SETTLE_MS));
  }
}

function collectStats(counters: ServerStats['counters']): ServerStats {
  const memory = process.memoryUsage();
  return {
    cpu: process.cpuUsage(),
    syscalls: syscalls(),
    gc: { ...collections },
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    arrayBuffers: memory.arrayBuffers,
    ...(counters ? { counters } : {}),
  };
}

async function main(): Promise<void> {
  const [mode, camerasArg, fpsArg] = process.argv.slice(2);
  const cameras = Number(camerasArg);
  const fps = Number(fpsArg);
  const modes: readonly string[] = ['camplex', 'bare', 'camplex-h264', 'relay-h264'];
  if (
    !modes.includes(mode ?? '') ||
    !Number.isInteger(cameras) ||
    cameras < 1 ||
    cameras > 256 ||
    !(fps > 0 && fps <= 120)
  ) {
    throw new Error(`usage: bench/lib/server.ts <${modes.join('|')}> <cameras 1-256> <fps 0-120>`);
  }
  const none = () => undefined;
  const server =
    mode === 'camplex'
      ? await startCamplexMode(cameras, fps, 'mpjpeg')
      : mode === 'camplex-h264'
        ? await startCamplexMode(cameras, fps, 'h264')
        : mode === 'relay-h264'
          ? { ...(await startRelayMode(cameras, fps)), stats: none }
          : { ...(await startBareMode(cameras, fps, await recordedFrames())), stats: none };
  process.stdout.write(`${JSON.stringify({ ready: true, port: server.port })}\n`);

  // A CPU profile of the measured window only (from the first stats request to the end),
  // where --cpu-prof would be mostly start-up: CAMPLEX_BENCH_WINDOW_PROF=<folder>.
  const profileDir = process.env.CAMPLEX_BENCH_WINDOW_PROF;
  let profiler: Promise<Session> | undefined;
  // CAMPLEX_BENCH_WINDOW_HEAP=1 adds a sampling heap profile (what allocates, by bytes, over
  // the same window) beside it: every allocation is kept, collected or not.
  const heapToo = process.env.CAMPLEX_BENCH_WINDOW_HEAP === '1';
  const startProfile = async () => {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
    await session.post('Profiler.start');
    if (heapToo) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    return session;
  };
  const writeProfile = async () => {
    if (!profiler || !profileDir) return;
    const session = await profiler;
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(profileDir, { recursive: true });
    const name = `${mode}-${cameras}-${process.pid}`;
    writeFileSync(join(profileDir, `${name}.cpuprofile`), JSON.stringify(profile));
    if (heapToo) {
      const heap = await session.post('HeapProfiler.stopSampling');
      writeFileSync(join(profileDir, `${name}.heapprofile`), JSON.stringify(heap.profile));
    }
  };
  onLines(process.stdin, (line) => {
    const command = JSON.parse(line) as { cmd?: string; gc?: boolean };
    if (command.cmd !== 'stats') return;
    if (profileDir && !profiler) profiler = startProfile();
    const answer = () =>
      process.stdout.write(`${JSON.stringify({ stats: collectStats(server.stats()) })}\n`);
    if (command.gc) void collectGarbage().then(answer);
    else answer();
  });
  process.stdin.on('end', () => {
    setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
    void writeProfile()
      .then(() => server.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error('bench server: closing failed', error);
        process.exit(1);
      });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
