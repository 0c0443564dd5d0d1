/**
 * B4 density: what an idle subscribed viewer costs. The real camplex CLI (one demo camera at
 * 1 fps, 64 px wide, so its ffmpeg runs but idle sockets carry almost no traffic) and, in the
 * same run, a bare `ws` server that broadcasts a message of the same size at the same rate, each
 * hold N idle subscribed sockets opened by a separate client process. RSS per connection is the
 * steady RSS with the N sockets minus the steady RSS with one, over N.
 *
 * This file is also the client and the bare server: `node --import tsx bench/b4-density.ts
 * --role client|bare-server ...` (see roleMain), so each side runs in a process of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { round } from './lib/stats.js';
import type { BenchOptions, BenchResult } from './lib/types.js';

const SELF = fileURLToPath(import.meta.url);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const CAMERA = 'idle';
const CAMERA_FPS = 1;
const CAMERA_WIDTH = 64;
const TARGET_KIB = 16;
/** Sockets the client opens at once while ramping up. */
const CONNECT_CONCURRENCY = 200;
const CONNECT_TIMEOUT_MS = 15_000;
/** Deadline for the whole ramp of N sockets. */
const RAMP_DEADLINE_MS = 180_000;
const START_DEADLINE_MS = 15_000;
const STOP_DEADLINE_MS = 10_000;
const SAMPLE_INTERVAL_MS = 250;
/** A role process left behind by a crashed parent ends itself after this long. */
const ROLE_MAX_LIFETIME_MS = 15 * 60_000;
/** File descriptors beyond the sockets: ffmpeg pipes, the event loop, logs. */
const SPARE_FDS = 512;

interface Side {
  pid: number;
  wsUrl: string;
  stop(): Promise<void>;
}

interface Measurement {
  beforeKiB: number;
  afterKiB: number;
  perConnectionKiB: number;
  spreadKiB: number;
  opened: number;
  failed: number;
  frames: number;
  fdLimit: number;
}

