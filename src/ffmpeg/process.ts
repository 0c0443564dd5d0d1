/**
 * One ffmpeg child: spawned without a shell in its own process group, killed as a group
 * (SIGTERM, then SIGKILL), stderr kept as a short redacted tail for error messages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

/** How much of ffmpeg's stderr is kept to explain a failure. */
const STDERR_TAIL_BYTES = 4096;

export interface FfmpegHandlers {
  onStdout: (chunk: Buffer) => void;
  /** Called once when the process has exited (or failed to spawn). */
  onExit: (exit: FfmpegExit) => void;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr line (redacted), or the spawn error, for the user-facing reason. */
  lastError: string;
  /**
   * Not a failure: the source moved (in a cluster, this node took the camera over): start
   * again at once, with no backoff and nothing counted as failed.
   */
  handover?: boolean;
}

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

export interface FfmpegProcess {
  readonly pid: number | undefined;
  /** Where to write its input, when it was started to read stdin. */
  readonly stdin?: Writable;
  /** SIGTERM to the group, SIGKILL after `killAfterMs`; resolves once the process exited. */
  stop(killAfterMs?: number): Promise<void>;
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
export function startFfmpeg(options: FfmpegStartOptions, handlers: FfmpegHandlers): FfmpegProcess {
  const { binary, args, registry } = options;
  const child = spawn(binary, args, {
    detached: true, // own process group, so the group can be killed with everything it spawned
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  const pid = child.pid;
  if (pid !== undefined) registry?.add(pid);
  let stderrTail = '';
  let spawnError = '';
  let exited = false;
  const exitWaiters: Array<() => void> = [];

  child.stdout?.on('data', handlers.onStdout);
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
    const lines = stderrTail.trim().split('\n');
    const lastError = options.redact(spawnError || (lines[lines.length - 1] ?? '').trim());
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
