/**
 * Credentials that change while connections are open. A reload that removes a user, changes
 * a password, removes a token or narrows one acts on what is open at once: sockets close with
 * 1008 and a reason, narrowed ones get hello again and lose the cameras they may no longer
 * watch, MJPEG streams end, cookies stop working. And the credential a client shows is the one
 * that counts: a limited token beats the visitor's cookie, a cookie does not ride along on an
 * upgrade from another origin, a token subprotocol authenticates the upgrade only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
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

const NVR = 'revocation-nvr-token-0123456789abcdefghij';
const PANEL = 'revocation-panel-token-0123456789abcdefgh';
const EMBEDDER = 'http://embedder.test:9000';
const ALICE = hashPassword('alice passphrase');
const BOB = hashPassword('bob passphrase');

interface Credentials {
  users: Record<string, string>;
  nvr?: boolean;
  panelCameras?: string[];
  /** Leave the garage camera out of the file. */
  noGarage?: boolean;
}

/** An endless MJPEG response of `path` with HTTP Basic `basic`: its bytes so far, and its end. */
function mjpeg(port: number, path: string, basic: string) {
  return new Promise<{ bytes: () => number; ended: Promise<void> }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { authorization: `Basic ${basic}` } },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        const ended = new Promise<void>((done) => {
          res.on('close', () => done());
          res.on('error', () => done());
        });
        resolve({ bytes: () => bytes, ended });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('credentials that change under open connections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-revocation-'));
  const file = join(dir, 'camplex.yaml');
  let camplex: CamplexProcess;
  let port: number;
  const clients: Client[] = [];

  const write = ({
    users,
    nvr = true,
    panelCameras = ['front', 'garage'],
    noGarage = false,
  }: Credentials) =>
    writeFileSync(
      file,
      [
        `server: { allowedOrigins: ["${EMBEDDER}"] }`,
        'auth:',
        `  users: { ${Object.entries(users)
          .map(([name, hash]) => `${name}: "${hash}"`)
          .join(', ')} }`,
        '  tokens:',
        ...(nvr ? [`    nvr: ${NVR}`] : []),
        `    panel: { token: ${PANEL}, cameras: [${panelCameras.join(', ')}] }`,
        'cameras:',
        '  front: { url: "demo:1" }',
        ...(noGarage ? [] : ['  garage: { url: "demo:2" }']),
        '',
      ].join('\n'),
    );
  /** Writes the file, SIGHUPs, and waits for the reload's log line. */
  const reload = (credentials: Credentials) => reloadWith(camplex, () => write(credentials));
  const signIn = (user: string, password: string) => signInAt(port, user, password);
  const open = async (options: Parameters<typeof connectClient>[1]) => {
    const client = await connectClient(`ws://127.0.0.1:${port}/ws/cameras`, options);
    clients.push(client);
    return client;
  };

  before(async () => {
    write({ users: { alice: ALICE, bob: BOB } });
    camplex = await startCamplexProcess({ args: ['--config', file] });
    port = Number(new URL(camplex.url).port);
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes a removed user’s sockets and refuses the cookie; a password change ends sessions too', async () => {
    const alice = await signIn('alice', 'alice passphrase');
    const bob = await signIn('bob', 'bob passphrase');
    const aliceSocket = await open({ headers: { cookie: alice } });
    const bobSocket = await open({ headers: { cookie: bob } });
    assert.equal(
      (await httpRequest(port, '/api/cameras', { headers: { cookie: alice } })).status,
      200,
    );

    await reload({ users: { bob: hashPassword('a new bob passphrase') } });
    assert.deepEqual(await aliceSocket.closed, { code: 1008, reason: 'user removed' });
    assert.deepEqual(await bobSocket.closed, { code: 1008, reason: 'session ended' });
    for (const cookie of [alice, bob]) {
      assert.equal((await httpRequest(port, '/api/cameras', { headers: { cookie } })).status, 401);
    }
    await signIn('bob', 'a new bob passphrase'); // the new password works
    await reload({ users: { alice: ALICE, bob: BOB } });
  });

  it('narrows a narrowed token’s socket at once: hello again, the camera taken away stops', async () => {
    const panel = await open({ headers: { authorization: `Bearer ${PANEL}` } });
    assert.deepEqual(helloIds(panel), ['front', 'garage']);
    panel.ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['front', 'garage'] }));
    await waitFor(async () => panel.framesOf('front') > 3 && panel.framesOf('garage') > 3, {
      timeoutMs: 15_000,
      what: 'both cameras on the panel',
    });
    await reload({ users: { alice: ALICE, bob: BOB }, panelCameras: ['front'] });
    await waitFor(async () => helloIds(panel).length === 1, {
      timeoutMs: 5000,
      what: 'hello without garage',
    });
    assert.deepEqual(helloIds(panel), ['front']);
    const [front, garage] = [panel.framesOf('front'), panel.framesOf('garage')];
    await waitFor(async () => panel.framesOf('front') > front + 10, {
      timeoutMs: 10_000,
      what: 'front going on',
    });
    assert.ok(
      panel.framesOf('garage') <= garage + 1,
      'garage stopped (one frame may be in flight)',
    );
    const refused = await panel.reply(JSON.stringify({ cmd: 'subscribe', cameras: ['garage'] }));
    assert.equal(refused.type === 'error' && refused.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    await reload({ users: { alice: ALICE, bob: BOB } });
  });

  it('ends a removed token’s MJPEG stream (Home Assistant’s access is cut without a restart)', async () => {
    const basic = Buffer.from(`home-assistant:${NVR}`).toString('base64');
    const stream = await mjpeg(port, '/mjpeg/front', basic);
    await waitFor(async () => stream.bytes() > 10_000, { timeoutMs: 10_000, what: 'MJPEG bytes' });
    await reload({ users: { alice: ALICE, bob: BOB }, nvr: false });
    await stream.ended;
    const again = await httpRequest(port, '/snapshot/front.jpg', {
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(again.status, 401);
    await reload({ users: { alice: ALICE, bob: BOB } });
  });

  it('ends the MJPEG stream of a camera a reload removed', async () => {
    const basic = Buffer.from(`home-assistant:${NVR}`).toString('base64');
    const stream = await mjpeg(port, '/mjpeg/garage', basic);
    await waitFor(async () => stream.bytes() > 10_000, { timeoutMs: 10_000, what: 'MJPEG bytes' });
    await reload({ users: { alice: ALICE, bob: BOB }, panelCameras: ['front'], noGarage: true });
    await stream.ended;
    await reload({ users: { alice: ALICE, bob: BOB } });
  });

  it('gives an embedding page its limited token, not its visitor’s cookie', async () => {
    const alice = await signIn('alice', 'alice passphrase');
    const offered = ['camplex.v1', `camplex.token.${PANEL}`];
    // Same-site pages get the cookie sent along: the token shown is what counts.
    const embedded = await open({
      headers: { cookie: alice, origin: EMBEDDER },
      protocols: offered,
    });
    assert.deepEqual(helloIds(embedded), ['front', 'garage']);
    const refused = await embedded.reply(JSON.stringify({ cmd: 'subscribe', cameras: ['nope'] }));
    assert.equal(refused.type, 'error');
    await reload({ users: { alice: ALICE, bob: BOB }, panelCameras: ['garage'] });
    await waitFor(async () => helloIds(embedded).join() === 'garage', {
      timeoutMs: 5000,
      what: 'the embedded socket narrowed with its token, not kept wide by the cookie',
    });
    // A cookie alone from another origin opens nothing.
    await assert.rejects(
      connectClient(`ws://127.0.0.1:${port}/ws/cameras`, {
        headers: { cookie: alice, origin: EMBEDDER },
      }),
      /upgrade refused with 401/,
    );
    // From camplex's own page the cookie counts.
    const own = await open({ headers: { cookie: alice, origin: `http://127.0.0.1:${port}` } });
    assert.deepEqual(helloIds(own), ['front', 'garage']);
    await reload({ users: { alice: ALICE, bob: BOB } });
  });

  it('takes a token subprotocol on the upgrade only, never on a plain request', async () => {
    const headers = { 'sec-websocket-protocol': `camplex.v1, camplex.token.${NVR}` };
    assert.equal((await httpRequest(port, '/api/cameras', { headers })).status, 401);
    assert.equal((await httpRequest(port, '/snapshot/front.jpg', { headers })).status, 401);
  });
});
