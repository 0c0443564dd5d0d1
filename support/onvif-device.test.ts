/**
 * The ONVIF simulator against the real npm `onvif` client, called as production code calls it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
// Not 'onvif/promises': the package has no "exports", so that is a directory import, which plain
// Node ESM refuses (ERR_UNSUPPORTED_DIR_IMPORT) and tsc (NodeNext) cannot resolve; only tsx takes it.
import onvif from 'onvif/promises/index.js';
import { type OnvifDevice, startOnvifDevice } from './onvif-device.js';

/** A preset as the client parses it: numeric text (token or name) comes back as a number. */
interface Preset {
  $: { token: string | number };
  name: string | number;
}

interface Profile {
  $: { token: string };
  name: string;
  PTZConfiguration?: { $: { token: string }; name: string };
}

/**
 * What these tests use of the promise Cam. Its typings list the methods (all `Promise<any>`) but
 * none of the properties connect() fills in, which the Proxy does pass through.
 */
interface PromiseCam {
  connect(): Promise<void>;
  /** name -> preset (not token -> name); `cam.presets` is the token-keyed map. */
  getPresets(): Promise<Record<string, Preset>>;
  gotoPreset(options: { preset: string; profileToken?: string }): Promise<unknown>;
  /** timeout in ms, sent as Timeout `PT${timeout / 1000}S`; 0 or absent: no Timeout. */
  continuousMove(options: {
    x?: number;
    y?: number;
    zoom?: number;
    timeout?: number;
    profileToken?: string;
  }): Promise<unknown>;
  stop(options?: { panTilt?: boolean; zoom?: boolean; profileToken?: string }): Promise<unknown>;
  getStatus(): Promise<{ moveStatus: { panTilt: string; zoom: string } }>;
  getHostname(): Promise<unknown>;
  readonly profiles: Profile[];
  readonly defaultProfile?: Profile;
  readonly activeSource?: {
    sourceToken: string;
    profileToken: string;
    ptz?: { name: string; token: string };
  };
  readonly uri: Record<string, { href: string } | undefined>;
  readonly presets?: Record<string, Preset>;
}

const USER = 'admin';
const PASSWORD = 'secret';

function camFor(device: OnvifDevice, credentials: { username?: string; password?: string } = {}) {
  return new onvif.Cam({
    hostname: '127.0.0.1',
    port: device.port,
    path: '/onvif/device_service',
    timeout: 2000,
    ...credentials,
  }) as unknown as PromiseCam;
}

test('connect fills profiles and the active PTZ source; presets, move, stop and goto reach the device', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice({ user: USER, password: PASSWORD });
  t.after(() => device.close());
  const cam = camFor(device, { username: USER, password: PASSWORD });

  await cam.connect();
  // GetProfiles and GetVideoSources go out together, on two connections: either may land first.
  assert.deepEqual(device.requests.slice(0, 2), ['GetSystemDateAndTime', 'GetServices']);
  assert.deepEqual(device.requests.slice(2).sort(), ['GetProfiles', 'GetVideoSources']);
  assert.equal(cam.uri.ptz?.href, `http://127.0.0.1:${device.port}/onvif/ptz_service`);
  assert.equal(cam.profiles.length, 1);
  assert.equal(cam.profiles[0]!.$.token, device.profileToken);
  assert.deepEqual(cam.profiles[0]!.PTZConfiguration?.$, { token: 'PTZConfig_1' });
  assert.equal(cam.defaultProfile?.$.token, device.profileToken);
  assert.equal(cam.activeSource?.profileToken, device.profileToken);
  assert.deepEqual(cam.activeSource?.ptz, { name: 'PTZ', token: 'PTZConfig_1' });

  const presets = await cam.getPresets();
  assert.deepEqual(Object.keys(presets), ['Home', 'Gate']);
  assert.deepEqual(presets.Gate, { $: { token: 2 }, name: 'Gate' }, 'token "2" parsed as a number');
  assert.deepEqual(Object.keys(cam.presets ?? {}), ['1', '2']);

  await cam.continuousMove({ x: 0.5, y: 0, zoom: 0, timeout: 1000 });
  const move = await device.waitFor('ContinuousMove');
  assert.deepEqual(move.body, {
    profileToken: device.profileToken,
    x: 0.5,
    y: 0,
    zoom: 0,
    timeout: 'PT1S',
  });
  assert.equal((await cam.getStatus()).moveStatus.panTilt, 'MOVING');

  await cam.stop({ panTilt: true, zoom: true });
  const stop = await device.waitFor('Stop');
  assert.deepEqual(stop.body, { profileToken: device.profileToken, panTilt: true, zoom: true });
  assert.equal((await cam.getStatus()).moveStatus.panTilt, 'IDLE');

  await cam.gotoPreset({ preset: String(presets.Gate!.$.token) });
  const goto = await device.waitFor('GotoPreset');
  assert.deepEqual(goto.body, { profileToken: device.profileToken, preset: '2' });

  assert.deepEqual(
    device.calls.map((call) => call.action),
    ['GetPresets', 'ContinuousMove', 'GetStatus', 'Stop', 'GetStatus', 'GotoPreset'],
  );
  assert.ok(move.at <= stop.at && stop.at <= goto.at);
});