/** Runs B4: camplex and a bare ws server, N idle subscribed sockets each, side by side. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 10_000;
  const fdLimit = Math.max(count + SPARE_FDS, softFdLimit());
  const settleSeconds = Math.max(3, options.seconds);
  const notes: string[] = [];
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const camplex = await startCamplex(count, fdLimit);
    cleanup.push(() => camplex.stop());
    let viewers = 0;
    const ours = await measure(camplex, count, settleSeconds, async () => {
      viewers = await healthViewers(camplex.wsUrl);
    });
    await camplex.stop();

    const bare = await startBareServer(ours.frameBytes, fdLimit);
    cleanup.push(() => bare.stop());
    const theirs = await measure(bare, count, settleSeconds);
    await bare.stop();

    const value = round(ours.result.perConnectionKiB, 2);
    const baseline = round(theirs.result.perConnectionKiB, 2);
    notes.push(
      `${count} sockets from one client process on 127.0.0.1; ephemeral ports ` +
        `${ephemeralPorts()}; open-files limit ${ours.result.fdLimit} in each child ` +
        `(bench process: ${softFdLimit()}; children start under a bash \`ulimit -n\` wrapper ` +
        `asking for at least ${count + SPARE_FDS}).`,
      `camplex: RSS ${mib(ours.result.beforeKiB)} MiB with 1 viewer, ` +
        `${mib(ours.result.afterKiB)} MiB with ${count + 1} (/healthz viewers: ${viewers}); ` +
        `${ours.result.opened} opened, ${ours.result.failed} failed; ` +
        `${ours.result.frames} frames (${ours.frameBytes} B messages) reached the idle sockets.`,
      `bare ws: RSS ${mib(theirs.result.beforeKiB)} -> ${mib(theirs.result.afterKiB)} MiB; ` +
        `${theirs.result.opened} opened, ${theirs.result.failed} failed; the same message ` +
        `size at ${CAMERA_FPS} fps, no hello, no pings, no per-socket session.`,
      'RSS is the median of samples every 250 ms over the settle window (no forced GC in ' +
        `the child); spread (max - min) with N sockets: camplex ${ours.result.spreadKiB} KiB, ` +
        `bare ws ${theirs.result.spreadKiB} KiB. Kernel socket buffers are not in RSS; ` +
        'ffmpeg is not counted. JIT and heap growth from the ramp itself are in the delta, ' +
        'so the figure is an upper bound (more so with fewer sockets).',
    );
    if (ours.result.failed > 0 || theirs.result.failed > 0) {
      notes.push('Some sockets failed to open: per-connection figures divide by those opened.');
    }
    return {
      id: 'B4',
      title: 'Density: idle subscribed WebSocket viewers',
      figures: [
        {
          name: `RSS per idle subscribed socket, ${count} sockets`,
          value,
          unit: 'KiB',
          baseline,
          ratio: round(value / baseline, 2),
          target: `<= ${TARGET_KIB} KiB`,
          met: value <= TARGET_KIB,
        },
        {
          name: `RSS with ${count} idle subscribed sockets`,
          value: mib(ours.result.afterKiB),
          unit: 'MiB',
          baseline: mib(theirs.result.afterKiB),
          ratio: round(ours.result.afterKiB / theirs.result.afterKiB, 2),
        },
      ],
      notes,
    };
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => {});
  }
}

/** Holds one warm viewer, samples RSS, ramps N sockets from a client process, samples again. */
async function measure(
  side: Side,
  count: number,
  settleSeconds: number,
  whileHeld: () => Promise<void> = async () => {},
): Promise<{ result: Measurement; frameBytes: number }> {
  const warm = await warmViewer(side.wsUrl);
  try {
    const before = await steadyRss(side.pid, Math.max(2, settleSeconds / 2));
    const client = startRole(
      ['client', side.wsUrl, String(count), CAMERA],
      Math.max(count + SPARE_FDS, softFdLimit()),
    );
    try {
      const ready = await client.nextLine(RAMP_DEADLINE_MS, 'the client to open its sockets');
      const { opened, failed } = JSON.parse(ready) as { opened: number; failed: number };
      const after = await steadyRss(side.pid, settleSeconds);
      client.send('report');
      const report = await client.nextLine(5_000, 'the client report');
      const { frames } = JSON.parse(report) as { frames: number };
      await whileHeld();
      return {
        frameBytes: warm.frameBytes,
        result: {
          beforeKiB: before.median,
          afterKiB: after.median,
          perConnectionKiB: (after.median - before.median) / Math.max(1, opened),
          spreadKiB: after.max - after.min,
          opened,
          failed,
          frames,
          fdLimit: fdLimitOf(side.pid),
        },
      };
    } finally {
      await client.stop();
    }
  } finally {
    warm.ws.close();
  }
}

