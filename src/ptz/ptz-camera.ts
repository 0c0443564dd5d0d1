/**
 * One camera's pan, tilt and zoom: who moves it, for how long, and how often camplex may ask.
 *
 * - The device is connected in the background and again after any call fails, with growing
 *   delays, so a camera that is offline when camplex starts gets its controls when it answers.
 * - A continuous move lives only while its mover repeats it (the page, every PTZ_KEEPALIVE_MS):
 *   without a repeat for DEADMAN_MS, or when the mover's socket goes, camplex stops the camera.
 *   Each ContinuousMove also carries ONVIF's own timeout, so the camera stops by itself if camplex
 *   dies; a move held longer is renewed before that timeout runs out.
 * - What the camera should do is one wanted state (velocity, or a preset to go to); one call at a
 *   time brings the camera to it, so a stop is never overtaken by a slow move before it, and a
 *   burst of changes costs the calls of its last state only. Each call and each connect has a
 *   deadline, so a device that never answers cannot hold the queue.
 * - When camplex cannot know whether the camera moves (a call failed, a preset is travelling),
 *   the next stop is sent whatever camplex last asked, and after a reconnect a Stop goes first.
 *   A stop is taken even while the camera does not answer, and sent once it does.
 * - Speeding up and presets are rate-limited per camera; repeats, slowing down and stops are not.
 */
