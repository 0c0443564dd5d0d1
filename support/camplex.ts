/**
 * Starts the real `camplex` CLI (dist/cli.js, as users run it) on port 0 and finds its URL in
 * the log. Tests count its ffmpeg children through /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { waitFor } from './processes.js';
import { requireTool } from './rtsp.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface CamplexProcess {
  readonly pid: number;
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  /** ws://127.0.0.1:PORT/ws/cameras */
  readonly wsUrl: string;
  /** Every stdout line so far (pino JSON). */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CamplexStartOptions {
  /** YAML config text, written to a temporary file and passed with --config. */
  config?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Runs camplex with this soft limit on open descriptors (`ulimit -n`). */
  descriptorLimit?: number;
}

/** Starts camplex and resolves once it printed its listening URL (deadline 15 s). */
export async function startCamplexProcess(
  options: CamplexStartOptions = {},
): Promise<CamplexProcess> {
  requireTool('/usr/bin/ffmpeg', 'apt-get install ffmpeg');
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'camplex-test-'));
  const args = [...NODE_FLAGS, CLI, '--port', '0', ...(options.args ?? [])];
  if (options.config !== undefined) {
    const file = join(dir, 'camplex.yaml');
    writeFileSync(file, options.config);
    args.push('--config', file);
  }
  // `exec` keeps camplex's pid the one we spawned: signals and /proc go to it, not to sh.
  const [command, commandArgs] =
    options.descriptorLimit === undefined
      ? [process.execPath, args]
      : [
          '/bin/sh',
          [
            '-c',
            `ulimit -n ${options.descriptorLimit} && exec "$0" "$@"`,
            process.execPath,
            ...args,
          ],
        ];
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  live.add(child);
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `camplex did not start within 15 s\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`,
        ),
      );
    }, 15_000);
    let partial = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const match = /camplex listening on (https?:\/\/\S+\/)/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`camplex exited with ${code} before listening\nstderr:\n${stderr}`));
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}ws/cameras`,
    lines,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `change` (it rewrites the config file), SIGHUPs camplex and waits for its reload. */
export async function reloadWith(camplex: CamplexProcess, change: () => void): Promise<void> {
  const mark = camplex.lines.length;
  change();
  process.kill(camplex.pid, 'SIGHUP');
  await waitFor(
    async () => camplex.lines.slice(mark).some((line) => line.includes('config reloaded')),
    { timeoutMs: 8000, what: 'the reload' },
  );
}
