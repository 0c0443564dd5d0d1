import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, isListening } from './processes.js';
import { requireTool } from './rtsp.js';

const HAPROXY = '/usr/sbin/haproxy';

export interface LoadBalancer {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  /** The config it runs, as docs/CLUSTER.md shows it. */
  readonly config: string;
  stop(): Promise<void>;
}

/**
 * Debian's haproxy in front of `backends` (http://127.0.0.1:PORT/ each), round-robin, with the
 * settings WebSockets need (docs/CLUSTER.md uses the same text). Resolves once haproxy's own
 * health checks found every backend up: a page opened before would race them.
 */
export async function startLoadBalancer(backends: readonly string[]): Promise<LoadBalancer> {
  requireTool(HAPROXY, 'apt-get install -y haproxy');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'camplex-haproxy-'));
  const stats = join(dir, 'haproxy.sock');
  const config = [
    // The test's window into haproxy's view of the nodes (not part of the documented config).
    'global',
    `  stats socket ${stats} mode 600 level user`,
    '',
    haproxyConfig(
      port,
      backends.map((url) => new URL(url).host),
    ),
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-8000);
  });
  const deadline = Date.now() + 10_000;
  while (!(await isListening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not start:\n${stderr}`);
    }
    await delay(50);
  }
  while (true) {
    const servers = await serverStates(stats).catch(() => []);
    if (servers.length === backends.length && servers.every((s) => s.up)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not find every node up: ${JSON.stringify(servers)}\n${stderr}`);
    }
    await delay(100);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    config,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The haproxy.cfg of docs/CLUSTER.md for a front on `port` and camplex nodes at `hosts`. */
export function haproxyConfig(port: number, hosts: readonly string[]): string {
  return [
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  # a WebSocket lives long and is quiet between pings: give it its own timeout',
    '  timeout tunnel 1h',
    '',
    'frontend camplex',
    `  bind 127.0.0.1:${port}`,
    '  option forwardfor',
    '  default_backend nodes',
    '',
    'backend nodes',
    '  balance roundrobin',
    "  # HTTP/1.1 with a Host camplex answers: haproxy's default check is HTTP/1.0 without Host,",
    '  # which camplex refuses (403) while it runs without sign-in, so every node would go DOWN',
    '  option httpchk',
    '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost',
    ...hosts.map((host, i) => `  server n${i + 1} ${host} check`),
    '',
  ].join('\n');
}

interface ServerState {
  name: string;
  status: string;
  check: string;
  /** Up, and its last health check passed (not merely not checked yet). */
  up: boolean;
}

/** haproxy's view of the backend's servers, from `show stat` on its stats socket. */
async function serverStates(socketPath: string): Promise<ServerState[]> {
  const csv = await new Promise<string>((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.end('show stat\n');
  });
  const [header = '', ...rows] = csv.split('\n').filter((line) => line.trim() !== '');
  const columns = header.replace(/^# /, '').split(',');
  const at = (row: string[], name: string) => row[columns.indexOf(name)] ?? '';
  return rows
    .map((line) => line.split(','))
    .filter(
      (row) =>
        at(row, 'pxname') === 'nodes' && !['BACKEND', 'FRONTEND'].includes(at(row, 'svname')),
    )
    .map((row) => {
      const [status, check] = [at(row, 'status'), at(row, 'check_status')];
      return { name: at(row, 'svname'), status, check, up: status === 'UP' && check === 'L7OK' };
    });
}
