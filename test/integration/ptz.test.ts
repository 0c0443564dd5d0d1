/**
 * PTZ over ONVIF, end to end: the real camplex CLI, a simulated ONVIF device on loopback
 * (support/onvif-device.ts) that records every call, and WebSocket clients. A move goes to the
 * camera with ONVIF's own timeout and stops when told, when its keep-alive stops and when its
 * socket vanishes; who may move what follows the config; a camera offline at start gets its
 * controls when it answers; the ONVIF password never reaches the log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/access/password.js';
import { type CamplexProcess, reloadWith, startCamplexProcess } from '../../support/camplex.js';
import { type OnvifDevice, startOnvifDevice } from '../../support/onvif-device.js';
import { waitFor } from '../../support/processes.js';
import { type Client, connectClient, signIn } from '../security/clients.js';

const MOVER = 'ptz-mover-token-0123456789abcdefghijklmn';
const WATCHER = 'ptz-watcher-token-0123456789abcdefghijkl';
const ONVIF_PASSWORD = 'onvif-secret-Qz7';
const PASSPHRASE = 'admin passphrase';
const ADMIN_HASH = hashPassword(PASSPHRASE);

/** The latest `ptz` of camera `id` in hello or state messages (undefined: no controls). */
function ptzOf(client: Client, id: string) {
  let ptz: { presets: Array<{ token: string; name: string }> } | undefined;
  for (const message of client.messages) {
    if (message.type === 'hello') ptz = message.cameras.find((c) => c.id === id)?.ptz;
    if (message.type === 'state' && message.id === id) ptz = message.ptz;
  }
  return ptz;
}

/** A move of `camera` from `client` is refused with `code` and `message`. */
async function assertMoveRefused(
  client: Client,
  camera: string,
  code: string,
  message: string,
): Promise<void> {
  const refused = await client.reply(
    JSON.stringify({ cmd: 'ptz', camera, action: 'move', pan: 1, tilt: 0 }),
  );
  assert.deepEqual(refused, { type: 'error', code, message, cameras: [camera] });
}

/** A move of the dome camera from `client` is refused: its principal may not move it. */
const assertMayNotMove = (client: Client) =>
  assertMoveRefused(
    client,
    'dome',
    'CAMPLEX_ERR_FORBIDDEN',
    'this user may not move camera "dome"',
  );

const send = (client: Client, command: Record<string, unknown>) =>
  client.ws.send(JSON.stringify({ cmd: 'ptz', ...command }));

