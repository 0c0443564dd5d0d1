/**
 * One camera: its ffmpeg supervised through the states of states.ts, with restarts on exit or
 * stall (exponential backoff, fresh jitter, forever), and its pictures since the last key frame
 * cached so a new viewer paints at once. It hands out frames (pictures, and sound frames when
 * the camera has sound), each on camplex's clock with the camera's own timing, and knows nothing
 * of viewers or the wire: the hub starts and stops it.
 */
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';
import type { CameraConfig } from '../config/schema.js';

import { AccessUnitReader } from '../frames/access-units.js';
import type { VideoCodec } from '../frames/codecs.js';
import { type MediaUnit, MediaUnits } from '../frames/media-units.js';
import { MpjpegSplitter } from '../frames/mpjpeg-splitter.js';
import type { SequenceInfo } from '../frames/parameter-sets.js';
import { Timeline } from '../frames/timeline.js';
import {
  type AudioCodec,
  type Codec,
  FRAME_HEADROOM_BYTES,
  Frame,
  isAudio,
  type PictureCodec,
} from './frame.js';
import { GopStore } from './gop-store.js';
import { viewerReason } from './redact.js';
import type { CutUnit, RunningSource, SourceHandlers, SourcePlan } from './source.js';
import {
  type AudioInfo,
  type CameraInfo,
  type CameraState,
  isFailing,
  isRunning,
  TRANSITIONS,
} from './states.js';

export type { AudioCodec, AudioInfo, CameraInfo, CameraState, Codec, PictureCodec };
export { Frame, isAudio };

/** A unit with its times on the container's clock (microseconds), before the timeline. */
type Timed = Omit<MediaUnit, 'kind' | 'codec'> & { codec: Codec };

/** Where a stream's output goes in: bytes from ffmpeg, or units another node already cut. */
interface Input {
  push(chunk: Uint8Array): void;
  /** Bytes of ffmpeg's second output: the camera's sound. */
  pushSound(chunk: Uint8Array): void;
  pushUnit(unit: CutUnit): void;
}

export interface CameraListener {
  /** A picture or a sound frame. */
  onFrame(camera: Camera, frame: Frame): void;
  onState(camera: Camera): void;
  /** What ffmpeg writes (the video codec, the sound) is known, or changed (before its frames). */
  onCodec?(camera: Camera): void;
}

export interface CameraOptions {
  /**
   * Starts this camera's ffmpeg (`attempt` 0 the first time, then failures in a row); the
   * camera owns the returned process. It says which format it writes before writing.
   */
  launch: (handlers: SourceHandlers, attempt: number) => RunningSource;
  listener: CameraListener;
  clock: Clock;
  log: Log;
  boundary: string;
  maxFrameBytes: number;
  /** The pictures kept for a new viewer (since the last key frame): at most this many bytes... */
  maxCacheBytes?: number;
  /** ... spanning at most this long (a key frame this far back is too old to start from). */
  maxCacheMs?: number;
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
/** A GOP longer than this is not kept for late joiners (they wait for the next key frame). */
export const DEFAULT_CACHE_MS = 30_000;
const DEFAULT_MIN_UPTIME_MS = 10_000;
/** After this many failures in a row a camera is shown `offline` (it still retries forever). */
export const OFFLINE_AFTER_ATTEMPTS = 5;
/** A process that ran this long without a frame before exiting gets that said in its reason. */
const SILENCE_WORTH_NOTING_MS = 2000;

/** Running totals of one camera, read by /metrics; plain numbers, cheap on the frame path. */
export interface CameraCounters {
  /** Pictures out of the splitter. */
  frames: number;
  /** Sound frames out of the splitter. */
  audioFrames: number;
  /** ffmpeg exits and stalls that led to a restart. */
  failures: number;
}

export class Camera {
  readonly id: string;
  private displayName: string;
  /**
   * The stream's config as this camera was built from it (or renamed to): whatever serves the
   * stream (its JPEG transcoder, doctor, the cluster) reads it here, so a reload that rebuilds
   * the camera reaches them all.
   */
  private settings: CameraConfig;
  readonly counters: CameraCounters = { frames: 0, audioFrames: 0, failures: 0 };
  private readonly options: CameraOptions;
  private readonly stallMs: number;
  private state: CameraState = 'idle';
  private reason: string | undefined;
  private attempt = 0;
  private retryInMs: number | undefined;
  /** Bumped whenever a process is replaced, so a late event of an old one is ignored. */
  private generation = 0;
  private source: RunningSource | undefined;
  private retryTimer: unknown;
  private watchdogTimer: unknown;
  private spawnedAt = 0;
  /** A stopped source's exit while it is still going: the next start waits for it. */
  private exiting: Promise<void> | undefined;
  private lastFrameAt: number | undefined;
  private liveSince: number | undefined;
  private seq = 0;
  private soundSeq = 0;
  /** What ffmpeg writes now: known once it started. */
  private codec: PictureCodec | undefined;
  /** The camera's sound, passed on: known once its tracks are. */
  private sound: AudioInfo | undefined;
  /** From the stream's parameter sets: what a decoder is asked for, and the picture size. */
  private sequence: { codecString: string; width: number; height: number } | undefined;
  private bidirectional = false;
  /** The pictures since the last key frame (for JPEG: the latest), for a new viewer. */
  private readonly cached: GopStore;
  /** The newest picture as it came (not the cache's copy: a viewer may hold on to it). */
  private newest: Frame | undefined;
  /**
   * A new ffmpeg joins the camera's stream anywhere in a GOP: its video frames count from its
   * first key frame on (a delta before it would continue the old process's pictures).
   */
  private awaitingKey = true;
  /** Side listeners of every picture (the JPEG transcoder's input). */
  private readonly taps = new Set<(frame: Frame) => void>();

