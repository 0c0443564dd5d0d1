/**
 * One camera: its ffmpeg supervised through the states of states.ts, with restarts on exit or
 * stall (exponential backoff, fresh jitter, forever), and its latest frame cached so a new viewer
 * paints at once. It hands out frames and knows nothing of viewers or the wire: the hub starts
 * and stops it.
 */
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';
import type { CameraConfig } from '../config/schema.js';
import type { FfmpegProcess } from '../ffmpeg/process.js';
import type { SourceHandlers } from '../ffmpeg/source.js';
import { AnnexBSplitter } from '../frames/annexb-splitter.js';
import { MpjpegSplitter } from '../frames/mpjpeg-splitter.js';
import { type Codec, Frame } from './frame.js';
import { viewerReason } from './redact.js';
import { type CameraInfo, type CameraState, isFailing, isRunning, TRANSITIONS } from './states.js';

export type { CameraInfo, CameraState, Codec };
export { Frame };

export interface CameraListener {
  onFrame(camera: Camera, frame: Frame): void;
  onState(camera: Camera): void;
  /** What ffmpeg writes is known, or changed (before its first frame). */
  onCodec?(camera: Camera): void;
}

export interface CameraOptions {
  /**
   * Starts this camera's ffmpeg (`attempt` 0 the first time, then failures in a row); the
   * camera owns the returned process. It says which format it writes before writing.
   */
  launch: (handlers: SourceHandlers, attempt: number) => FfmpegProcess;
  listener: CameraListener;
  clock: Clock;
  log: Log;
  boundary: string;
  maxFrameBytes: number;
  /** The frames kept for a new viewer (since the last key frame): at most this many bytes. */
  maxCacheBytes?: number;
  /** ... and at most this many frames. */
  maxCacheFrames?: number;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** No first frame within this long after spawning counts as a failure. */
  startTimeoutMs?: number;
  /** No frame for this long while live counts as a stall. */
  stallMs?: number;
  /** Live this long before a failure, the backoff starts again from its first step. */
  minUptimeMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_CACHE_FRAMES = 300;
const DEFAULT_MIN_UPTIME_MS = 10_000;
/** After this many failures in a row a camera is shown `offline` (it still retries forever). */
export const OFFLINE_AFTER_ATTEMPTS = 5;
/** A process that ran this long without a frame before exiting gets that said in its reason. */
const SILENCE_WORTH_NOTING_MS = 2000;

/** Running totals of one camera, read by /metrics; plain numbers, cheap on the frame path. */
export interface CameraCounters {
  /** Frames out of the splitter. */
  frames: number;
  /** ffmpeg exits and stalls that led to a restart. */
  failures: number;
}

export class Camera {
  readonly id: string;
  readonly name: string;
  /**
   * The stream's config as this camera was built from it: whatever serves the stream (its JPEG
   * transcoder, doctor, the cluster) reads it here, so a reload that rebuilds the camera
   * reaches them all.
   */
  readonly config: CameraConfig;
  readonly counters: CameraCounters = { frames: 0, failures: 0 };
  private readonly options: CameraOptions;
  private readonly stallMs: number;
  private state: CameraState = 'idle';
  private reason: string | undefined;
  private attempt = 0;
  private retryInMs: number | undefined;
  /** Bumped whenever a process is replaced, so a late event of an old one is ignored. */
  private generation = 0;
  private process: FfmpegProcess | undefined;
  private retryTimer: unknown;
  private watchdogTimer: unknown;
  private spawnedAt = 0;
  private lastFrameAt: number | undefined;
  private liveSince: number | undefined;
  private seq = 0;
  /** What ffmpeg writes now: known once it started. */
  private codec: Codec | undefined;
  /** From the stream's parameter sets: what a decoder is asked for, and the picture size. */
  private sequence: { codecString: string; width: number; height: number } | undefined;
  private bidirectional = false;
  /** The frames since the last key frame (for JPEG: the latest), for a new viewer. */
  private cached: Frame[] = [];
  private cachedBytes = 0;
  /**
   * A new ffmpeg joins the camera's stream anywhere in a GOP: its video frames count from its
   * first key frame on (a delta before it would continue the old process's pictures).
   */
  private awaitingKey = true;
  /** Side listeners of every frame (the JPEG transcoder's input). */
  private readonly taps = new Set<(frame: Frame) => void>();

  constructor(config: CameraConfig, options: CameraOptions) {
    this.id = config.id;
    this.name = config.name;
    this.config = config;
    this.options = options;
    const frameInterval = config.fps ? 1000 / config.fps : 100;
    this.stallMs = options.stallMs ?? Math.max(5000, 10 * frameInterval);
  }

  /** The newest frame, while the camera is live. */
  get latest(): Frame | undefined {
    return this.cached.at(-1);
  }

  /**
   * The frames a new viewer needs to show the current picture: from the last key frame on
   * (for JPEG the latest frame alone); empty while there is none or the cache overflowed.
   */
  get sinceKey(): readonly Frame[] {
    return this.cached;
  }