/** One subscribed viewer, so the camera runs (and every code path is warm) before sampling. */
async function warmViewer(url: string): Promise<{ ws: WebSocket; frameBytes: number }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frameBytes = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no frame of ${CAMERA} from ${url} within 15 s`)),
      START_DEADLINE_MS,
    );
    ws.on('open', () => ws.send(JSON.stringify({ cmd: 'subscribe', cameras: [CAMERA] })));
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      clearTimeout(timer);
      resolve(data.length);
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  ws.removeAllListeners('message');
  return { ws, frameBytes };
}

/** Samples VmRSS for `seconds`; the median is the steady value. */
async function steadyRss(
  pid: number,
  seconds: number,
): Promise<{ median: number; min: number; max: number }> {
  const samples: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    samples.push(rssKiB(pid));
    await delay(SAMPLE_INTERVAL_MS);
  }
  samples.sort((a, b) => a - b);
  return {
    median: samples[Math.floor(samples.length / 2)] ?? 0,
    min: samples[0] ?? 0,
    max: samples[samples.length - 1] ?? 0,
  };
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

function fdLimitOf(pid: number): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN);
}

function softFdLimit(): number {
  return fdLimitOf(process.pid);
}

function ephemeralPorts(): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .replace(/\s+/, '-');
  } catch {
    return 'unknown';
  }
}

async function healthViewers(wsUrl: string): Promise<number> {
  const url = wsUrl.replace(/^ws/, 'http').replace(/ws\/cameras$/, 'healthz');
  const body = (await (await fetch(url)).json()) as { viewers: number };
  return body.viewers;
}

// Whatever ends the benchmark, no process it started outlives it.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** `command args...` under a bash that first raises the open-files limit; exec keeps the pid. */
function spawnWithFdLimit(fdLimit: number, command: string, args: string[]): ChildProcess {
  // Root may raise the hard limit; anyone else gets as close as the hard limit allows.
  const script = 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';
  const child = spawn('bash', ['-c', script, String(fdLimit), command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Waits for `child` to exit; SIGTERM first, SIGKILL after the deadline. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const outcome = await Promise.race([exited, delay(STOP_DEADLINE_MS, 'timeout' as const)]);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** The real CLI with one demo camera at 1 fps, limits raised to hold the N sockets. */
async function startCamplex(count: number, fdLimit: number): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-b4-'));
  const config = join(dir, 'camplex.yaml');
  writeFileSync(
    config,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      `limits: { maxSocketsPerIp: ${count + 16}, maxSockets: ${count + 16} }`,
      'stream: { graceSeconds: 60 }',
      'cameras:',
      `  ${CAMERA}: { url: "demo:1", fps: ${CAMERA_FPS}, width: ${CAMERA_WIDTH} }`,
      '',
    ].join('\n'),
  );
  const child = spawnWithFdLimit(fdLimit, process.execPath, [
    ...NODE_FLAGS,
    CLI,
    '--config',
    config,
  ]);
  child.stdin?.end();
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const tail: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`camplex did not listen within 15 s:\n${tail.join('\n')}`)),
        START_DEADLINE_MS,
      );
      // Keep reading every log line, so a chatty camplex never blocks on a full pipe.
      lines.on('line', (line) => {
        tail.push(line);
        if (tail.length > 50) tail.shift();
        const match = /camplex listening on (http:\/\/\S+\/)/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`camplex exited with ${code}:\n${tail.join('\n')}`));
      });
    });
    child.stderr?.resume();
    return { pid: pidOf(child), wsUrl: `${url.replace(/^http/, 'ws')}ws/cameras`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startBareServer(frameBytes: number, fdLimit: number): Promise<Side> {
  const role = startRole(['bare-server', String(frameBytes), String(CAMERA_FPS)], fdLimit);
  try {
    const port = Number(await role.nextLine(START_DEADLINE_MS, 'the bare ws server to listen'));
    return {
      pid: role.pid,
      wsUrl: `ws://127.0.0.1:${port}/ws/cameras`,
      stop: () => role.stop(),
    };
  } catch (error) {
    await role.stop();
    throw error;
  }
}

interface RoleProcess {
  pid: number;
  send(line: string): void;
  nextLine(timeoutMs: number, what: string): Promise<string>;
  stop(): Promise<void>;
}

/** This file in another node process, in the given role; lines on stdin and stdout. */
function startRole(args: string[], fdLimit: number): RoleProcess {
  const child = spawnWithFdLimit(fdLimit, process.execPath, [
    '--import',
    import.meta.resolve('tsx'),
    SELF,
    '--role',
    ...args,
  ]);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4096);
  });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return {
    pid: pidOf(child),
    send: (line) => child.stdin?.write(`${line}\n`),
    nextLine(timeoutMs, what) {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${stderr}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          reject(new Error(`${args[0]} exited with ${code} while waiting for ${what}\n${stderr}`));
        };
        child.once('exit', onExit);
        waiters.push((line) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(line);
        });
      });
    },
    async stop() {
      child.stdin?.end(); // a role exits when its stdin ends
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.exitCode !== null || child.signalCode !== null) return;
      const outcome = await Promise.race([exited, delay(STOP_DEADLINE_MS, 'timeout' as const)]);
      if (outcome === 'timeout') await stopChild(child);
    },
  };
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('spawn failed: no pid');
  return child.pid;
}

