/**
 * A whole-process profile of a benchmark server's measured window with Linux `perf`: where the
 * CPU goes among the kernel (system calls, the network stack), node's binary (V8's builtins,
 * runtime and collector), the JavaScript V8 compiled and libc. V8's own profiles see the
 * JavaScript alone. The server runs with `--perf-basic-prof`, so perf names compiled functions
 * (from /tmp/perf-<pid>.map, which node writes and perf reads when it reports).
 *
 * Set CAMPLEX_BENCH_PERF=<folder>; each run writes `<start>-<n>-<mode>-<clients>c.data` there
 * (perf's own cost and `--perf-basic-prof` weigh on the figures of such a run). Read it:
 *   perf report -i <file> --no-children --sort dso --stdio -g none     (by place)
 *   perf report -i <file> --no-children --sort sym --stdio -g none     (by function)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const PERF_ENV = 'CAMPLEX_BENCH_PERF';
/** Samples per second: often enough for a 10 s window, light enough not to drown the server. */
const FREQUENCY = 999;
const STOP_DEADLINE_MS = 15_000;

let recordings = 0;
/** Files of one bench run share its start time: a later run into the folder adds, not replaces. */
const RUN = new Date().toISOString().replaceAll(':', '').slice(0, 17);

let checked: string | undefined;

/** The folder to record into when asked for, after checking once that perf is there (loudly if not). */
export function perfFolder(): string | undefined {
  const folder = process.env[PERF_ENV];
  if (!folder || folder === checked) return folder || undefined;
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`${PERF_ENV} is set but perf is not installed (apt-get install linux-perf)`);
  }
  mkdirSync(folder, { recursive: true });
  checked = folder;
  return folder;
}

/**
 * The node flags a recorded server needs: compiled functions named for perf, and V8's log
 * (which that flag turns on) kept in `folder` rather than the working directory.
 */
export function perfNodeFlags(folder: string): string[] {
  return [
    '--perf-basic-prof',
    '--no-logfile-per-isolate',
    `--logfile=${join(folder, 'v8-%p.log')}`,
  ];
}

/** Records process `pid` with call graphs until the returned function is called. */
export function startPerf(folder: string, pid: number, label: string): () => Promise<void> {
  const file = join(folder, `${RUN}-${++recordings}-${label}.data`);
  const perf: ChildProcess = spawn(
    'perf',
    ['record', '-F', String(FREQUENCY), '-g', '-p', String(pid), '-o', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  perf.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  const exited = new Promise<string>((resolve) => {
    perf.once('exit', (code, signal) => resolve(signal ?? String(code)));
    perf.once('error', (error) => resolve(error.message)); // it could not be started
  });
  return async () => {
    perf.kill('SIGINT'); // perf writes its file, then ends by that signal
    const timer = setTimeout(() => perf.kill('SIGKILL'), STOP_DEADLINE_MS);
    const how = await exited;
    clearTimeout(timer);
    if (how !== '0' && how !== 'SIGINT') {
      throw new Error(`perf record of ${label} ended with ${how}: ${stderr}`);
    }
  };
}
