import { readdirSync, readFileSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

interface ProcEntry {
  pid: number;
  ppid: number;
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    // The process exited between listing /proc and reading it.
    return undefined;
  }
}

function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

function readEntry(pid: number): ProcEntry | undefined {
  const stat = readProcFile(pid, 'stat');
  if (stat === undefined) return undefined;
  // comm sits in parentheses and may itself contain spaces or ')', so parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? { pid, ppid } : undefined;
}

/** Pids of every live process below rootPid (children, grandchildren, ...), in no set order. */
export function descendantPids(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of listPids()) {
    const entry = readEntry(pid);
    if (entry === undefined) continue;
    const siblings = children.get(entry.ppid);
    if (siblings) siblings.push(pid);
    else children.set(entry.ppid, [pid]);
  }
  const found: number[] = [];
  const seen = new Set<number>([rootPid]);
  const queue = [rootPid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The command line of every live process below rootPid (arguments joined by spaces). */
export function descendantCommandLines(rootPid: number): string[] {
  return descendantPids(rootPid).map(
    (pid) => readProcFile(pid, 'cmdline')?.replaceAll('\0', ' ') ?? '',
  );
}

/** How many processes below rootPid have the given /proc/<pid>/comm (e.g. 'ffmpeg'). */
export function countDescendants(rootPid: number, commName: string): number {
  return descendantPids(rootPid).filter((pid) => readProcFile(pid, 'comm')?.trim() === commName)
    .length;
}

/** Pids of live processes whose command line contains substring, this process excluded. */
export function pidsByCommandLine(substring: string): number[] {
  const found: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    // Arguments are NUL-separated; join them with spaces so a substring can span arguments.
    const cmdline = readProcFile(pid, 'cmdline')?.replaceAll('\0', ' ');
    if (cmdline?.includes(substring)) found.push(pid);
  }
  return found;
}

/** What a truthy probe result can be, so callers get the value without the falsy cases. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/** Polls probe until it returns a truthy value, or throws once timeoutMs has passed. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<Truthy<T>> {
  const { timeoutMs, intervalMs = 25, what } = opts;
  const deadline = Date.now() + timeoutMs;
  const timedOut = new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
  while (true) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timedOut;
    // A probe that never settles must not outlive the deadline either.
    const abort = new AbortController();
    const expired = Symbol('expired');
    const value = await Promise.race([
      Promise.resolve().then(probe),
      delay(remaining, expired, { signal: abort.signal }).catch(() => expired),
    ]).finally(() => abort.abort());
    if (value === expired) throw timedOut;
    if (value) return value as Truthy<T>;
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for tests that need a dead address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error(`unexpected server address: ${String(address)}`);
  }
  return address.port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