function mib(kib: number): number {
  return round(kib / 1024, 1);
}

// ---- roles: the client and the bare server, each in its own process ----

/**
 * `client URL COUNT CAMERA`: opens COUNT sockets (CONNECT_CONCURRENCY at a time), subscribes
 * each to CAMERA, prints {opened, failed} once every one is acknowledged or failed, then holds
 * them. `report` on stdin prints {open, frames}; the end of stdin closes everything.
 */
async function clientRole(url: string, count: number, camera: string): Promise<void> {
  const sockets: WebSocket[] = [];
  let frames = 0;
  let failed = 0;
  let started = 0;
  const openOne = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ok) sockets.push(ws);
        else {
          failed++;
          ws.terminate();
        }
        resolve();
      };
      const timer = setTimeout(() => settle(false), CONNECT_TIMEOUT_MS);
      ws.on('open', () => ws.send(JSON.stringify({ cmd: 'subscribe', cameras: [camera] })));
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) {
          frames++;
          return;
        }
        if (!settled && (JSON.parse(data.toString()) as { type?: string }).type === 'subscribed') {
          settle(true);
        }
      });
      ws.on('error', () => settle(false));
      ws.on('close', () => settle(false));
    });
  const deadline = Date.now() + RAMP_DEADLINE_MS;
  const worker = async () => {
    while (started < count && Date.now() < deadline) {
      started++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, worker));
  process.stdout.write(`${JSON.stringify({ opened: sockets.length, failed })}\n`);
  await serveStdin({
    report: () => {
      const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
      process.stdout.write(`${JSON.stringify({ open, frames })}\n`);
    },
  });
  for (const ws of sockets) ws.terminate();
}

/**
 * `bare-server BYTES FPS`: a plain `ws` server on 127.0.0.1:0 that acknowledges a subscribe and
 * broadcasts one BYTES-long binary message to every socket FPS times a second. Prints its port.
 */
async function bareServerRole(frameBytes: number, fps: number): Promise<void> {
  const server = createServer();
  const wss = new WebSocketServer({ server, path: '/ws/cameras', perMessageDeflate: false });
  const subscribed = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const command = JSON.parse(data.toString()) as { cmd?: string; cameras?: string[] };
      if (command.cmd !== 'subscribe') return;
      subscribed.add(ws);
      ws.send(JSON.stringify({ type: 'subscribed', cameras: command.cameras ?? [] }));
    });
    ws.on('close', () => subscribed.delete(ws));
  });
  const frame = Buffer.alloc(frameBytes, 0xab);
  const ticker = setInterval(() => {
    for (const ws of subscribed) ws.send(frame, { binary: true });
  }, 1000 / fps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
  await serveStdin({});
  clearInterval(ticker);
  for (const ws of wss.clients) ws.terminate();
  server.close();
}

/** Answers stdin commands until stdin ends (the parent is done or gone) or the lifetime ends. */
async function serveStdin(commands: Record<string, () => void>): Promise<void> {
  const lifetime = setTimeout(() => process.exit(2), ROLE_MAX_LIFETIME_MS);
  lifetime.unref();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) commands[line.trim()]?.();
}

async function roleMain(argv: string[]): Promise<void> {
  const [role, ...args] = argv;
  if (role === 'client') {
    await clientRole(String(args[0]), Number(args[1]), String(args[2]));
  } else if (role === 'bare-server') {
    await bareServerRole(Number(args[0]), Number(args[1]));
  } else {
    throw new Error(`unknown role ${role}`);
  }
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--role');
  if (at !== -1) {
    roleMain(process.argv.slice(at + 1)).catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    });
  }
}