describe('PTZ over ONVIF', () => {
  let dome: OnvifDevice;
  let late: OnvifDevice;
  let camplex: CamplexProcess;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'camplex-ptz-'));
  const configFile = join(dir, 'camplex.yaml');
  const clients: Client[] = [];
  const open = async (headers: Record<string, string>) => {
    const client = await connectClient(camplex.wsUrl, { headers });
    clients.push(client);
    return client;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** The config, with the keeper's right to move cameras as given. */
  const configText = (keeperMayMove: boolean) =>
    [
      'auth:',
      '  users:',
      `    admin: "${ADMIN_HASH}"`,
      `    nanny: { password: "${ADMIN_HASH}", cameras: [dome] }`,
      `    keeper: { password: "${ADMIN_HASH}", cameras: [dome], ptz: ${keeperMayMove} }`,
      '  tokens:',
      `    mover: { token: ${MOVER}, ptz: true }`,
      `    watcher: ${WATCHER}`,
      'cameras:',
      '  dome:',
      '    url: "demo:1"',
      `    ptz: { onvif: "${dome.url}", user: admin, password: "${ONVIF_PASSWORD}" }`,
      '  late:',
      '    url: "demo:2"',
      `    ptz: { onvif: "${late.url}" }`,
      '  fixed: { url: "demo:3" }',
      '',
    ].join('\n');

  before(async () => {
    dome = await startOnvifDevice({ user: 'admin', password: ONVIF_PASSWORD });
    late = await startOnvifDevice();
    late.setOffline(true); // offline when camplex starts
    writeFileSync(configFile, configText(true));
    camplex = await startCamplexProcess({ args: ['--config', configFile] });
    port = Number(new URL(camplex.url).port);
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await camplex?.stop();
    await dome?.close();
    await late?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the presets to a principal allowed to move, nothing to one that is not', async () => {
    const mover = await open(bearer(MOVER));
    await waitFor(async () => ptzOf(mover, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'the dome camera’s controls',
    });
    assert.deepEqual(ptzOf(mover, 'dome'), {
      presets: [
        { token: '1', name: 'Home' },
        { token: '2', name: 'Gate' },
      ],
    });
    assert.equal(ptzOf(mover, 'fixed'), undefined, 'a camera without ptz: no controls');
    const watcher = await open(bearer(WATCHER));
    assert.equal(ptzOf(watcher, 'dome'), undefined, 'a bare token only watches');
    await assertMayNotMove(watcher);
    const noPtz = await mover.reply(
      JSON.stringify({ cmd: 'ptz', camera: 'fixed', action: 'stop' }),
    );
    assert.equal(noPtz.type === 'error' && noPtz.code, 'CAMPLEX_ERR_PTZ_UNAVAILABLE');
    const unknown = await mover.reply(
      JSON.stringify({ cmd: 'ptz', camera: 'attic', action: 'stop' }),
    );
    assert.equal(unknown.type === 'error' && unknown.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    assert.ok(!dome.calls.some((call) => call.action === 'ContinuousMove'), 'nothing moved');
  });

  it('moves with ONVIF’s timeout, stops when told, and goes to a preset', async () => {
    const mover = await open(bearer(MOVER));
    await waitFor(async () => ptzOf(mover, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'controls',
    });
    const moving = next(dome, 'ContinuousMove');
    send(mover, { camera: 'dome', action: 'move', pan: 0.5, tilt: -0.25 });
    const move = await moving;
    assert.deepEqual(move.body, {
      profileToken: dome.profileToken,
      x: 0.5,
      y: -0.25,
      zoom: 0,
      timeout: 'PT2S',
    });
    const stopping = next(dome, 'Stop');
    send(mover, { camera: 'dome', action: 'stop' });
    const stop = await stopping;
    assert.deepEqual(stop.body, { profileToken: dome.profileToken, panTilt: true, zoom: true });
    const going = next(dome, 'GotoPreset');
    send(mover, { camera: 'dome', action: 'preset', preset: '2' });
    const preset = await going;
    assert.equal(preset.body.preset, '2');
    const bad = await mover.reply(
      JSON.stringify({ cmd: 'ptz', camera: 'dome', action: 'preset', preset: '9' }),
    );
    assert.deepEqual(bad, {
      type: 'error',
      code: 'CAMPLEX_ERR_BAD_MESSAGE',
      message: 'camera "dome" has no preset "9"',
      cameras: ['dome'],
    });
  });

  it('stops the camera when the keep-alive stops, and when the socket vanishes', async () => {
    const mover = await open(bearer(MOVER));
    await waitFor(async () => ptzOf(mover, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'controls',
    });
    // One move, never repeated: the dead-man stops it.
    const moving = next(dome, 'ContinuousMove');
    const stopping = next(dome, 'Stop');
    send(mover, { camera: 'dome', action: 'move', pan: 0, tilt: 1 });
    const moved = await moving;
    const stopped = await stopping;
    const after = stopped.at - moved.at;
    assert.ok(after >= 800 && after < 3000, `stopped ${after} ms after the move`);

    // Held with keep-alives, then the socket is cut without a close: stopped at once.
    const from = dome.calls.length;
    for (let i = 0; i < 4; i++) {
      send(mover, { camera: 'dome', action: 'zoom', zoom: 1 });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const since = dome.calls.slice(from);
    assert.ok(!since.some((call) => call.action === 'Stop'), 'held by its keep-alives');
    assert.equal(since.find((call) => call.action === 'ContinuousMove')?.body.zoom, 1);
    // A keep-alive just before the cut: the dead-man alone would stop the camera 900 ms later.
    const cut = next(dome, 'Stop');
    send(mover, { camera: 'dome', action: 'zoom', zoom: 1 });
    const cutAt = Date.now();
    mover.ws.terminate();
    const stop = await cut;
    assert.ok(stop.at - cutAt < 600, `stopped ${stop.at - cutAt} ms after the socket went`);
  });

  it('lets a user given as a bare hash move cameras', async () => {
    const cookie = await signIn(port, 'admin', PASSPHRASE);
    const admin = await open({ cookie });
    await waitFor(async () => ptzOf(admin, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'controls for the admin',
    });
    const moving = next(dome, 'ContinuousMove');
    send(admin, { camera: 'dome', action: 'move', pan: -1, tilt: 0 });
    assert.equal((await moving).body.x, -1);
    const stopping = next(dome, 'Stop');
    send(admin, { camera: 'dome', action: 'stop' });
    await stopping;
  });

  it('lets a scoped user move only with ptz: true', async () => {
    const nanny = await open({ cookie: await signIn(port, 'nanny', PASSPHRASE) });
    const keeper = await open({ cookie: await signIn(port, 'keeper', PASSPHRASE) });
    await waitFor(async () => ptzOf(keeper, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'controls for the keeper',
    });
    assert.deepEqual(
      nanny.messages.find((m) => m.type === 'hello')?.cameras.map((c) => [c.id, c.ptz]),
      [['dome', undefined]],
      'the nanny sees her camera, without controls',
    );
    const moves = dome.calls.filter((call) => call.action === 'ContinuousMove').length;
    await assertMayNotMove(nanny);
    const other = await nanny.reply(JSON.stringify({ cmd: 'ptz', camera: 'late', action: 'stop' }));
    assert.equal(other.type === 'error' && other.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA', 'not hers');
    assert.equal(
      dome.calls.filter((call) => call.action === 'ContinuousMove').length,
      moves,
      'nothing moved',
    );
  });

  it('stops the move a user holds when a reload takes the right away, and hides the controls', async () => {
    const keeper = await open({ cookie: await signIn(port, 'keeper', PASSPHRASE) });
    await waitFor(async () => ptzOf(keeper, 'dome') !== undefined, {
      timeoutMs: 10_000,
      what: 'controls for the keeper',
    });
    const moving = next(dome, 'ContinuousMove');
    send(keeper, { camera: 'dome', action: 'move', pan: 0.25, tilt: 0 });
    await moving;
    // Held by keep-alives while the reload runs: only the reload can stop it.
    const holding = setInterval(
      () => send(keeper, { camera: 'dome', action: 'move', pan: 0.25, tilt: 0 }),
      250,
    );
    try {
      const stopping = next(dome, 'Stop');
      const hellos = keeper.messages.filter((m) => m.type === 'hello').length;
      await reloadWith(camplex, () => writeFileSync(configFile, configText(false)));
      await stopping;
      await waitFor(async () => keeper.messages.filter((m) => m.type === 'hello').length > hellos, {
        timeoutMs: 5000,
        what: 'a hello with the narrowed rights',
      });
      assert.equal(ptzOf(keeper, 'dome'), undefined, 'no controls any more');
      await assertMayNotMove(keeper);
    } finally {
      clearInterval(holding);
      writeFileSync(configFile, configText(true));
    }
  });

  it('gives a camera offline at start its controls once it answers', async () => {
    const mover = await open(bearer(MOVER));
    assert.equal(ptzOf(mover, 'late'), undefined);
    await assertMoveRefused(
      mover,
      'late',
      'CAMPLEX_ERR_PTZ_UNAVAILABLE',
      'camera "late" PTZ does not answer',
    );
    late.setOffline(false);
    await waitFor(async () => ptzOf(mover, 'late') !== undefined, {
      timeoutMs: 20_000,
      what: 'the late camera’s controls after it came online',
    });
  });

  it('keeps the ONVIF password out of the log', () => {
    const text = camplex.lines.join('\n') + camplex.stderr();
    assert.ok(text.includes('PTZ connected'), 'the log speaks of PTZ');
    assert.ok(!text.includes(ONVIF_PASSWORD));
  });
});

/** Resolves with the next call of `action` the device receives from now on. */
function next(device: OnvifDevice, action: string) {
  const seen = device.calls.filter((call) => call.action === action).length;
  return device.waitFor(action, seen + 1, 5000);
}