  constructor(config: CameraConfig, options: CameraOptions) {
    this.id = config.id;
    this.displayName = config.name;
    this.settings = config;
    this.options = options;
    const frameInterval = config.fps ? 1000 / config.fps : 100;
    this.stallMs = options.stallMs ?? Math.max(5000, 10 * frameInterval);
    this.cached = new GopStore(
      options.maxCacheBytes ?? 4 * options.maxFrameBytes,
      options.maxCacheMs ?? DEFAULT_CACHE_MS,
    );
  }

  /** The newest picture, while the camera is live. */
  get latest(): Frame | undefined {
    return this.newest;
  }

  /**
   * The pictures a new viewer needs to show the current one: from the last key frame on (for
   * JPEG the latest frame alone); empty while there is none or the cache overflowed. Sound is
   * never cached: a new viewer's starts at the live edge. Their bytes hold until the next key
   * frame (gop-store.ts): a consumer that keeps them longer takes its own copy (`ownCopy`).
   */
  get sinceKey(): readonly Frame[] {
    return this.cached.frames;
  }

  /** Bytes of the pictures kept for new viewers now. */
  get cachedByteCount(): number {
    return this.cached.bytes;
  }

  /** Memory the cache holds for them (its buffer, at least `cachedByteCount`). */
  get cacheMemoryBytes(): number {
    return this.cached.memoryBytes;
  }

  /** Calls `listener` with every picture from now on, until the returned function is called. */
  tap(listener: (frame: Frame) => void): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /** What the camera's ffmpeg writes (its pictures), once it started. */
  get currentCodec(): PictureCodec | undefined {
    return this.codec;
  }

  /** The camera's sound, once known, when it has sound camplex passes on. */
  get currentAudio(): AudioCodec | undefined {
    return this.sound?.codec;
  }