  /** Calls `listener` with every frame from now on, until the returned function is called. */
  tap(listener: (frame: Frame) => void): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /** What the camera's ffmpeg writes, once it started. */
  get currentCodec(): Codec | undefined {
    return this.codec;
  }

  /** The running ffmpeg's process id (for its CPU in /metrics). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** True while ffmpeg runs or a restart is pending. */
  get running(): boolean {
    return isRunning(this.state);
  }

  info(): CameraInfo {
    const info: CameraInfo = { id: this.id, name: this.name, state: this.state };
    if (this.codec) info.codec = this.codec;
    if (this.sequence) Object.assign(info, this.sequence);
    if (this.bidirectional) info.bframes = true;
    if (isFailing(this.state)) {
      info.reason = this.reason ?? 'unknown error';
      info.attempt = this.attempt;
      if (this.retryInMs !== undefined) info.retryInMs = this.retryInMs;
    }
    return info;
  }

  /** Starts ffmpeg unless it already runs (or waits to restart), or the camera was shut down. */
  start(): void {
    if (this.running || this.state === 'stopped') return;
    this.attempt = 0;
    this.spawn();
  }

  /** Stops ffmpeg and any pending restart, back to idle; resolves once the process exited. */
  stop(): Promise<void> {
    return this.halt('idle');
  }

  /** Stops for good (camplex is shutting down): start() does nothing from now on. */
  shutDown(): Promise<void> {
    return this.halt('stopped');
  }

  private halt(state: 'idle' | 'stopped'): Promise<void> {
    this.generation++;
    this.clearTimers();
    const exiting = this.process?.stop() ?? Promise.resolve();
    this.process = undefined;
    this.forgetFrames();
    this.liveSince = undefined;
    if (this.state !== 'stopped') this.setState(state);
    return exiting;
  }

