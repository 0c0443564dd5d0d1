/**
 * Benchmark viewers, run as a child process (so their CPU is not the server's):
 *
 *   node --import tsx bench/lib/clients.ts --url ws://127.0.0.1:N/ws/cameras --clients 20
 *        [--extended] [--slow 1 --slow-rate 1000000 [--slow-acks]] [--stalled 1]
 *        [--acks none|frame|cadence] [--h264] [--batch MS]
 *
 * Opens the clients, subscribes each to every camera named in `hello`, and counts frames and
 * bytes per client. With --extended (subprotocol camplex.v1.extended) each frame of a normal
 * client gives a latency sample: receive time minus the server's `sentAt`, both read as
 * `performance.timeOrigin + performance.now()` (the same system clock in both processes).
 * Slow clients read at about --slow-rate bytes/s (the socket is paused between reads), and with
 * --slow-acks acknowledge what they read as the browser does (flow control, AckCadence);
 * stalled clients pause their socket after the subscription is acknowledged and never read
 * again. --acks makes the normal clients acknowledge too: every frame (as the browser did
 * before the frame cost issue) or as the browser does now. --h264 subscribes to H.264 (with
 * decode times, as the dashboard) instead of the default JPEG. --batch asks the server for
 * batches (frames within MS of a write go together in one message), as the dashboard does.
 *
 * Prints `{"ready":true}` once every client is subscribed; answers `{"cmd":"reset"}` (zero the
 * counters) and `{"cmd":"report"}` (one ClientsReport line); exits when stdin ends.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { AckCadence } from '../../src/protocol/ack-cadence.js';
import {
  decodeBatch,
  decodeExtendedFrame,
  decodeServerMessage,
  SUBPROTOCOL_EXTENDED,
} from '../../src/protocol/wire.js';
import { onLines } from './lines.js';

/** As the browser's CameraSocket: what is left is acknowledged this long after frames stop. */
const ACK_FLUSH_MS = 100;

import { percentile } from './stats.js';

type Kind = 'normal' | 'slow' | 'stalled';

/** Totals of one kind of client since the last reset. */
export interface GroupReport {
  clients: number;
  frames: number;
  bytes: number;
  /** Fewest and most frames any one client of the group received. */
  minFrames: number;
  maxFrames: number;
}

export interface LatencyReport {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** The answer to `{"cmd":"report"}`. */
export interface ClientsReport {
  /** Seconds since the last reset. */
  seconds: number;
  normal: GroupReport;
  slow: GroupReport;
  stalled: GroupReport;
  /** Latency of the normal clients (ms), with --extended. */
  latency?: LatencyReport;
  /** Age of the frames the slow clients got (ms), with --extended: how stale they are. */
  slowLatency?: LatencyReport;
  /** Latency samples not kept because the buffer was full. */
  latencyOverflow: number;
  /** This process's CPU since the reset (microseconds). */
  cpu: { user: number; system: number };
  /** This process's event-loop delay since the reset (ms): part of every latency sample. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** Sockets that closed or failed since start (none are expected). */
  closed: number;
}

interface Client {
  ws: WebSocket;
  kind: Kind;
  frames: number;
  bytes: number;
  subscribed: boolean;
}

/** 2 M samples (16 MB) is ~40 s of 50 clients x 16 cameras x 15 fps; later ones are counted. */
const MAX_LATENCY_SAMPLES = 2_000_000;
/** A 1 MB/s reader gets ~100 frames/s: 100 k samples is over 15 minutes of it. */
const MAX_SLOW_SAMPLES = 100_000;
const READY_DEADLINE_MS = 30_000;
/** Event-loop delay sampling period (ms); the histogram includes it, so it is subtracted. */
const LOOP_DELAY_RESOLUTION_MS = 10;
const MAX_CLIENTS = 2000;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      clients: { type: 'string', default: '1' },
      extended: { type: 'boolean', default: false },
      slow: { type: 'string', default: '0' },
      'slow-rate': { type: 'string', default: '1000000' },
      'slow-acks': { type: 'boolean', default: false },
      stalled: { type: 'string', default: '0' },
      acks: { type: 'string', default: 'none' },
      h264: { type: 'boolean', default: false },
      batch: { type: 'string', default: '0' },
    },
    strict: true,
  });
  const whole = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value > MAX_CLIENTS) {
      throw new Error(`--${name}: expected a whole number from 0 to ${MAX_CLIENTS}`);
    }
    return value;
  };
  if (!values.url?.startsWith('ws://127.0.0.1:')) {
    throw new Error('--url: expected ws://127.0.0.1:PORT/...');
  }
  const acks = values.acks;
  if (acks !== 'none' && acks !== 'frame' && acks !== 'cadence') {
    throw new Error('--acks: expected none, frame or cadence');
  }
  const slowRate = Number(values['slow-rate']);
  if (!(slowRate >= 1000)) throw new Error('--slow-rate: expected bytes per second >= 1000');
  return {
    url: values.url,
    clients: whole('clients', values.clients),
    extended: values.extended,
    slow: whole('slow', values.slow),
    slowRate,
    slowAcks: values['slow-acks'],
    stalled: whole('stalled', values.stalled),
    acks: acks as 'none' | 'frame' | 'cadence',
    h264: values.h264,
    batchMs: Number(values.batch),
  };
}

