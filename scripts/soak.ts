/**
 * Soak test: runs camplex (dist/cli.js, demo cameras, port 0) with viewers subscribed to every
 * camera for a few minutes and samples its RSS, open fds, ffmpeg children and delivered
 * frames. Fails on a leak (fds up more than 10%), on an ffmpeg count other than one per
 * camera, on a viewer that got no frame during a whole interval, or on an unclean exit at
 * SIGTERM (an exit code other than 0, or viewers not closed with 1001).
 *
 *   npm run soak -- --minutes N [--viewers 20] [--cameras 16] [--interval-seconds 5]
 *                   [--json FILE]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const USAGE =
  'Usage: npm run soak -- --minutes N [--viewers 20] [--cameras 16] [--interval-seconds 5] ' +
  '[--json FILE]\n';
const START_DEADLINE_MS = 20_000;
const FIRST_FRAMES_DEADLINE_MS = 60_000;
const EXIT_DEADLINE_MS = 10_000;
/** More fds than this fraction above the warm baseline is taken for a leak. */
const MAX_FD_GROWTH = 0.1;
/** Samples 3-5 (1-based) are the warm baseline; the last 3 are compared with them. */
const BASELINE = { from: 2, to: 5 } as const;
const TAIL = 3;

interface Options {
  minutes: number;
  viewers: number;
  cameras: number;
  intervalSeconds: number;
  json: string | undefined;
}

interface Sample {
  index: number;
  /** Seconds since sampling started. */
  seconds: number;
  rssKiB: number;
  /** V8 heap in use and reserved, from camplex's /metrics: tells live data from reservation. */
  heapUsedKiB: number;
  heapTotalKiB: number;
  /**
   * Of heapTotal, V8's young generation: it grows in steps up to twice --max-semi-space-size
   * (32 MiB by default on 64-bit) under a steady allocation rate, a one-time RSS step.
   */
  heapNewKiB: number;
  fds: number;
  ffmpeg: number;
  /** Frames every viewer together received since the previous sample, per second. */
  framesPerSecond: number;
  /** Viewers that got no frame at all since the previous sample. */
  starvedViewers: number;
}

interface Viewer {
  ws: WebSocket;
  frames: Map<string, number>;
  /** Resolves with the close code. */
  closed: Promise<number>;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      viewers: { type: 'string', default: '20' },
      cameras: { type: 'string', default: '16' },
      'interval-seconds': { type: 'string', default: '5' },
      json: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.minutes === undefined) throw new Error('--minutes is required');
  const options: Options = {
    minutes: positive('--minutes', values.minutes, 24 * 60),
    viewers: whole('--viewers', values.viewers, 1, 1000),
    cameras: whole('--cameras', values.cameras, 1, 256),
    intervalSeconds: positive('--interval-seconds', values['interval-seconds'], 3600),
    json: values.json,
  };
  return options;
}

function positive(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new Error(`${flag}: expected a number above 0 and at most ${max}, got ${text}`);
  }
  return value;
}

