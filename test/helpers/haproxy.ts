import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
 * settings WebSockets need (docs/CLUSTER.md uses the same text).
 */
export async function startLoadBalancer(backends: readonly string[]): Promise<LoadBalancer> {
  requireTool(HAPROXY, 'apt-get install -y haproxy');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'camplex-haproxy-'));
  const config = haproxyConfig(
    port,
    backends.map((url) => new URL(url).host),
  );
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
    '  option httpchk GET /healthz',
    ...hosts.map((host, i) => `  server n${i + 1} ${host} check`),
    '',
  ].join('\n');
}
