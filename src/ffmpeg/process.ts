/**
 * One ffmpeg child: spawned without a shell in its own process group, killed as a group
 * (SIGTERM, then SIGKILL), stderr kept as a short redacted tail for error messages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { RunningSource, SourceHandlers } from '../camera/source.js';
import { SOUND_OUTPUT } from './args.js';

/** How much of ffmpeg's stderr is kept to explain a failure. */
const STDERR_TAIL_BYTES = 4096;

/** What a child tells: its outputs (stdout, and fd 3 when the arguments name it) and its exit. */
export type FfmpegHandlers = Pick<SourceHandlers, 'onStdout' | 'onSound' | 'onExit'>;

/**
 * The ffmpeg processes camplex started and has not yet seen exit, so that an abrupt exit of
 * camplex itself (an uncaught error, process.exit) can still take them down synchronously.
 */
export class ChildRegistry {
  private readonly pids = new Set<number>();

  add(pid: number): void {
    this.pids.add(pid);
  }

  delete(pid: number): void {
    this.pids.delete(pid);
  }

  /** SIGKILLs every process group still registered; synchronous, fit for an 'exit' handler. */
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
  }
}

/** One ffmpeg child: a source (stopped by SIGTERM to its group, SIGKILL after the delay). */
export interface FfmpegChild extends RunningSource {
  /** Where to write its input, when it was started to read stdin. */
  readonly stdin?: Writable;
}

export interface FfmpegStartOptions {
  binary: string;
  args: string[];
  /** Hides secrets in ffmpeg's stderr before any of it is kept (it prints the camera URL). */
  redact: (text: string) => string;
  registry?: ChildRegistry;
  /** Feed it on stdin (the JPEG transcoder); else stdin is closed. */
  stdin?: boolean;
}

/** Starts ffmpeg with `args`; the returned handle is the only way to stop it. */
export function startFfmpeg(options: FfmpegStartOptions, handlers: FfmpegHandlers): FfmpegChild {
  const { binary, args, registry } = options;
  const child = spawn(binary, args, {
    detached: true, // own process group, so the group can be killed with everything it spawned
    // A second output (a camera's sound) is read from fd 3 when the arguments name it.
    stdio: [
      options.stdin ? 'pipe' : 'ignore',
      'pipe',
      'pipe',
      ...(args.includes(SOUND_OUTPUT) ? (['pipe'] as const) : []),
    ],
    windowsHide: true,
  });
  const pid = child.pid;
  if (pid !== undefined) registry?.add(pid);
  let stderrTail = '';
  let spawnError = '';
  let exited = false;
  const exitWaiters: Array<() => void> = [];

  child.stdout?.on('data', handlers.onStdout);
  const sound = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
  if (sound) sound.on('data', (chunk: Buffer) => handlers.onSound?.(chunk));
  // ffmpeg exiting while we write (EPIPE) is reported by its exit, not as a stream error.
  child.stdin?.on('error', () => {});
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
  });
  child.on('error', (error) => {
    spawnError = error.message;
    // A failed spawn emits 'error' without 'exit'; report it as an exit.
    if (child.pid === undefined) finish(null, null);
  });
  // 'close' rather than 'exit': it comes after stderr is drained, so the tail is complete.
  child.on('close', (code, signal) => finish(code, signal));

  function finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (exited) return;
    exited = true;
    if (pid !== undefined) registry?.delete(pid);
    const lastError = options.redact(spawnError || causeOf(stderrTail));
    handlers.onExit({ code, signal, lastError });
    for (const wake of exitWaiters.splice(0)) wake();
  }

  return {
    pid: child.pid,
    ...(child.stdin ? { stdin: child.stdin } : {}),
    stop(killAfterMs = 2000) {
      if (exited) return Promise.resolve();
      return new Promise<void>((resolve) => {
        exitWaiters.push(resolve);
        signalGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), killAfterMs);
        exitWaiters.push(() => clearTimeout(timer));
      });
    },
  };
}

/**
 * Lines ffmpeg ends with after the line that says what went wrong: on their own they say only
 * that writing or converting failed (ffmpeg 6 and later put `[out#0/mp4 @ 0x...] ` in front).
 */
const AFTERMATH =
  /^(\[[^\]]*\]\s*)?(av_interleaved_write_frame\(\)|Conversion failed|Error writing trailer|Error closing file|Error submitting a packet|Error muxing a packet|Task finished with error)/;

/** The line of ffmpeg's stderr that explains its exit: the last, unless it is only aftermath. */
export function causeOf(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!AFTERMATH.test(line)) return line;
  }
  return lines.at(-1) ?? '';
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal); // the group is gone already; make sure the leader is too
    } catch {
      // already exited
    }
  }
}