function whole(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${flag}: expected a whole number from ${min} to ${max}, got ${text}`);
  }
  return value;
}

/** Starts camplex and resolves with its URL once it logged it. */
async function startCamplex(
  cameras: number,
): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--demo', String(cameras)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      if (signal !== null) console.error(`camplex ended by ${signal}`);
      resolve(code);
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('camplex did not start within 20 s')),
      START_DEADLINE_MS,
    );
    let partial = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = /camplex listening on (http:\/\/\S+\/)/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        } else if (line.includes('"level":50') || line.includes('"level":40')) {
          process.stderr.write(`camplex: ${line}\n`);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`camplex exited with ${code} before listening`));
    });
  });
  return { child, url, exited };
}

/** Connects a viewer that subscribes to every camera after `hello` and counts frames. */
function connectViewer(wsUrl: string): Promise<Viewer> {
  return new Promise<Viewer>((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    const closed = new Promise<number>((resolveClose) => ws.on('close', resolveClose));
    const viewer: Viewer = { ws, frames: new Map(), closed };
    ws.once('error', reject);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const id = data.subarray(1, 1 + (data[0] ?? 0)).toString('utf8');
        viewer.frames.set(id, (viewer.frames.get(id) ?? 0) + 1);
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as {
        type: string;
        cameras?: Array<{ id: string }>;
      };
      if (message.type === 'hello') {
        const ids = (message.cameras ?? []).map((camera) => camera.id);
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ids }));
        resolve(viewer);
      }
    });
  });
}

/** Frames each viewer received so far, over all cameras. */
function framesPerViewer(viewers: Viewer[]): number[] {
  return viewers.map((viewer) => {
    let total = 0;
    for (const count of viewer.frames.values()) total += count;
    return total;
  });
}

/** camplex's V8 heap (used, total, young generation) in KiB, from its Prometheus metrics. */
async function heapKiB(url: string): Promise<{ used: number; total: number; young: number }> {
  try {
    const text = await (await fetch(`${url}metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const read = (name: string) =>
      Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      used: read('camplex_nodejs_heap_size_used_bytes') / 1024,
      total: read('camplex_nodejs_heap_size_total_bytes') / 1024,
      young: read('camplex_nodejs_heap_space_size_total_bytes\\{space="new"\\}') / 1024,
    };
  } catch {
    return { used: Number.NaN, total: Number.NaN, young: Number.NaN };
  }
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Direct children of `pid` named ffmpeg (camplex spawns ffmpeg itself, without a shell). */
function ffmpegChildren(pid: number): number {
  let count = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (comm === 'ffmpeg' && Number(fields[1]) === pid && fields[0] !== 'Z') count++;
    } catch {
      // exited while we looked
    }
  }
  return count;
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function percent(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`;
}

/** Mean of the last 3 samples against the mean of samples 3-5 (the first ones if fewer), in %. */
function drift(values: number[]): number {
  const baseline =
    values.length >= BASELINE.to ? values.slice(BASELINE.from, BASELINE.to) : values.slice(0, 1);
  const tail = values.slice(-TAIL);
  const base = mean(baseline);
  return base === 0 ? 0 : ((mean(tail) - base) / base) * 100;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`soak: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { minutes, cameras, intervalSeconds } = options;
  const camplex = await startCamplex(cameras);
  const pid = camplex.child.pid ?? -1;
  const wsUrl = `${camplex.url.replace(/^http/, 'ws')}ws/cameras`;
  console.log(
    `soak: camplex ${pid} at ${camplex.url}, ${cameras} cameras, ${options.viewers} viewers, ` +
      `${minutes} min, a sample every ${intervalSeconds} s`,
  );
  const viewers: Viewer[] = [];
  for (let i = 0; i < options.viewers; i++) viewers.push(await connectViewer(wsUrl));

  // Warm-up: every viewer has frames of every camera before the first sample.
  const warmDeadline = Date.now() + FIRST_FRAMES_DEADLINE_MS;
  while (!viewers.every((viewer) => viewer.frames.size === cameras)) {
    if (Date.now() > warmDeadline) {
      console.error('soak: not every viewer got frames of every camera within 60 s');
      camplex.child.kill('SIGKILL');
      return 1;
    }
    await delay(50);
  }

  const samples: Sample[] = [];
  const count = Math.max(1, Math.floor((minutes * 60) / intervalSeconds));
  const startedAt = Date.now();
  let lastAt = startedAt;
  let lastFrames = framesPerViewer(viewers);
  let died = false;
  void camplex.exited.then(() => {
    died = true;
  });
  for (let index = 1; index <= count && !died; index++) {
    // Paced against the start, so slow samples do not stretch the run.
    await delay(Math.max(0, startedAt + index * intervalSeconds * 1000 - Date.now()));
    if (died) break;
    const now = Date.now();
    const frames = framesPerViewer(viewers);
    const heap = await heapKiB(camplex.url);
    const received = frames.map((n, v) => n - (lastFrames[v] ?? 0));
    const sample: Sample = {
      index,
      seconds: (now - startedAt) / 1000,
      rssKiB: rssKiB(pid),
      heapUsedKiB: heap.used,
      heapTotalKiB: heap.total,
      heapNewKiB: heap.young,
      fds: openFds(pid),
      ffmpeg: ffmpegChildren(pid),
      framesPerSecond: received.reduce((sum, n) => sum + n, 0) / ((now - lastAt) / 1000),
      starvedViewers: received.filter((n) => n === 0).length,
    };
    lastAt = now;
    lastFrames = frames;
    samples.push(sample);
    console.log(
      `sample ${String(index).padStart(3)}  t=${sample.seconds.toFixed(1).padStart(6)} s  ` +
        `rss=${mib(sample.rssKiB).padStart(10)}  ` +
        `heap=${mib(sample.heapUsedKiB)}/${mib(sample.heapTotalKiB)} (young ${mib(sample.heapNewKiB)})  ` +
        `fds=${String(sample.fds).padStart(4)}  ` +
        `ffmpeg=${String(sample.ffmpeg).padStart(3)}  ` +
        `frames/s=${sample.framesPerSecond.toFixed(1).padStart(8)}  ` +
        `starved=${sample.starvedViewers}`,
    );
  }

  const problems: string[] = [];
  if (died) problems.push('camplex exited during the soak');
  else {
    camplex.child.kill('SIGTERM');
    const code = await Promise.race([camplex.exited, delay(EXIT_DEADLINE_MS).then(() => 'late')]);
    if (code === 'late') {
      camplex.child.kill('SIGKILL');
      problems.push('camplex did not exit within 10 s of SIGTERM');
    } else if (code !== 0) {
      problems.push(`camplex exited with ${code} on SIGTERM`);
    } else {
      // camplex closes every socket with 1001 before it exits.
      const codes = await Promise.race([
        Promise.all(viewers.map((viewer) => viewer.closed)),
        delay(EXIT_DEADLINE_MS).then(() => []),
      ]);
      if (codes.length !== viewers.length || codes.some((c) => c !== 1001)) {
        problems.push(`viewer sockets not closed with 1001: ${codes.join(', ') || 'none closed'}`);
      }
    }
  }
  for (const viewer of viewers) viewer.ws.terminate();

  const rss = samples.map((sample) => sample.rssKiB);
  const fds = samples.map((sample) => sample.fds);
  const ffmpeg = samples.map((sample) => sample.ffmpeg);
  const rates = samples.map((sample) => sample.framesPerSecond);
  const summary = {
    samples: samples.length,
    seconds: samples.at(-1)?.seconds ?? 0,
    cameras,
    viewers: options.viewers,
    rssKiB: {
      first: rss[0] ?? 0,
      last: rss.at(-1) ?? 0,
      min: Math.min(...rss),
      max: Math.max(...rss),
      driftPercent: drift(rss),
    },
    fds: {
      first: fds[0] ?? 0,
      last: fds.at(-1) ?? 0,
      min: Math.min(...fds),
      max: Math.max(...fds),
      driftPercent: drift(fds),
    },
    ffmpeg: { min: Math.min(...ffmpeg), max: Math.max(...ffmpeg) },
    framesPerSecond: { mean: mean(rates), min: Math.min(...rates) },
    problems,
  };
  if (samples.length === 0) problems.push('no samples taken');
  if (ffmpeg.some((n) => n !== cameras)) {
    problems.push(
      `ffmpeg count left ${cameras} (min ${summary.ffmpeg.min}, max ${summary.ffmpeg.max})`,
    );
  }
  if (summary.fds.driftPercent > MAX_FD_GROWTH * 100) {
    problems.push(`open fds grew ${percent(summary.fds.driftPercent)}: a leak`);
  }
  if (samples.some((sample) => sample.starvedViewers > 0)) {
    problems.push('a viewer got no frame during a whole interval');
  }

  const { rssKiB: r, fds: f } = summary;
  console.log(
    [
      `summary: ${summary.samples} samples over ${summary.seconds.toFixed(1)} s, ` +
        `${cameras} cameras, ${options.viewers} viewers`,
      `  rss:      first ${mib(r.first)}, last ${mib(r.last)}, min ${mib(r.min)}, ` +
        `max ${mib(r.max)}, drift ${percent(r.driftPercent)} (mean of last 3 vs samples 3-5)`,
      `  fds:      first ${f.first}, last ${f.last}, min ${f.min}, max ${f.max}, ` +
        `drift ${percent(f.driftPercent)}`,
      `  ffmpeg:   min ${summary.ffmpeg.min}, max ${summary.ffmpeg.max} (expected ${cameras})`,
      `  frames/s: mean ${summary.framesPerSecond.mean.toFixed(1)}, ` +
        `min ${summary.framesPerSecond.min.toFixed(1)}`,
      problems.length === 0 ? 'result: ok' : `result: FAILED\n  ${problems.join('\n  ')}`,
    ].join('\n'),
  );
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify({ options, samples, summary }, null, 2)}\n`);
  }
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