import { backoffDelay } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import { CamplexError, type ErrorCode, ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { PTZ_KEEPALIVE_MS, type PtzCommand } from '../protocol/wire.js';
import {
  type ConnectPtz,
  isStill,
  type PtzDevice,
  type PtzPreset,
  STILL,
  sameVelocity,
  type Velocity,
} from './device.js';

/** A move not repeated for this long is stopped (three keep-alives missed). */
export const DEADMAN_MS = 3 * PTZ_KEEPALIVE_MS;
/** The timeout each ContinuousMove carries: how long the camera moves on if camplex dies. */
export const ONVIF_MOVE_TIMEOUT_MS = 2000;
/** A held move is renewed this often, well before its ONVIF timeout runs out. */
export const RENEW_MS = ONVIF_MOVE_TIMEOUT_MS / 2;
/** Changes per camera: a burst of this many, then RATE_PER_SECOND. */
export const RATE_BURST = 10;
export const RATE_PER_SECOND = 5;
const RECONNECT = { initialMs: 1000, maxMs: 60_000 };
/** The longest one call, and one connect (several calls), may take before it counts as failed. */
export const CALL_DEADLINE_MS = 6000;
export const CONNECT_DEADLINE_MS = 20_000;

/** Who moves a camera: a viewer socket, or one on another node (told when a call fails later). */
export interface PtzMover {
  ptzError(camera: string, code: ErrorCode, message: string): void;
}

export interface PtzCameraOptions {
  id: string;
  connect: ConnectPtz;
  clock: Clock;
  random: () => number;
  log: Log;
  /** Its controls appeared or went (connected, lost), or its presets changed. */
  onChange: () => void;
  /** Hides the camera's credentials in error messages. */
  redact: (text: string) => string;
}

export class PtzCamera {
  readonly id: string;
  private device: PtzDevice | undefined;
  private connecting = false;
  private attempt = 0;
  private retryTimer: unknown;
  private lastError: string | undefined;
  private closed = false;

  /** What the camera should be doing, and who asked. */
  private wanted: Velocity = STILL;
  private preset: string | undefined;
  private mover: PtzMover | undefined;
  private deadman: unknown;
  /** What the camera was last told and took, and when; undefined: unknown (it may be moving). */
  private applied: Velocity | undefined = STILL;
  private appliedAt = Number.NEGATIVE_INFINITY;
  /** A stop must go even if the wanted state looks reached (what the camera does is unknown). */
  private stopOwed = false;
  /** The call in flight, if any. */
  private inFlight: Promise<void> | undefined;

  private tokens = RATE_BURST;
  private tokensAt: number;

  constructor(private readonly options: PtzCameraOptions) {
    this.id = options.id;
    this.tokensAt = options.clock.now();
  }

  /** Starts connecting (in the background). */
  start(): void {
    this.reconnect();
  }

  /** Its presets, when the camera answered (else undefined: no controls). */
  get presets(): readonly PtzPreset[] | undefined {
    return this.device?.presets;
  }

  /** Connected with its presets, or why not (what the log says; pages get no reason). */
  get status(): { connected: boolean; presets?: number; error?: string } {
    if (this.device) return { connected: true, presets: this.device.presets.length };
    return { connected: false, ...(this.lastError ? { error: this.lastError } : {}) };
  }

  /**
   * Applies a client's command; throws a CamplexError safe to send back (not connected, rate
   * limited, no such preset). A failure of the camera itself comes later, to `mover.ptzError`.
   */
  command(mover: PtzMover, command: PtzCommand): void {
    // Whoever moves it, anyone who may move the camera may stop it: even now, if it does not
    // answer (the stop goes once it does).
    if (command.action === 'stop') {
      this.halt();
      return;
    }
    const device = this.device;
    if (!device) {
      // Why exactly is for the log and `camplex doctor`, not for every page.
      throw new CamplexError(ErrorCodes.PTZ_UNAVAILABLE, `camera "${this.id}" PTZ does not answer`);
    }
    if (command.action === 'preset') {
      // Only a token the camera listed goes to it.
      if (!device.presets.some((preset) => preset.token === command.preset)) {
        throw new CamplexError(
          ErrorCodes.BAD_MESSAGE,
          `camera "${this.id}" has no preset ${JSON.stringify(command.preset)}`,
        );
      }
      this.charge();
      this.clearDeadman();
      this.mover = mover;
      this.wanted = STILL;
      this.preset = command.preset;
      this.pump();
      return;
    }
    const current = this.wanted;
    const next: Velocity =
      command.action === 'move'
        ? { ...current, pan: command.pan, tilt: command.tilt }
        : { ...current, zoom: command.zoom };
    // A repeat (keep-alive) costs nothing, and neither does slowing down: a limit must never
    // keep a camera moving faster than its page asks.
    if (speedsUp(current, next)) this.charge();
    this.mover = mover;
    this.wanted = next;
    this.preset = undefined;
    this.armDeadman();
    this.pump();
  }

  /** `mover` went (its socket closed, or it may no longer move): a move it holds stops now. */
  release(mover: PtzMover): void {
    if (this.mover === mover) this.halt();
  }

  /** Stops a move in progress (best effort, after the call in flight) and forgets the device. */
  close(): void {
    const device = this.device;
    if (device && !(this.applied && isStill(this.applied))) {
      void (this.inFlight ?? Promise.resolve())
        .then(() => this.deadline(device.stop(), CALL_DEADLINE_MS, 'Stop'))
        .catch((error: unknown) => this.warn('stop on close failed', error));
    }
    this.closed = true;
    this.clearDeadman();
    this.options.clock.clearTimeout(this.retryTimer);
    this.device = undefined;
  }

  private charge(): void {
    const now = this.options.clock.now();
    this.tokens = Math.min(
      RATE_BURST,
      this.tokens + ((now - this.tokensAt) / 1000) * RATE_PER_SECOND,
    );
    this.tokensAt = now;
    if (this.tokens < 1) {
      throw new CamplexError(
        ErrorCodes.RATE_LIMITED,
        `camera "${this.id}" takes at most ${RATE_PER_SECOND} PTZ changes per second`,
      );
    }
    this.tokens -= 1;
  }

  private halt(): void {
    if (this.applied === undefined) this.stopOwed = true;
    this.clearDeadman();
    this.mover = undefined;
    this.wanted = STILL;
    this.preset = undefined;
    this.pump();
  }

  private armDeadman(): void {
    this.clearDeadman();
    if (isStill(this.wanted)) return;
    this.deadman = this.options.clock.setTimeout(() => {
      this.deadman = undefined;
      this.options.log.info({ camera: this.id }, 'PTZ move not repeated: stopping the camera');
      this.halt();
    }, DEADMAN_MS);
  }

  private clearDeadman(): void {
    if (this.deadman === undefined) return;
    this.options.clock.clearTimeout(this.deadman);
    this.deadman = undefined;
  }

  /** Makes the next call that brings the camera to the wanted state, one at a time. */
  private pump(): void {
    const device = this.device;
    if (this.inFlight || !device || this.closed) return;
    const now = this.options.clock.now();
    const wanted = this.wanted;
    const applied = this.applied;
    let call: Promise<void> | undefined;
    let name = '';
    if (this.preset !== undefined) {
      const token = this.preset;
      this.preset = undefined;
      name = 'GotoPreset';
      call = device.gotoPreset(token);
      this.applied = undefined; // travelling: a stop asked now must go
      this.stopOwed = false;
    } else if (
      applied === undefined
        ? this.stopOwed || !isStill(wanted)
        : !sameVelocity(wanted, applied) || (!isStill(wanted) && now - this.appliedAt >= RENEW_MS)
    ) {
      name = isStill(wanted) ? 'Stop' : 'ContinuousMove';
      call = isStill(wanted) ? device.stop() : device.move(wanted, ONVIF_MOVE_TIMEOUT_MS);
      this.applied = wanted;
      this.appliedAt = now;
      this.stopOwed = false;
    }
    if (!call) return;
    const mover = this.mover;
    const running = this.deadline(call, CALL_DEADLINE_MS, name)
      .catch((error: unknown) => this.failed(device, mover, error))
      .catch((error: unknown) => this.warn('PTZ failure handling failed', error))
      .finally(() => {
        this.inFlight = undefined;
        this.pump();
      });
    this.inFlight = running;
  }

  /**
   * A call failed: the mover hears it, the camera may be moving (a stop goes first once it
   * answers again), and the device is connected anew.
   */
  private failed(device: PtzDevice, mover: PtzMover | undefined, error: unknown): void {
    this.warn('PTZ call failed', error);
    mover?.ptzError(this.id, ErrorCodes.PTZ_UNAVAILABLE, `camera "${this.id}" PTZ failed`);
    this.applied = undefined;
    this.stopOwed = true;
    this.wanted = STILL;
    this.clearDeadman();
    if (this.closed || this.device !== device) return;
    this.device = undefined;
    this.lastError = this.describe(error);
    this.options.onChange();
    this.scheduleConnect();
  }

  /** Connects in the background: whatever throws is logged, never an unhandled rejection. */
  private reconnect(): void {
    this.connect().catch((error: unknown) => this.warn('PTZ connect handling failed', error));
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    let device: PtzDevice;
    try {
      device = await this.deadline(this.options.connect(), CONNECT_DEADLINE_MS, 'connect');
    } catch (error) {
      if (this.closed) return;
      this.lastError = this.describe(error);
      if (this.attempt === 0) this.warn('PTZ does not answer (retrying)', error);
      this.scheduleConnect();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.closed) return;
    this.device = device;
    this.attempt = 0;
    this.lastError = undefined;
    this.options.log.info({ camera: this.id, presets: device.presets.length }, 'PTZ connected');
    this.pump(); // a stop first, when it may still be moving from before
    this.options.onChange();
  }

  private scheduleConnect(): void {
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.options.random, RECONNECT);
    this.retryTimer = this.options.clock.setTimeout(() => this.reconnect(), delay);
  }

  /** `promise`, or a rejection once `ms` passed without it settling. */
  private deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    const { clock } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(
        () => reject(new Error(`${what} took longer than ${ms / 1000} s`)),
        ms,
      );
      promise.then(
        (value) => {
          clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private describe(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return this.options.redact(text.split('\n')[0] ?? text).slice(0, 200);
  }

  private warn(message: string, error: unknown): void {
    this.options.log.warn({ camera: this.id, error: this.describe(error) }, message);
  }
}

/** Whether going from `from` to `to` makes any axis faster or turns it around. */
function speedsUp(from: Velocity, to: Velocity): boolean {
  const faster = (a: number, b: number) =>
    Math.abs(b) > Math.abs(a) || (b !== 0 && Math.sign(b) !== Math.sign(a));
  return faster(from.pan, to.pan) || faster(from.tilt, to.tilt) || faster(from.zoom, to.zoom);
}
