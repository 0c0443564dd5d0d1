/**
 * B9's camplex node, run as a child process so its CPU can be read on its own:
 *
 *   node --import tsx bench/b9-node.ts --cameras 16 --fps 15 [--nats URL --node NAME --lease S]
 *
 * The real server (startCamplex) with each camera's source replaced by recorded mpjpeg bytes
 * pushed at `fps`, as bench/lib/server.ts does; with --nats it joins a cluster (config `cluster`).
 * Only recordings whose frames all differ are used (some demo patterns are still pictures), so
 * a JPEG's bytes name one frame of its camera within a loop of the recording: B9 matches the
 * same frame on two nodes by camera and content.
 *
 * Prints `{"ready":true,"port":N}`, then answers each `{"cmd":"stats"}` line on stdin
 * with one JSON line (NodeStats). Exits when stdin ends.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { startCamplex } from '../src/server.js';
import { type RecordedCamera, recordedFrames, toMpjpeg } from './lib/frames.js';
import { onLines } from './lib/lines.js';
import { recordedSources, UNUSED_FFMPEG } from './lib/recorded-source.js';

/** The answer to `{"cmd":"stats"}`. */
export interface NodeStats {
  /** process.cpuUsage(), microseconds. */
  cpu: { user: number; system: number };
  rss: number;
  /** Frames and JPEG bytes into the hub, every camera together (from the splitter or NATS). */
  frames: number;
  bytes: number;
  /** Frames sent and dropped to viewers (the owner's NATS relay is one of them). */
  sent: number;
  dropped: number;
  /** Camera failures (restarts), every camera together. */
  failures: number;
  /** Sources started here: a camera runs its (recorded) source only on the node owning it. */
  launches: number;
}

const SHUTDOWN_DEADLINE_MS = 5000;
const MAX_CAMERAS = 64;

/** Recordings whose frames are all different. */
function distinctRecordings(recordings: readonly RecordedCamera[]): RecordedCamera[] {
  const distinct = recordings.filter((recording) => {
    const hashes = new Set(
      recording.frames.map((frame) => createHash('sha1').update(frame).digest('hex')),
    );
    return hashes.size === recording.frames.length;
  });
  if (distinct.length === 0) throw new Error('no recording with distinct frames');
  return distinct;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      cameras: { type: 'string', default: '16' },
      fps: { type: 'string', default: '15' },
      nats: { type: 'string' },
      node: { type: 'string', default: 'bench' },
      lease: { type: 'string', default: '6' },
    },
    strict: true,
  });
  const cameras = Number(values.cameras);
  const fps = Number(values.fps);
  const lease = Number(values.lease);
  if (!Number.isInteger(cameras) || cameras < 1 || cameras > MAX_CAMERAS) {
    throw new Error(`--cameras: expected 1 to ${MAX_CAMERAS}`);
  }
  if (!(fps > 0 && fps <= 120)) throw new Error('--fps: expected 0 to 120');
  if (!(lease >= 1 && lease <= 300)) throw new Error('--lease: expected 1 to 300 s');
  if (values.nats !== undefined && !values.nats.startsWith('nats://127.0.0.1:')) {
    throw new Error('--nats: expected nats://127.0.0.1:PORT');
  }
  return { cameras, fps, nats: values.nats, node: values.node, lease };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const recordings = distinctRecordings(await recordedFrames());
  const file = options.nats
    ? { cluster: { nats: options.nats, node: options.node, leaseSeconds: options.lease } }
    : {};
  // JSON is YAML: the cluster section goes through the same schema as a config file's.
  const config = parseConfig(JSON.stringify(file), `B9 node ${options.node}`, {
    demo: options.cameras,
    port: 0,
  });
  const parts = new Map<string, Buffer[]>();
  config.cameras.forEach((camera, index) => {
    const recording = recordings[index % recordings.length];
    parts.set(camera.id, (recording?.frames ?? []).map(toMpjpeg));
  });
  const sources = recordedSources(parts, options.fps);
  const launchSource = sources.launch;
  // Logs go to stderr: stdout carries this process's JSON lines.
  const log = pino({ level: 'warn', base: { name: `b9-${options.node}` } }, pino.destination(2));
  const camplex = await startCamplex({
    config,
    ffmpeg: UNUSED_FFMPEG,
    log,
    publicDir: fileURLToPath(new URL('../dist/public/', import.meta.url)),
    launchSource,
  });
  const into = { frames: 0, bytes: 0 };
  for (const camera of camplex.hub.cameras()) {
    camera.tap((frame) => {
      into.frames++;
      into.bytes += frame.data.length;
    });
  }
  const stats = (): NodeStats => {
    let sent = 0;
    let dropped = 0;
    let failures = 0;
    for (const camera of camplex.hub.cameras()) {
      const delivery = camplex.hub.deliveryOf(camera);
      sent += delivery.sent;
      dropped += delivery.dropped;
      failures += camera.counters.failures;
    }
    return {
      cpu: process.cpuUsage(),
      rss: process.memoryUsage.rss(),
      ...into,
      sent,
      dropped,
      failures,
      launches: sources.launches(),
    };
  };
  process.stdout.write(`${JSON.stringify({ ready: true, port: camplex.port })}\n`);
  onLines(process.stdin, (line) => {
    const command = JSON.parse(line) as { cmd?: string };
    if (command.cmd === 'stats') process.stdout.write(`${JSON.stringify({ stats: stats() })}\n`);
  });
  process.stdin.on('end', () => {
    setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
    void camplex.close().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`B9 node: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