  /** The running ffmpeg's process id (for its CPU in /metrics). */
  get pid(): number | undefined {
    return this.source?.pid;
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
    if (this.sound) info.audio = this.sound;
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

  get name(): string {
    return this.displayName;
  }

  get config(): CameraConfig {
    return this.settings;
  }

  /**
   * `config` differs from this camera's only in its name: the camera takes it and goes on (its
   * ffmpeg is not restarted for a new caption); viewers learn it from the next camera list.
   */
  rename(config: CameraConfig): void {
    this.displayName = config.name;
    this.settings = config;
  }

  /** Stops for good (camplex is shutting down): start() does nothing from now on. */
  shutDown(): Promise<void> {
    return this.halt('stopped');
  }

  private halt(state: 'idle' | 'stopped'): Promise<void> {
    this.generation++;
    this.clearTimers();
    const source = this.source;
    const exiting = source?.stop() ?? Promise.resolve();
    this.source = undefined;
    if (source) {
      // Until it is gone, a start waits: one ffmpeg per camera even across a stop and a start
      // (the camera sees one session, and in a cluster no node runs it twice).
      const gone: Promise<void> = exiting
        .catch(() => {})
        .then(() => {
          if (this.exiting === gone) this.exiting = undefined;
        });
      this.exiting = gone;
    }
    this.forgetFrames();
    this.liveSince = undefined;
    if (this.state !== 'stopped') this.setState(state);
    return this.exiting ?? exiting;
  }

  private spawn(): void {
    const generation = ++this.generation;
    this.lastFrameAt = undefined;
    this.awaitingKey = true;
    this.setState('starting');
    const previous = this.exiting;
    if (previous) {
      void previous
        .then(() => {
          if (generation === this.generation) this.launch(generation);
        })
        .catch((error: unknown) => {
          // Never an unhandled rejection: the process serves every other camera.
          this.options.log.error({ err: error }, 'starting the camera again failed');
          if (generation === this.generation) this.fail('could not start again', String(error));
        });
      return;
    }
    this.launch(generation);
  }

  /** Starts the source of `generation` (the previous one has exited). */
  private launch(generation: number): void {
    this.spawnedAt = this.options.clock.now();
    let splitter: Input | undefined;
    const handlers: SourceHandlers = {
      onPlan: (plan) => {
        if (generation !== this.generation) return;
        splitter = this.inputFor(plan, generation);
      },
      onStdout: (chunk) => {
        if (generation === this.generation) splitter?.push(chunk);
      },
      onSound: (chunk) => {
        if (generation === this.generation) splitter?.pushSound(chunk);
      },
      onUnit: (unit) => {
        if (generation === this.generation) splitter?.pushUnit(unit);
      },
      onExit: (exit) => {
        if (generation !== this.generation) return;
        this.source = undefined;
        if (exit.handover) this.startAgain(exit.lastError);
        else this.fail(this.withSilence(describeExit(exit)), exit.lastError);
      },
    };
    try {
      this.source = this.options.launch(handlers, this.attempt);
    } catch (error) {
      // spawn throws synchronously for arguments it cannot pass (E2BIG, a NUL): a failed
      // start like any other, retried with backoff, never an exception out of a reload.
      // Its message may quote the URL, credentials included: viewers get the code, the
      // (redacted) log the message.
      this.source = undefined;
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      this.fail(`ffmpeg could not be started (${code})`, (error as Error).message);
      return;
    }
    this.armWatchdog(this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  }

  /**
   * The splitter for what ffmpeg writes (or what another node relays), with a timeline that puts
   * its units on camplex's clock; its frames count only while `generation` runs.
   */
  private inputFor(plan: SourcePlan, generation: number): Input {
    const { maxFrameBytes } = this.options;
    const current = () => generation === this.generation;
    const codec: PictureCodec = plan.output === 'mpjpeg' ? 'jpeg' : plan.output;
    const sound = plan.audio;
    if (codec !== this.codec || sound !== this.sound?.codec) {
      // Pictures of the old codec are no use to a viewer of the new one (nor to its route).
      if (codec !== this.codec) this.forgetFrames();
      this.codec = codec;
      if (sound !== this.sound?.codec) this.sound = undefined; // its details come with its track
      this.options.listener.onCodec?.(this);
    }
    if (plan.output === 'mpjpeg') {
      const jpegs = new MpjpegSplitter({
        boundary: this.options.boundary,
        maxFrameBytes,
        onFrame: (jpeg) => {
          if (current()) this.acceptPicture(jpeg, 'jpeg', true);
        },
      });
      return {
        push: (chunk) => jpegs.push(chunk),
        pushSound: () => {},
        pushUnit: (unit) => jpegs.pushUnit(unit.data),
      };
    }
    const video: VideoCodec = plan.output;
    const timeline = new Timeline();
    const accept = (unit: Timed, hasVideo: boolean) => {
      if (!current()) return;
      const now = this.options.clock.now();
      const picture = !isAudio(unit.codec);
      const offset = timeline.place(unit.dts, now * 1000, picture || !hasVideo);
      const pts = unit.pts + offset;
      const dts = unit.dts + offset;
      if (picture) {
        if (unit.bidirectional) this.noteBidirectional();
        this.acceptPicture(
          unit.data,
          unit.codec as PictureCodec,
          unit.key,
          pts,
          dts,
          unit.headroom,
        );
      } else {
        this.acceptSound(unit.data, unit.codec as AudioCodec, pts, dts);
      }
    };
    const onSequence = (sequence: SequenceInfo) => {
      if (!current()) return;
      this.sequence = sequence;
      this.options.listener.onState(this); // viewers learn the codec string and size
    };
    // Pictures on stdout, the sound (when there is one) on a second output: one timeline.
    const units = new MediaUnits({
      maxUnitBytes: maxFrameBytes,
      headroom: FRAME_HEADROOM_BYTES,
      only: 'video',
      onUnit: (unit) => accept(unit, true),
      onSequence,
    });
    const sounds = new MediaUnits({
      maxUnitBytes: maxFrameBytes,
      only: 'audio',
      onUnit: (unit) => accept(unit, true),
      onTracks: (_video, audio) => {
        if (current()) this.learnSound(audio);
      },
    });
    // Units another node cut: pictures are read again here (key units, their codec string).
    const reader = new AccessUnitReader({ codec: video, maxUnitBytes: maxFrameBytes, onSequence });
    return {
      push: (chunk) => units.push(chunk),
      pushSound: (chunk) => sounds.push(chunk),
      pushUnit: (unit) => {
        if (unit.audio) this.learnSound(unit.audio);
        if (isAudio(unit.codec)) {
          if (this.sound?.codec === unit.codec) accept(unit, true);
          return;
        }
        const read = reader.read(unit.data);
        if (read)
          accept(
            { ...unit, data: read.data, key: read.key, bidirectional: read.bidirectional },
            true,
          );
      },
    };
  }

  /** The sound's details (codec, rate, channels, decoder configuration), told to viewers. */
  private learnSound(audio: AudioInfo | undefined): void {
    const known = this.sound;
    if (JSON.stringify(known) === JSON.stringify(audio)) return;
    this.sound = audio;
    if (known?.codec !== audio?.codec) this.options.listener.onCodec?.(this);
    this.options.listener.onState(this);
  }

  private noteBidirectional(): void {
    if (this.bidirectional) return;
    this.bidirectional = true;
    this.options.log.info(
      'camera sends B-frames: browsers show each picture a frame or two after it is decoded',
    );
    this.options.listener.onState(this);
  }

  private acceptPicture(
    data: Uint8Array,
    codec: PictureCodec,
    key: boolean,
    pts?: number,
    dts?: number,
    headroom?: number,
  ): void {
    if (this.awaitingKey && !key) return;
    this.awaitingKey = false;
    const now = this.options.clock.now();
    this.lastFrameAt = now;
    const frame = new Frame(data, ++this.seq, now, codec, key, pts, dts, headroom);
    this.counters.frames++;
    this.newest = frame;
    this.cached.keep(frame);
    if (this.state !== 'live') {
      this.liveSince = now;
      this.armWatchdog(this.stallMs);
      this.setState('live');
      this.options.log.info('camera live');
    }
    for (const tap of this.taps) tap(frame);
    this.options.listener.onFrame(this, frame);
  }

  /** A sound frame goes out while the pictures do (it alone does not keep a camera live). */
  private acceptSound(data: Uint8Array, codec: AudioCodec, pts: number, dts: number): void {
    if (this.awaitingKey || this.state !== 'live') return;
    const now = this.options.clock.now();
    const frame = new Frame(data, ++this.soundSeq, now, codec, true, pts, dts);
    this.counters.audioFrames++;
    this.options.listener.onFrame(this, frame);
  }

  private forgetFrames(): void {
    this.newest = undefined;
    this.cached.clear();
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
    void this.source?.stop();
    this.source = undefined;
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
