import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./rtsp-camera.py', import.meta.url));
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const STDERR_TAIL_BYTES = 8 * 1024;
const STDOUT_LINE_LIMIT = 4 * 1024;

export interface RtspCameraOptions {
  port?: number;
  paths?: string[];
  /** videotestsrc pattern, optionally followed by its properties: 'zone-plate kx2=20 kt=1'. */
  pattern?: string;
  width?: number;
  height?: number;
  fps?: number;
  /** Frames between key frames (default: one a second). */
  keyInterval?: number;
  /** x264enc's bitrate in kbit/s. */
  bitrate?: number;
  /** B-frames between reference pictures (main profile): a camera that reorders. */
  bframes?: number;
  /** Sound beside the pictures, as cameras send it. */
  audio?: 'aac' | 'opus' | 'pcma' | 'pcmu';
  /** Seconds after a client starts playing at which the sound stops (the video goes on). */
  audioStopsAfter?: number;
}

export interface RtspCamera {
  port: number;
  pid: number;
  /** rtsp://127.0.0.1:PORT/cam, or the given mount path. */
  url(path?: string): string;
  /** SIGTERM, wait for exit, SIGKILL after 3 s. */
  stop(): Promise<void>;
  /** Sends a signal, e.g. SIGSTOP/SIGCONT to freeze and thaw the camera. */
  signal(sig: NodeJS.Signals): void;
  /** Exit code, or null when a signal ended the process. */
  exited: Promise<number | null>;
  /** RTSP clients connected now. */
  sessions(): number;
  /** The most RTSP clients connected at once since the last call (then it starts again). */
  takeMaxSessions(): number;
  /** Resolves when the camera's sound stopped (`audioStopsAfter`). */
  readonly audioStopped: Promise<void>;
}

// Cameras a test forgot to stop must not outlive the test process.
const running = new Set<() => void>();
process.once('exit', () => {
  for (const kill of running) kill();
});

/** Throws an Error naming the missing tool and how to install it unless path is executable. */
export function requireTool(path: string, installHint: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `required tool ${path} is missing or not executable; install it: ${installHint}`,
    );
  }
}

/** Starts a GStreamer RTSP camera on 127.0.0.1 and resolves once it is listening. */
export async function startRtspCamera(options: RtspCameraOptions = {}): Promise<RtspCamera> {
  requireTool(PYTHON, 'apt-get install -y python3');
  const args = [SCRIPT, '--port', String(options.port ?? 0)];
  for (const path of options.paths ?? ['/cam']) args.push('--path', path);
  if (options.pattern !== undefined) args.push('--pattern', options.pattern);
  if (options.width !== undefined) args.push('--width', String(options.width));
  if (options.height !== undefined) args.push('--height', String(options.height));
  if (options.fps !== undefined) args.push('--fps', String(options.fps));
  if (options.keyInterval !== undefined) args.push('--key-int', String(options.keyInterval));
  if (options.bitrate !== undefined) args.push('--bitrate', String(options.bitrate));
  if (options.bframes !== undefined) args.push('--bframes', String(options.bframes));
  if (options.audio !== undefined) args.push('--audio', options.audio);
  if (options.audioStopsAfter !== undefined) {
    args.push('--audio-stops-after', String(options.audioStopsAfter));
  }

  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const { pid } = child;

  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const kill = () => child.kill('SIGKILL');
  running.add(kill);
  void exited.then(() => running.delete(kill));

  const describe = () => `${PYTHON} ${args.join(' ')}`;
  const failure = (reason: string) =>
    new Error(`rtsp camera failed to start (${reason}): ${describe()}\nstderr:\n${stderrTail}`);

  let timer: NodeJS.Timeout | undefined;
  let onStdout: ((chunk: string) => void) | undefined;
  try {
    if (pid === undefined) {
      // spawn reports ENOENT and friends through 'error' rather than throwing.
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw failure(error.message);
    }
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout.setEncoding('utf8');
      onStdout = (chunk: string) => {
        buffered += chunk;
        const end = buffered.indexOf('\n');
        if (end === -1) {
          if (buffered.length > STDOUT_LINE_LIMIT) reject(failure('unexpected output on stdout'));
          return;
        }
        const match = /^READY (\d+)$/.exec(buffered.slice(0, end).trim());
        if (match?.[1]) resolve(Number(match[1]));
        else reject(failure(`unexpected first line ${JSON.stringify(buffered.slice(0, end))}`));
      };
      child.stdout.on('data', onStdout);
      child.once('error', (error) => reject(failure(error.message)));
      // Wait for stderr to drain so the error carries the reason (e.g. a missing gi module).
      child.once('close', (code, sig) => reject(failure(`exited with ${code ?? sig}`)));
      timer = setTimeout(
        () => reject(failure(`no READY line within ${READY_TIMEOUT_MS}ms`)),
        READY_TIMEOUT_MS,
      );
    });
    if (onStdout) child.stdout.off('data', onStdout);
    // Keep reading stdout: session counts, and a chatty script never blocks on a full pipe.
    const sessions = { now: 0, max: 0 };
    let partial = '';
    let soundStopped = () => {};
    const audioStopped = new Promise<void>((resolve) => {
      soundStopped = resolve;
    });
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = (lines.pop() ?? '').slice(-STDOUT_LINE_LIMIT);
      for (const line of lines) {
        if (line.trim() === 'AUDIO STOPPED') soundStopped();
        const count = /^SESSIONS (\d+)$/.exec(line.trim())?.[1];
        if (count === undefined) continue;
        sessions.now = Number(count);
        sessions.max = Math.max(sessions.max, sessions.now);
      }
    });
    return makeCamera(child.kill.bind(child), pid, port, exited, sessions, audioStopped);
  } catch (error) {
    if (pid !== undefined) {
      kill();
      await exited;
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function makeCamera(
  kill: (sig: NodeJS.Signals) => boolean,
  pid: number,
  port: number,
  exited: Promise<number | null>,
  sessions: { now: number; max: number },
  audioStopped: Promise<void>,
): RtspCamera {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    port,
    pid,
    exited,
    audioStopped,
    sessions: () => sessions.now,
    takeMaxSessions: () => {
      const max = sessions.max;
      sessions.max = sessions.now;
      return max;
    },
    url: (path = '/cam') => `rtsp://127.0.0.1:${port}${path.startsWith('/') ? '' : '/'}${path}`,
    signal: (sig) => {
      if (!done) kill(sig);
    },
    stop: async () => {
      if (done) return;
      // A frozen (SIGSTOPped) camera cannot act on SIGTERM until it is continued.
      kill('SIGCONT');
      kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
      });
      const outcome = await Promise.race([exited, grace]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        kill('SIGKILL');
        await exited;
      }
    },
  };
}
