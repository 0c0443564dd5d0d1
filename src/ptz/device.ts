/**
 * What camplex needs from a camera that pans, tilts and zooms. ONVIF is the one protocol spoken
 * (ptz/onvif.ts); tests put a fake behind the same interface.
 */
import type { PtzPreset } from '../camera/states.js';

export type { PtzPreset };

/** Speeds from -1 to 1: pan right, tilt up and zoom in are positive. */
export interface Velocity {
  readonly pan: number;
  readonly tilt: number;
  readonly zoom: number;
}

export const STILL: Velocity = { pan: 0, tilt: 0, zoom: 0 };

export interface PtzDevice {
  /** The camera's stored positions, read when it connected. */
  readonly presets: readonly PtzPreset[];
  /**
   * Moves at `velocity` until told otherwise or for `timeoutMs` at most: the camera stops by
   * itself if nothing renews the move (camplex died, the network went).
   */
  move(velocity: Velocity, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  gotoPreset(token: string): Promise<void>;
}

/** Connects to a camera's PTZ and reads its presets; rejects while the camera cannot be reached. */
export type ConnectPtz = () => Promise<PtzDevice>;

export function isStill(velocity: Velocity): boolean {
  return velocity.pan === 0 && velocity.tilt === 0 && velocity.zoom === 0;
}

export function sameVelocity(a: Velocity, b: Velocity): boolean {
  return a.pan === b.pan && a.tilt === b.tilt && a.zoom === b.zoom;
}