const now = () => performance.timeOrigin + performance.now();

function summarise(samples: Float64Array): LatencyReport | undefined {
  if (samples.length === 0) return undefined;
  const sorted = samples.slice().sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sum / sorted.length,
  };
}

function loopDelayMs(nanoseconds: number): number {
  return Math.max(0, nanoseconds / 1e6 - LOOP_DELAY_RESOLUTION_MS);
}

function main(): void {
  const options = parseOptions();
  const latency = new Float64Array(MAX_LATENCY_SAMPLES);
  let samples = 0;
  const slowLatency = new Float64Array(MAX_SLOW_SAMPLES);
  let slowSamples = 0;
  let overflow = 0;
  let closed = 0;
  let resetAt = performance.now();
  let cpuAtReset = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();

  const kinds: Kind[] = [
    ...Array<Kind>(options.clients).fill('normal'),
    ...Array<Kind>(options.slow).fill('slow'),
    ...Array<Kind>(options.stalled).fill('stalled'),
  ];
  const clients: Client[] = [];
  let ready = 0;
  const readyTimer = setTimeout(() => {
    process.stderr.write(`bench clients: only ${ready}/${kinds.length} subscribed in time\n`);
    process.exit(1);
  }, READY_DEADLINE_MS);

  for (const kind of kinds) {
    const ws = new WebSocket(options.url, options.extended ? [SUBPROTOCOL_EXTENDED] : [], {
      perMessageDeflate: false,
    });
    const client: Client = { ws, kind, frames: 0, bytes: 0, subscribed: false };
    clients.push(client);
    // The slow reader's budget: it may have read `rate` bytes per second since it subscribed.
    let slowStart = 0;
    let slowRead = 0;
    let resumeTimer: NodeJS.Timeout | undefined;
    const policy =
      kind === 'slow'
        ? options.slowAcks
          ? 'cadence'
          : 'none'
        : kind === 'normal'
          ? options.acks
          : 'none';
    const acks = policy !== 'none';
    const cadence = new AckCadence();
    let greeted = false;
    let flushTimer: NodeJS.Timeout | undefined;
    let lastFrameAt = 0;
    // As the dashboard does (browser/camera-socket.ts): what waits is acknowledged once frames
    // paused for ACK_FLUSH_MS; while they flow, the cadence alone acknowledges.
    const flush = () => {
      const quiet = performance.now() - lastFrameAt;
      if (quiet < ACK_FLUSH_MS) {
        flushTimer = setTimeout(flush, ACK_FLUSH_MS - quiet);
        return;
      }
      flushTimer = undefined;
      sendAck(cadence.flush());
    };
    const sendAck = (bytes: number | undefined) => {
      if (bytes !== undefined) ws.send(JSON.stringify({ cmd: 'ack', bytes }));
    };

    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        // A batch carries several frame messages (first byte 0, never an id length).
        const frames = data[0] === 0 ? decodeBatch(data) : [data];
        if (options.extended && kind !== 'stalled') {
          const at = now();
          for (const frame of frames) {
            const age = at - decodeExtendedFrame(frame).sentAt;
            if (kind === 'slow') {
              if (slowSamples < MAX_SLOW_SAMPLES) slowLatency[slowSamples++] = age;
              else overflow++;
            } else if (samples < MAX_LATENCY_SAMPLES) latency[samples++] = age;
            else overflow++;
          }
        }
        client.frames += frames.length;
        client.bytes += data.length;
        if (acks) {
          sendAck(cadence.take(data.length));
          lastFrameAt = performance.now();
          if (cadence.pending && flushTimer === undefined) {
            flushTimer = setTimeout(flush, ACK_FLUSH_MS);
          }
        }
        if (kind === 'slow') {
          slowRead += data.length;
          const dueMs = slowStart + (slowRead / options.slowRate) * 1000 - performance.now();
          if (dueMs > 0 && resumeTimer === undefined) {
            ws.pause();
            resumeTimer = setTimeout(() => {
              resumeTimer = undefined;
              ws.resume();
            }, dueMs);
          }
        }
        return;
      }
      const message = decodeServerMessage(String(data));
      if (message.type === 'hello') {
        // Every frame: no window. The cadence: the window hello announces.
        const window = policy === 'frame' ? undefined : message.maxUnackedBytes;
        if (acks && !greeted) {
          cadence.reset(window);
          ws.send(JSON.stringify({ cmd: 'ack', bytes: 0 }));
        } else if (acks) {
          cadence.setWindow(window);
        }
        greeted = true;
        if (options.batchMs > 0 && kind === 'normal') {
          ws.send(JSON.stringify({ cmd: 'batch', maxDelayMs: options.batchMs }));
        }
        const cameras = message.cameras.map((camera) => camera.id);
        const formats = options.h264 ? { formats: ['h264'], decodeTimes: true } : {};
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras, ...formats }));
      } else if (message.type === 'subscribed' && !client.subscribed) {
        client.subscribed = true;
        slowStart = performance.now();
        if (kind === 'stalled') ws.pause();
        if (++ready === kinds.length) {
          clearTimeout(readyTimer);
          process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
        }
      }
    });
    ws.on('error', (error) => process.stderr.write(`bench client: ${error.message}\n`));
    ws.on('close', () => {
      closed++;
      clearTimeout(resumeTimer);
      clearTimeout(flushTimer);
    });
  }

  function group(kind: Kind): GroupReport {
    const members = clients.filter((client) => client.kind === kind);
    const frames = members.map((client) => client.frames);
    return {
      clients: members.length,
      frames: frames.reduce((sum, n) => sum + n, 0),
      bytes: members.reduce((sum, client) => sum + client.bytes, 0),
      minFrames: members.length > 0 ? Math.min(...frames) : 0,
      maxFrames: members.length > 0 ? Math.max(...frames) : 0,
    };
  }

  function report(): ClientsReport {
    const seconds = (performance.now() - resetAt) / 1000;
    const cpu = process.cpuUsage(cpuAtReset);
    const latencyReport = summarise(latency.subarray(0, samples));
    const slowReport = summarise(slowLatency.subarray(0, slowSamples));
    return {
      seconds,
      normal: group('normal'),
      slow: group('slow'),
      stalled: group('stalled'),
      ...(latencyReport ? { latency: latencyReport } : {}),
      ...(slowReport ? { slowLatency: slowReport } : {}),
      latencyOverflow: overflow,
      cpu,
      eventLoopDelay: {
        p50: loopDelayMs(loopDelay.percentile(50)),
        p99: loopDelayMs(loopDelay.percentile(99)),
        max: loopDelayMs(loopDelay.max),
      },
      closed,
    };
  }

  onLines(process.stdin, (line) => {
    const command = JSON.parse(line) as { cmd?: string };
    if (command.cmd === 'reset') {
      for (const client of clients) {
        client.frames = 0;
        client.bytes = 0;
      }
      samples = 0;
      slowSamples = 0;
      overflow = 0;
      resetAt = performance.now();
      cpuAtReset = process.cpuUsage();
      loopDelay.reset();
      process.stdout.write(`${JSON.stringify({ reset: true })}\n`);
    } else if (command.cmd === 'report') {
      process.stdout.write(`${JSON.stringify({ report: report() })}\n`);
    }
  });
  process.stdin.on('end', () => {
    for (const client of clients) client.ws.terminate();
    process.exit(0);
  });
}

try {
  main();
} catch (error) {
  process.stderr.write(`bench clients: ${error instanceof Error ? error.message : error}\n`);
  process.exit(1);
}
