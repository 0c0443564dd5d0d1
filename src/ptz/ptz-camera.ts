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
 *   burst of changes costs the calls of its last state only.
 * - Changes (a new speed, a preset) are rate-limited per camera; repeats and stops are not.
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
  /** What the camera was last told, and when. */
  private applied: Velocity = STILL;
  private appliedAt = Number.NEGATIVE_INFINITY;
  private calling = false;

  private tokens = RATE_BURST;
  private tokensAt: number;

  constructor(private readonly options: PtzCameraOptions) {
    this.id = options.id;
    this.tokensAt = options.clock.now();
  }

  /** Starts connecting (in the background). */
  start(): void {
    void this.connect();
  }

  /** Its presets, when the camera answered (else undefined: no controls). */
  get presets(): readonly PtzPreset[] | undefined {
    return this.device?.presets;
  }

  /** For `camplex doctor` and logs: connected, or why not. */
  get status(): { connected: boolean; presets?: number; error?: string } {
    if (this.device) return { connected: true, presets: this.device.presets.length };
    return { connected: false, ...(this.lastError ? { error: this.lastError } : {}) };
  }

  /**
   * Applies a client's command; throws a CamplexError safe to send back (not connected, rate
   * limited). A failure of the camera itself comes later, to `mover.ptzError`.
   */
  command(mover: PtzMover, command: PtzCommand): void {
    if (!this.device) {
      const why = this.lastError ? `: ${this.lastError}` : ' yet';
      throw new CamplexError(
        ErrorCodes.PTZ_UNAVAILABLE,
        `camera "${this.id}" PTZ does not answer${why}`,
      );
    }
    // Whoever moves it, anyone who may move the camera may stop it.
    if (command.action === 'stop') {
      this.halt();
      return;
    }
    if (command.action === 'preset') {
      // Only a token the camera listed goes to it (the ONVIF client writes it into SOAP as it is).
      if (!this.device.presets.some((preset) => preset.token === command.preset)) {
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
    if (!sameVelocity(next, current)) this.charge(); // a repeat (keep-alive) costs nothing
    this.mover = mover;
    this.wanted = next;
    this.preset = undefined;
    this.armDeadman();
    this.pump();
  }

  /** `mover` went (its socket closed): a move it holds stops now. */
  release(mover: PtzMover): void {
    if (this.mover === mover) this.halt();
  }

  /** Stops a move in progress (best effort) and forgets the device. */
  close(): void {
    if (this.device && !isStill(this.applied)) {
      this.device.stop().catch((error: unknown) => this.warn('stop on close failed', error));
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
    if (this.calling || !device || this.closed) return;
    const now = this.options.clock.now();
    let call: (() => Promise<void>) | undefined;
    const wanted = this.wanted;
    if (this.preset !== undefined) {
      const token = this.preset;
      this.preset = undefined;
      call = () => device.gotoPreset(token);
      this.applied = STILL;
    } else if (
      !sameVelocity(wanted, this.applied) ||
      (!isStill(wanted) && now - this.appliedAt >= RENEW_MS)
    ) {
      call = isStill(wanted)
        ? () => device.stop()
        : () => device.move(wanted, ONVIF_MOVE_TIMEOUT_MS);
      this.applied = wanted;
      this.appliedAt = now;
    }
    if (!call) return;
    const mover = this.mover;
    this.calling = true;
    call()
      .catch((error: unknown) => this.failed(mover, error))
      .finally(() => {
        this.calling = false;
        this.pump();
      });
  }

  /** A call failed: the mover hears why, and the device is connected anew. */
  private failed(mover: PtzMover | undefined, error: unknown): void {
    const message = this.describe(error);
    this.warn('PTZ call failed', error);
    mover?.ptzError(
      this.id,
      ErrorCodes.PTZ_UNAVAILABLE,
      `camera "${this.id}" PTZ failed: ${message}`,
    );
    if (this.closed || !this.device) return;
    this.device = undefined;
    this.lastError = message;
    this.wanted = STILL;
    this.applied = STILL;
    this.clearDeadman();
    this.options.onChange();
    this.scheduleConnect();
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    try {
      const device = await this.options.connect();
      if (this.closed) return;
      this.device = device;
      this.attempt = 0;
      this.lastError = undefined;
      this.options.log.info({ camera: this.id, presets: device.presets.length }, 'PTZ connected');
      this.options.onChange();
    } catch (error) {
      if (this.closed) return;
      this.lastError = this.describe(error);
      if (this.attempt === 0) this.warn('PTZ does not answer (retrying)', error);
      this.scheduleConnect();
    } finally {
      this.connecting = false;
    }
  }

  private scheduleConnect(): void {
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.options.random, RECONNECT);
    this.retryTimer = this.options.clock.setTimeout(() => void this.connect(), delay);
  }

  private describe(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return this.options.redact(text.split('\n')[0] ?? text).slice(0, 200);
  }

  private warn(message: string, error: unknown): void {
    this.options.log.warn({ camera: this.id, error: this.describe(error) }, message);
  }
}
