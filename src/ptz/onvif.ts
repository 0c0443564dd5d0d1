/**
 * A camera's PTZ over ONVIF, through the npm `onvif` client (its promise API). On connect the
 * client asks the device's clock, services or capabilities, profiles and video sources; camplex
 * then takes the first profile with a PTZ configuration and reads its presets.
 *
 * The client is typed here by what camplex calls (its own typings are loose), and guarded where
 * it could hurt the server: the values it writes into SOAP unescaped are camplex's own (a preset
 * token is one the camera listed, checked before), and a device whose profiles the client
 * cannot make sense of (it throws from inside a response callback) fails this connect instead of
 * the process.
 */
// The package has no "exports": Node's ESM resolver needs the file, not the folder.
import { Cam as CallbackCam } from 'onvif';
import { Cam } from 'onvif/promises/index.js';
import type { ConnectPtz, PtzDevice, PtzPreset, Velocity } from './device.js';
import type { PtzConfig } from './ptz-cameras.js';

/** How long one SOAP call may take (the client's default is two minutes). */
const CALL_TIMEOUT_MS = 5000;

/** The client turns numeric text into numbers, tokens and names included. */
interface OnvifPresetEntry {
  $?: { token?: string | number };
  name?: string | number;
}

interface OnvifProfile {
  $?: { token?: string | number };
  PTZConfiguration?: unknown;
}

/** The parts of the client camplex uses (`onvif/promises`' Cam). */
interface OnvifCam {
  connect(): Promise<void>;
  getPresets(options: { profileToken: string }): Promise<Record<string, OnvifPresetEntry>>;
  continuousMove(options: {
    profileToken: string;
    x: number;
    y: number;
    zoom: number;
    timeout: number;
  }): Promise<unknown>;
  stop(options: { profileToken: string; panTilt: boolean; zoom: boolean }): Promise<unknown>;
  gotoPreset(options: { profileToken: string; preset: string }): Promise<unknown>;
  /** Filled in by connect (read through the promise wrapper's proxy). */
  readonly profiles?: OnvifProfile[];
}

/** The client's own, which throws from a response callback on profiles it cannot match. */
const activeSources = (CallbackCam.prototype as { getActiveSources: () => void }).getActiveSources;

/** Connects to camera `_camera`'s ONVIF device service as `config` says. */
export function connectOnvif(_camera: string, config: PtzConfig): ConnectPtz {
  return async () => {
    const url = new URL(config.onvif);
    const secure = url.protocol === 'https:';
    const cam = new Cam({
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port) || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}` || '/onvif/device_service',
      useSecure: secure,
      ...(config.user !== undefined ? { username: config.user } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      timeout: CALL_TIMEOUT_MS,
      // The services the device names are reached at the address configured, not at what the
      // device believes its address is (a camera behind NAT or a port mapping).
      preserveAddress: true,
    }) as unknown as OnvifCam;
    let unrecognized: unknown;
    // The wrapper's proxy passes a property set on to the client but reports it as refused,
    // which throws in strict code: Reflect.set takes the refusal as a return value.
    Reflect.set(cam, 'getActiveSources', function (this: unknown) {
      try {
        activeSources.call(this);
      } catch (error) {
        unrecognized = error;
      }
    });
    await cam.connect();
    if (unrecognized) throw unrecognized;
    const profile = cam.profiles?.find((p) => p.PTZConfiguration && p.$?.token !== undefined);
    const profileToken = profile?.$?.token === undefined ? undefined : String(profile.$.token);
    if (!profileToken) {
      throw new Error('the device has no media profile with a PTZ configuration');
    }
    const presets = presetList(await cam.getPresets({ profileToken }));
    return new OnvifPtz(cam, profileToken, presets);
  };
}

/** The presets `getPresets` resolves to (name -> entry), as tokens and names. */
function presetList(byName: Record<string, OnvifPresetEntry>): PtzPreset[] {
  const presets: PtzPreset[] = [];
  for (const [name, entry] of Object.entries(byName ?? {})) {
    const token = entry.$?.token === undefined ? '' : String(entry.$.token);
    if (token.length > 0 && token.length <= 64) {
      presets.push({ token, name: String(entry.name ?? name) || token });
    }
  }
  return presets;
}

class OnvifPtz implements PtzDevice {
  constructor(
    private readonly cam: OnvifCam,
    private readonly profileToken: string,
    readonly presets: readonly PtzPreset[],
  ) {}

  async move(velocity: Velocity, timeoutMs: number): Promise<void> {
    await this.cam.continuousMove({
      profileToken: this.profileToken,
      x: velocity.pan,
      y: velocity.tilt,
      zoom: velocity.zoom,
      timeout: timeoutMs,
    });
  }

  async stop(): Promise<void> {
    await this.cam.stop({ profileToken: this.profileToken, panTilt: true, zoom: true });
  }

  async gotoPreset(token: string): Promise<void> {
    await this.cam.gotoPreset({ profileToken: this.profileToken, preset: token });
  }
}