test('client quirks: ms timeouts become PTn.nS, and a Stop flag left out stops that axis too', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice();
  t.after(() => device.close());
  const cam = camFor(device);
  await cam.connect();

  await cam.continuousMove({ x: -0.25, y: 0.5, timeout: 500 });
  assert.deepEqual((await device.waitFor('ContinuousMove')).body, {
    profileToken: device.profileToken,
    x: -0.25,
    y: 0.5,
    zoom: 0,
    timeout: 'PT0.5S',
  });
  await cam.continuousMove({ zoom: 1 });
  assert.deepEqual((await device.waitFor('ContinuousMove', 2)).body, {
    profileToken: device.profileToken,
    x: 0,
    y: 0,
    zoom: 1,
  });
  // The client writes <Zoom> only when truthy, and ONVIF reads a missing flag as "stop it".
  await cam.stop({ panTilt: true, zoom: false });
  assert.deepEqual((await device.waitFor('Stop')).body, {
    profileToken: device.profileToken,
    panTilt: true,
    zoom: true,
  });
});

test('a wrong password or none is refused with ter:NotAuthorized; only the time is free', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice({ user: USER, password: PASSWORD });
  t.after(() => device.close());

  await assert.rejects(camFor(device, { username: USER, password: 'wrong' }).connect(), {
    message: 'ONVIF SOAP Fault: Sender not Authorized',
  });
  // GetServices failing sends the client to GetCapabilities, which fails the same way.
  assert.deepEqual(device.requests, ['GetSystemDateAndTime', 'GetServices', 'GetCapabilities']);

  await assert.rejects(camFor(device).connect(), {
    message: 'ONVIF SOAP Fault: Sender not Authorized',
  });
  assert.deepEqual(device.calls, []);
});

test('a camera without PTZ connects with no PTZ anywhere, and PTZ calls to it fail', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice({ ptz: false });
  t.after(() => device.close());
  const cam = camFor(device);

  await cam.connect();
  assert.equal(cam.activeSource?.profileToken, device.profileToken);
  assert.equal(cam.activeSource?.ptz, undefined);
  assert.equal(cam.profiles[0]!.PTZConfiguration, undefined);
  assert.equal(cam.uri.ptz, undefined);
  // With no PTZ address the client posts to the bare path "ptz", which is no ONVIF service.
  await assert.rejects(cam.continuousMove({ x: 1 }), { message: 'Wrong ONVIF SOAP response' });
  assert.deepEqual(device.calls, []);
  assert.ok(!device.requests.includes('ContinuousMove'));
});

test('an offline camera fails connect at once and connects again when back', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice();
  t.after(() => device.close());
  const cam = camFor(device);

  device.setOffline(true);
  const started = Date.now();
  // Seen as ECONNRESET 'socket hang up'; a reset racing the request's write could give EPIPE.
  await assert.rejects(cam.connect(), (error: NodeJS.ErrnoException) => {
    assert.match(String(error.code), /^(ECONNRESET|EPIPE)$/, error.message);
    return true;
  });
  assert.ok(Date.now() - started < 2000, 'well within the client timeout');
  assert.deepEqual(device.requests, []);

  device.setOffline(false);
  await cam.connect();
  assert.equal(cam.activeSource?.profileToken, device.profileToken);
});

test('unknown actions get ter:ActionNotSupported, bad tokens are refused, waits are bounded', {
  timeout: 10_000,
}, async (t) => {
  const device = await startOnvifDevice();
  t.after(() => device.close());
  const cam = camFor(device);
  await cam.connect();

  await assert.rejects(cam.getHostname(), {
    message: 'ONVIF SOAP Fault: Optional Action Not Implemented',
  });
  await assert.rejects(cam.gotoPreset({ preset: 'nope' }), {
    message: 'ONVIF SOAP Fault: The requested preset token does not exist',
  });
  await assert.rejects(cam.stop({ profileToken: 'Other', panTilt: true }), {
    message: 'ONVIF SOAP Fault: The requested profile token ProfileToken does not exist',
  });
  assert.deepEqual(device.calls, []);
  await assert.rejects(
    device.waitFor('GotoPreset', 1, 50),
    /no GotoPreset #1 within 50 ms \(got 0\)/,
  );

  const big = await fetch(device.url, { method: 'POST', body: 'x'.repeat(65 * 1024) });
  assert.equal(big.status, 413);
});
