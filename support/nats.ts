import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, isListening } from './processes.js';
import { requireTool } from './rtsp.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const READY_TIMEOUT_MS = 10_000;

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops it (SIGTERM, SIGKILL after 3 s); its JetStream store stays unless `forget`. */
  stop(options?: { forget?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

// Servers a test forgot to stop must not outlive the test process.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Debian's nats-server with JetStream on a free loopback port, its store in a temp folder. */
export async function startNatsServer(
  options: {
    maxPayload?: number;
    port?: number;
    /** Clients must sign in as this user (docs/CLUSTER.md's nats.conf does). */
    authorization?: { user: string; password: string };
    /** Clients must speak TLS; the server shows this certificate. */
    tls?: { certFile: string; keyFile: string };
  } = {},
): Promise<NatsServer> {
  requireTool(NATS_SERVER, 'apt-get install -y nats-server');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'camplex-nats-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    [
      'host: 127.0.0.1',
      `port: ${port}`,
      `max_payload: ${options.maxPayload ?? 1024 * 1024}`,
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      ...(options.authorization
        ? [
            `authorization { user: "${options.authorization.user}", password: "${options.authorization.password}" }`,
          ]
        : []),
      ...(options.tls
        ? [`tls { cert_file: "${options.tls.certFile}", key_file: "${options.tls.keyFile}" }`]
        : []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(NATS_SERVER, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-8000);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await isListening(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nats-server did not start on ${port}:\n${stderr}`);
      }
      await delay(50);
    }
  };
  const stop = async () => {
    const current = child;
    if (current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    running.delete(current);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    stop: async ({ forget = true } = {}) => {
      await stop();
      if (forget) rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await launch();
    },
    signal: (sig) => child.kill(sig),
  };
}
