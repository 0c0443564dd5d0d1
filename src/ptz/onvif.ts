/**
 * A camera's PTZ over ONVIF, through the npm `onvif` client (its promise API). On connect the
 * client asks the device's clock, services or capabilities, profiles and video sources; camplex
 * then takes the first profile with a PTZ configuration and reads its presets.
 *
 * The client is typed here by what camplex calls (its own typings are loose), and guarded where
 * it could hurt the server: answers are capped in size (MAX_ANSWER_BYTES) through the connection
 * agent it takes; a preset token goes back XML-escaped (the client writes it into SOAP as it is,
 * after decoding it on the way in) and only one the camera listed; a device whose profiles the
 * client cannot match to its video sources (it throws from inside a response callback) is taken
 * as it is, since camplex names its PTZ profile in every call.
 */
// The package has no "exports": Node's ESM resolver needs the file, not the folder.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { Cam as CallbackCam } from 'onvif';
import { Cam } from 'onvif/promises/index.js';
import { printable } from '../common/text.js';
import type { ConnectPtz, PtzDevice, PtzPreset, Velocity } from './device.js';
import type { PtzConfig } from './ptz-cameras.js';

/** How long one SOAP call may go quiet (the client's default is two minutes). */
const CALL_TIMEOUT_MS = 5000;
/**
 * The most a device may answer on one connection. The client keeps a whole answer in memory and
 * runs a regular expression over it that takes quadratic time (about 60 ms for 40 KB): a larger
 * answer, from a broken device or someone on its network, is cut off instead.
 */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Presets shown, and the length of a preset's name. */
const MAX_PRESETS = 100;
const MAX_PRESET_NAME = 64;

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
  /** Filled in by getPresets: token -> preset. */
  readonly presets?: Record<string, OnvifPresetEntry>;
}

/** Cuts a connection off once the device sent more than MAX_ANSWER_BYTES on it. */
function capped(socket: Socket): Socket {
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_ANSWER_BYTES) {
      socket.destroy(new Error(`the device answered more than ${MAX_ANSWER_BYTES / 1024} KiB`));
    }
  });
  return socket;
}

/** The client's connections, each capped (it makes one per call: no keep-alive). */
class CappedHttpAgent extends HttpAgent {
  override createConnection(...args: Parameters<HttpAgent['createConnection']>) {
    return capped(super.createConnection(...args) as Socket);
  }
}
class CappedHttpsAgent extends HttpsAgent {
  override createConnection(...args: Parameters<HttpsAgent['createConnection']>) {
    return capped(super.createConnection(...args) as Socket);
  }
}

/** The client's own, which throws from a response callback on profiles it cannot match. */
const activeSources = (CallbackCam.prototype as { getActiveSources: () => void }).getActiveSources;

/** Connects to camera `_camera`'s ONVIF device service as `config` says. */
export function connectOnvif(_camera: string, config: PtzConfig): ConnectPtz {
  return async () => {
    const url = new URL(config.onvif);
    const secure = url.protocol === 'https:';
    const path = url.pathname === '/' && !url.search ? '/onvif/device_service' : url.pathname;
    const cam = new Cam({
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port) || (secure ? 443 : 80),
      path: `${path}${url.search}`,
      useSecure: secure,
      agent: secure ? new CappedHttpsAgent() : new CappedHttpAgent(),
      ...(config.user !== undefined ? { username: config.user } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      timeout: CALL_TIMEOUT_MS,
      // The services the device names are reached at the address configured, not at what the
      // device believes its address is (a camera behind NAT or a port mapping).
      preserveAddress: true,
    }) as unknown as OnvifCam;
    // The wrapper's proxy passes a property set on to the client but reports it as refused,
    // which throws in strict code: Reflect.set takes the refusal as a return value.
    Reflect.set(cam, 'getActiveSources', function (this: unknown) {
      try {
        activeSources.call(this);
      } catch {
        // profiles it cannot match to sources: camplex picks its own below
      }
    });
    await cam.connect();
    const profile = cam.profiles?.find((p) => p.PTZConfiguration && p.$?.token !== undefined);
    const profileToken = profile?.$?.token === undefined ? undefined : String(profile.$.token);
    if (!profileToken) {
      throw new Error('the device has no media profile with a PTZ configuration');
    }
    await cam.getPresets({ profileToken });
    return new OnvifPtz(cam, profileToken, presetList(cam.presets ?? {}));
  };
}

/**
 * The presets the client read (token -> entry; its own result is keyed by name, which folds
 * presets of the same name), bounded in number and length, control characters left out.
 */
function presetList(byToken: Record<string, OnvifPresetEntry>): PtzPreset[] {
  const presets: PtzPreset[] = [];
  for (const [token, entry] of Object.entries(byToken)) {
    if (presets.length >= MAX_PRESETS) break;
    if (token.length === 0 || token.length > 64) continue;
    const name = printable(String(entry.name ?? '')).slice(0, MAX_PRESET_NAME);
    presets.push({ token, name: name || token });
  }
  return presets;
}

/** `text` as XML character data: the client writes tokens into SOAP as they are. */
function xmlEscaped(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

class OnvifPtz implements PtzDevice {
  /** The profile's token as it goes into SOAP. */
  private readonly profile: string;

  constructor(
    private readonly cam: OnvifCam,
    profileToken: string,
    readonly presets: readonly PtzPreset[],
  ) {
    this.profile = xmlEscaped(profileToken);
  }

  async move(velocity: Velocity, timeoutMs: number): Promise<void> {
    await this.cam.continuousMove({
      profileToken: this.profile,
      x: velocity.pan,
      y: velocity.tilt,
      zoom: velocity.zoom,
      timeout: timeoutMs,
    });
  }

  async stop(): Promise<void> {
    await this.cam.stop({ profileToken: this.profile, panTilt: true, zoom: true });
  }

  async gotoPreset(token: string): Promise<void> {
    await this.cam.gotoPreset({ profileToken: this.profile, preset: xmlEscaped(token) });
  }
}