  private spawn(): void {
    const generation = ++this.generation;
    this.spawnedAt = this.options.clock.now();
    this.lastFrameAt = undefined;
    this.awaitingKey = true;
    this.setState('starting');
    let splitter: { push(chunk: Uint8Array): void; pushUnit(unit: Uint8Array): void } | undefined;
    const handlers: SourceHandlers = {
      onPlan: (plan) => {
        if (generation !== this.generation) return;
        splitter = this.splitterFor(plan.output, generation);
      },
      onStdout: (chunk) => {
        if (generation === this.generation) splitter?.push(chunk);
      },
      onUnit: (unit) => {
        if (generation === this.generation) splitter?.pushUnit(unit);
      },
      onExit: (exit) => {
        if (generation !== this.generation) return;
        this.process = undefined;
        if (exit.handover) this.startAgain(exit.lastError);
        else this.fail(this.withSilence(describeExit(exit)), exit.lastError);
      },
    };
    try {
      this.process = this.options.launch(handlers, this.attempt);
    } catch (error) {
      // spawn throws synchronously for arguments it cannot pass (E2BIG, a NUL): a failed
      // start like any other, retried with backoff, never an exception out of a reload.
      // Its message may quote the URL, credentials included: viewers get the code, the
      // (redacted) log the message.
      this.process = undefined;
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      this.fail(`ffmpeg could not be started (${code})`, (error as Error).message);
      return;
    }
    this.armWatchdog(this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  }

  /** The splitter for what ffmpeg writes; its frames count only while `generation` runs. */
  private splitterFor(output: 'mpjpeg' | 'h264' | 'h265', generation: number) {
    const { maxFrameBytes } = this.options;
    const current = () => generation === this.generation;
    const codec: Codec = output === 'mpjpeg' ? 'jpeg' : output;
    if (codec !== this.codec) {
      this.codec = codec;
      this.options.listener.onCodec?.(this);
    }
    if (output === 'mpjpeg') {
      const onFrame = (jpeg: Uint8Array) => {
        if (current()) this.acceptFrame(jpeg, 'jpeg', true);
      };
      return new MpjpegSplitter({ boundary: this.options.boundary, maxFrameBytes, onFrame });
    }
    return new AnnexBSplitter({
      codec: output,
      maxUnitBytes: maxFrameBytes,
      onUnit: (unit) => {
        if (!current()) return;
        if (unit.bidirectional && !this.bidirectional) {
          this.bidirectional = true;
          this.options.log.warn(
            'camera sends B-frames: browsers decode them with a delay of the reordering ' +
              'depth (pictures are timed by arrival); turn B-frames off on the camera, or use its sub-stream',
          );
          this.options.listener.onState(this);
        }
        this.acceptFrame(unit.data, output, unit.key);
      },
      onSequence: (sequence) => {
        if (!current()) return;
        this.sequence = sequence;
        this.options.listener.onState(this); // viewers learn the codec string and size
      },
    });
  }

  private acceptFrame(data: Uint8Array, codec: Codec, key: boolean): void {
    if (this.awaitingKey && !key) return;
    this.awaitingKey = false;
    const now = this.options.clock.now();
    this.lastFrameAt = now;
    const frame = new Frame(data, ++this.seq, now, codec, key);
    this.counters.frames++;
    this.cache(frame);
    if (this.state !== 'live') {
      this.liveSince = now;
      this.armWatchdog(this.stallMs);
      this.setState('live');
      this.options.log.info('camera live');
    }
    for (const tap of this.taps) tap(frame);
    this.options.listener.onFrame(this, frame);
  }

  /**
   * Keeps `frame` for new viewers: a key frame starts the cache afresh; a frame that would
   * take it past its bounds empties it (never trims off the key) until the next key frame.
   */
  private cache(frame: Frame): void {
    if (frame.key) {
      this.cached = [frame];
      this.cachedBytes = frame.data.length;
      return;
    }
    if (this.cached.length === 0) return; // waiting for a key frame
    const maxBytes = this.options.maxCacheBytes ?? 4 * this.options.maxFrameBytes;
    const maxFrames = this.options.maxCacheFrames ?? DEFAULT_CACHE_FRAMES;
    if (this.cachedBytes + frame.data.length > maxBytes || this.cached.length >= maxFrames) {
      this.cached = [];
      this.cachedBytes = 0;
      return;
    }
    this.cached.push(frame);
    this.cachedBytes += frame.data.length;
  }

  private forgetFrames(): void {
    this.cached = [];
    this.cachedBytes = 0;
  }

  /** One timer per watchdog period, not per frame: it re-arms for the time still left. */
  private armWatchdog(ms: number): void {
    this.options.clock.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = this.options.clock.setTimeout(() => this.checkWatchdog(), ms);
  }

  private checkWatchdog(): void {
    const now = this.options.clock.now();
    const starting = this.lastFrameAt === undefined;
    const limit = starting
      ? (this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS)
      : this.stallMs;
    const silentFor = now - (this.lastFrameAt ?? this.spawnedAt);
    if (silentFor < limit) {
      this.armWatchdog(limit - silentFor);
      return;
    }
    const seconds = Math.round(silentFor / 100) / 10;
    const reason = starting
      ? `no first frame within ${seconds} s`
      : `no frame for ${seconds} s (stalled)`;
    this.generation++; // the killed process's exit must not count as a second failure
    void this.process?.stop();
    this.process = undefined;
    this.fail(reason, reason);
  }

  /**
   * ffmpeg's last words for a camera that stayed silent (say, one that accepts TCP and never
   * answers) are often misleading ("Invalid data found..."); how long it waited is the clue.
   */
  private withSilence(reason: string): string {
    const waited = this.options.clock.now() - this.spawnedAt;
    if (this.lastFrameAt !== undefined || waited < SILENCE_WORTH_NOTING_MS) return reason;
    return `${reason} (no frame in ${Math.round(waited / 100) / 10} s)`;
  }

  /** The source moved (a cluster's handover): a fresh start now, from its first key frame. */
  private startAgain(why: string): void {
    this.clearTimers();
    this.forgetFrames();
    this.options.log.info(`camera source moved: ${why}; starting again`);
    this.spawn();
  }

  private fail(reason: string, detail: string): void {
    this.clearTimers();
    const now = this.options.clock.now();
    const minUptime = this.options.minUptimeMs ?? DEFAULT_MIN_UPTIME_MS;
    if (this.liveSince !== undefined && now - this.liveSince >= minUptime) this.attempt = 0;
    this.liveSince = undefined;
    this.forgetFrames(); // a frame from before the failure is stale: never hand it out
    this.attempt++;
    this.counters.failures++;
    const delay = backoffDelay(
      this.attempt,
      this.options.random ?? Math.random,
      this.options.backoff ?? DEFAULT_BACKOFF,
    );
    this.reason = reason;
    this.retryInMs = delay;
    this.options.log.warn(
      { attempt: this.attempt, retryInMs: delay, detail },
      `camera failed: ${reason}; retrying`,
    );
    this.setState(this.attempt >= OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'retrying');
    this.retryTimer = this.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.spawn();
    }, delay);
  }

  private clearTimers(): void {
    this.options.clock.clearTimeout(this.retryTimer);
    this.options.clock.clearTimeout(this.watchdogTimer);
    this.retryTimer = undefined;
    this.watchdogTimer = undefined;
  }

  private setState(state: CameraState): void {
    // Every failure is news (new attempt, delay, reason), even in the same state.
    if (state === this.state && !isFailing(state)) return;
    if (!TRANSITIONS[this.state].includes(state)) {
      throw new Error(`camera ${this.id}: no transition from ${this.state} to ${state}`);
    }
    this.state = state;
    if (!isFailing(state)) {
      this.reason = undefined;
      this.retryInMs = undefined;
    }
    this.options.listener.onState(this);
  }
}

function describeExit(exit: {
  code: number | null;
  signal: string | null;
  lastError: string;
}): string {
  if (exit.lastError !== '') return viewerReason(exit.lastError);
  if (exit.signal !== null) return `ffmpeg was killed (${exit.signal})`;
  // ffmpeg 5.1 exits 0 without a word when an RTSP camera goes away.
  if (exit.code === 0) return 'camera closed the stream';
  return `ffmpeg exited with code ${exit.code}`;
}
