/**
 * Users scoped like tokens, end to end: a household where the nanny sees the nursery camera
 * alone and the gardener the cameras of the "outside" group. Every way in (hello, /api/cameras,
 * subscriptions, MJPEG, snapshots, metrics) answers a camera outside the scope as unknown, and a
 * reload re-scopes open sockets at once: narrowed (frames stop) or widened (a camera added to
 * the group appears without a reconnect).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/access/password.js';
import { type CamplexProcess, reloadWith, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import {
  type Client,
  connectClient,
  helloIds,
  httpRequest,
  signIn as signInAt,
} from '../security/clients.js';

const PASSWORD = 'a long household passphrase';
const HASH = hashPassword(PASSWORD);

interface Scopes {
  nanny: string[];
  outside: string[];
}

describe('users scoped to some cameras', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-scoped-'));
  const file = join(dir, 'camplex.yaml');
  let camplex: CamplexProcess;
  let port: number;
  const clients: Client[] = [];

  const write = ({ nanny, outside }: Scopes) =>
    writeFileSync(
      file,
      [
        'auth:',
        '  users:',
        `    admin: "${HASH}"`,
        `    nanny: { password: "${HASH}", cameras: [${nanny.join(', ')}] }`,
        `    gardener: { password: "${HASH}", groups: [outside] }`,
        'groups:',
        `  outside: [${outside.join(', ')}]`,
        'cameras:',
        '  nursery: { url: "demo:1" }',
        '  garden: { url: "demo:2" }',
        '  porch: { url: "demo:3" }',
        '',
      ].join('\n'),
    );
  const reload = (scopes: Scopes) => reloadWith(camplex, () => write(scopes));
  const signIn = (user: string) => signInAt(port, user, PASSWORD);
  const open = async (cookie: string) => {
    const client = await connectClient(camplex.wsUrl, { headers: { cookie } });
    clients.push(client);
    return client;
  };

  before(async () => {
    write({ nanny: ['nursery'], outside: ['garden'] });
    camplex = await startCamplexProcess({ args: ['--config', file] });
    port = Number(new URL(camplex.url).port);
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the nanny the nursery alone, everywhere, and the others as unknown', async () => {
    const nanny = await signIn('nanny');
    const headers = { cookie: nanny };
    const listed = JSON.parse((await httpRequest(port, '/api/cameras', { headers })).body);
    assert.deepEqual(
      listed.cameras.map((camera: { id: string }) => camera.id),
      ['nursery'],
    );
    assert.deepEqual(listed.groups, {}, 'a group with none of her cameras is left out');
    const socket = await open(nanny);
    assert.deepEqual(helloIds(socket), ['nursery']);
    const refused = await socket.reply(
      JSON.stringify({ cmd: 'subscribe', cameras: ['nursery', 'porch'] }),
    );
    assert.deepEqual(refused, { type: 'subscribed', cameras: ['nursery'] });
    await waitFor(async () => socket.messages.some((m) => m.type === 'error'), {
      timeoutMs: 5000,
      what: 'the unknown-camera error',
    });
    const error = socket.messages.find((m) => m.type === 'error');
    assert.equal(error?.type === 'error' && error.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    for (const path of ['/snapshot/porch.jpg', '/mjpeg/porch']) {
      assert.equal((await httpRequest(port, path, { headers })).status, 404, path);
    }
    const snapshot = await httpRequest(port, '/snapshot/nursery.jpg', { headers });
    assert.equal(snapshot.status, 200, 'her own camera works');
    const metrics = await httpRequest(port, '/metrics', { headers });
    assert.equal(metrics.status, 403);
    assert.match(metrics.body, /this user may watch only some cameras/);
    const admin = await signIn('admin');
    const all = JSON.parse(
      (await httpRequest(port, '/api/cameras', { headers: { cookie: admin } })).body,
    );
    assert.equal(all.cameras.length, 3, 'a bare-hash user sees every camera');
  });

  it('narrows an open socket when a reload narrows its user: hello again, frames stop', async () => {
    const socket = await open(await signIn('nanny'));
    socket.ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['nursery'] }));
    await waitFor(async () => socket.framesOf('nursery') > 3, {
      timeoutMs: 15_000,
      what: 'nursery frames',
    });
    await reload({ nanny: ['garden'], outside: ['garden'] });
    await waitFor(async () => helloIds(socket).join() === 'garden', {
      timeoutMs: 5000,
      what: 'hello with garden only',
    });
    const frames = socket.framesOf('nursery');
    // The camera she may watch now is the clock: ten of its frames, and none more of the nursery.
    socket.ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['garden'] }));
    await waitFor(async () => socket.framesOf('garden') > 10, {
      timeoutMs: 15_000,
      what: 'garden frames',
    });
    assert.ok(socket.framesOf('nursery') <= frames + 1, 'nursery stopped (one may be in flight)');
    assert.equal(socket.ws.readyState, socket.ws.OPEN, 'the socket stays open');
    await reload({ nanny: ['nursery'], outside: ['garden'] });
  });

  it('widens a group’s users at once when a reload adds a camera to the group', async () => {
    const socket = await open(await signIn('gardener'));
    assert.deepEqual(helloIds(socket), ['garden']);
    await reload({ nanny: ['nursery'], outside: ['garden', 'porch'] });
    await waitFor(async () => helloIds(socket).join() === 'garden,porch', {
      timeoutMs: 5000,
      what: 'hello with the porch added to the group',
    });
    const hello = socket.messages.filter((m) => m.type === 'hello').at(-1);
    assert.deepEqual(
      hello?.type === 'hello' && hello.groups,
      { outside: ['garden', 'porch'] },
      'the tab of the group has the new camera too',
    );
    const reply = await socket.reply(JSON.stringify({ cmd: 'subscribe', cameras: ['porch'] }));
    assert.deepEqual(reply, { type: 'subscribed', cameras: ['porch'] });
    await waitFor(async () => socket.framesOf('porch') > 2, {
      timeoutMs: 15_000,
      what: 'porch frames for the gardener',
    });
    await reload({ nanny: ['nursery'], outside: ['garden'] });
  });
});
