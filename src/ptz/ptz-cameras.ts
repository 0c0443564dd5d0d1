/**
 * Every configured camera's PTZ, kept in step with the config: a reload that adds, changes or
 * removes a camera's `ptz` section connects, reconnects or forgets it (stopping a move first).
 */
import type { Clock } from '../common/clock.js';
import { CamplexError, ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { CameraConfig } from '../config/schema.js';
import type { PtzCommand } from '../protocol/wire.js';
import type { ConnectPtz, PtzPreset } from './device.js';
import { PtzCamera, type PtzMover } from './ptz-camera.js';

export type PtzConfig = NonNullable<CameraConfig['ptz']>;

export interface PtzCamerasOptions {
  clock: Clock;
  random: () => number;
  log: Log;
  redact: (text: string) => string;
  /** How a camera's PTZ is reached (ONVIF; tests pass a fake). */
  connect: (camera: string, config: PtzConfig) => ConnectPtz;
  /** Camera `id`'s controls appeared, went or changed. */
  onChange: (id: string) => void;
}

/** What a viewer socket asks of the cameras' PTZ: this node's cameras, or in a cluster the owner's. */
export interface PtzControl {
  presetsOf(camera: string): readonly PtzPreset[] | undefined;
  /** Throws a CamplexError safe to send back. */
  command(mover: PtzMover, command: PtzCommand): void;
  release(mover: PtzMover): void;
}

export class PtzCameras implements PtzControl {
  private readonly cameras = new Map<string, { config: string; camera: PtzCamera }>();

  constructor(private readonly options: PtzCamerasOptions) {}

  /** Brings the set in line with `cameras` (at start and after every reload). */
  reconfigure(cameras: readonly CameraConfig[]): void {
    const wanted = new Map(cameras.flatMap((c) => (c.ptz ? [[c.id, c.ptz] as const] : [])));
    for (const [id, entry] of this.cameras) {
      const config = wanted.get(id);
      if (config && JSON.stringify(config) === entry.config) continue;
      entry.camera.close();
      this.cameras.delete(id);
      this.options.onChange(id);
    }
    for (const [id, config] of wanted) {
      if (this.cameras.has(id)) continue;
      const camera = new PtzCamera({
        id,
        connect: this.options.connect(id, config),
        clock: this.options.clock,
        random: this.options.random,
        log: this.options.log.child({ component: 'ptz' }),
        redact: this.options.redact,
        onChange: () => this.options.onChange(id),
      });
      this.cameras.set(id, { config: JSON.stringify(config), camera });
      camera.start();
    }
  }

  /** Camera `id`'s presets when its PTZ answers, else undefined (no controls to show). */
  presetsOf(id: string): readonly PtzPreset[] | undefined {
    return this.cameras.get(id)?.camera.presets;
  }

  /** Applies `command` (its camera may be moved by the caller: checked before). */
  command(mover: PtzMover, command: PtzCommand): void {
    const camera = this.cameras.get(command.camera)?.camera;
    if (!camera) {
      throw new CamplexError(
        ErrorCodes.PTZ_UNAVAILABLE,
        `camera "${command.camera}" has no PTZ (no ptz section in its config)`,
      );
    }
    camera.command(mover, command);
  }

  /** `mover` is gone: every move it holds stops. */
  release(mover: PtzMover): void {
    for (const { camera } of this.cameras.values()) camera.release(mover);
  }

  close(): void {
    for (const { camera } of this.cameras.values()) camera.close();
    this.cameras.clear();
  }
}
