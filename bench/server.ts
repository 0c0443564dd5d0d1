/**
 * Benchmark server, run as a child process so its CPU and memory can be read on their own:
 *
 *   node --import tsx bench/server.ts <camplex|bare> <cameras> <fps>
 *
 * `camplex` is the real server (startCamplex) with each camera's source replaced by its recorded
 * mpjpeg bytes, pushed at `fps` the way ffmpeg's stdout would deliver them. `bare` is the naive
 * baseline: a plain `ws` server that builds each frame's message once per tick and sends it to
 * every subscribed client, with no backpressure at all. Both speak enough of the protocol
 * (hello, subscribe, subscribed, the extended layout) for the same clients to measure either.
 *
 * Prints `{"ready":true,"port":N}`, then answers each `{"cmd":"stats"}` line on stdin with one
 * JSON line (ServerStats); `{"cmd":"stats","gc":true}` collects garbage first (when node runs
 * with --expose-gc). Exits when stdin ends.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../src/config/load.js';
import {
  encodeExtendedFrame,
  encodeFrame,
  encodeServerMessage,
  framePrefix,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  SUBPROTOCOL_EXTENDED,
} from '../src/protocol/wire.js';
import { startCamplex } from '../src/server.js';
import { type RecordedCamera, recordedFrames, toMpjpeg } from './frames.js';
import { onLines } from './lines.js';
import { recordedSources, startTicker, UNUSED_FFMPEG } from './recorded-source.js';

export type ServerMode = 'camplex' | 'bare';

/** The answer to `{"cmd":"stats"}`. */
export interface ServerStats {
  /** process.cpuUsage(), microseconds. */
  cpu: { user: number; system: number };
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  /** camplex only: totals over every camera (frames out of the splitter, sent, dropped). */
  counters?: { frames: number; sent: number; dropped: number };
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

async function startCamplexMode(
  cameras: number,
  fps: number,
  recordings: readonly RecordedCamera[],
): Promise<{ port: number; stats: () => ServerStats['counters']; close: () => Promise<void> }> {
  const config = parseConfig('', 'camplex benchmark', { demo: cameras, port: 0 });
  const parts = new Map<string, Buffer[]>();
  config.cameras.forEach((camera, index) => {
    parts.set(camera.id, recordingFor(recordings, index).frames.map(toMpjpeg));
  });
  const { launch: launchSource } = recordedSources(parts, fps);
  // Logs go to stderr: stdout carries this process's JSON lines.
  const log = pino({ level: 'warn', base: { name: 'camplex-bench' } }, pino.destination(2));
  const camplex = await startCamplex({
    config,
    ffmpeg: UNUSED_FFMPEG,
    log,
    publicDir: fileURLToPath(new URL('../dist/public/', import.meta.url)),
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

async function startBareMode(
  cameras: number,
  fps: number,
  recordings: readonly RecordedCamera[],
): Promise<{ port: number; close: () => Promise<void> }> {
  const ids = Array.from({ length: cameras }, (_, i) => `demo-${String(i + 1).padStart(2, '0')}`);
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
    port: (wss.address() as { port: number }).port,
    close: async () => {
      for (const stop of stops) stop();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
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
  if (
    (mode !== 'camplex' && mode !== 'bare') ||
    !Number.isInteger(cameras) ||
    cameras < 1 ||
    cameras > 256 ||
    !(fps > 0 && fps <= 120)
  ) {
    throw new Error('usage: bench/server.ts <camplex|bare> <cameras 1-256> <fps 0-120>');
  }
  const recordings = await recordedFrames();
  const server =
    mode === 'camplex'
      ? await startCamplexMode(cameras, fps, recordings)
      : { ...(await startBareMode(cameras, fps, recordings)), stats: () => undefined };
  process.stdout.write(`${JSON.stringify({ ready: true, port: server.port })}\n`);

  onLines(process.stdin, (line) => {
    const command = JSON.parse(line) as { cmd?: string; gc?: boolean };
    if (command.cmd !== 'stats') return;
    const answer = () =>
      process.stdout.write(`${JSON.stringify({ stats: collectStats(server.stats()) })}\n`);
    if (command.gc) void collectGarbage().then(answer);
    else answer();
  });
  process.stdin.on('end', () => {
    setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
    void server.close().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
