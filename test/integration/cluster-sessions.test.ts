/**
 * What a node takes from the sessions bucket: whoever can write to the bus acts as a node (the
 * bus is a trust boundary, docs/SECURITY.md), yet a session written there counts only for a
 * user the node's own config has: a test client on the bus writes sessions the way a node
 * does, for a user the config does not have (refused) and for a configured one (the control:
 * it signs in). That an adopted session lasts at most a session from now, and that a full
 * store takes no more, is src/access/access.test.ts's.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { hashPassword } from '../../src/access/password.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/processes.js';
import { connectClient } from '../security/clients.js';

const CENTURY_MS = 100 * 365 * 24 * 3600_000;
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

describe('sign-in sessions a client on the bus writes', () => {
  let nats: NatsServer;
  let node: CamplexProcess;
  let bus: NatsConnection;

  before(async () => {
    nats = await startNatsServer();
    node = await startCamplexProcess({
      config: [
        `cluster: { nats: "${nats.url}", node: n1 }`,
        'auth:',
        '  users:',
        `    alice: "${hashPassword('correct horse')}"`,
        `    nanny: { password: "${hashPassword('lullaby')}", cameras: [nursery] }`,
        'cameras:',
        '  cam: { url: "demo:1" }',
        '  nursery: { url: "demo:2" }',
      ].join('\n'),
    });
    bus = await connect({ servers: nats.url });
  });

  after(async () => {
    await bus?.close();
    await node?.stop();
    await nats?.stop({ forget: true });
  });

  const status = (token: string) =>
    fetch(`${node.url}api/cameras`, { headers: { cookie: `camplex_session=${token}` } }).then(
      (response) => response.status,
    );

  it('counts only for a user the node has', async () => {
    // The node made the bucket when it joined; the test writes as another node would.
    const kv = await new Kvm(bus).open('camplex_sessions');
    const expiresAt = Date.now() + CENTURY_MS;
    const write = (key: string, user: string) => kv.put(key, JSON.stringify({ user, expiresAt }));
    await write(digest('forged-for-mallory'), 'mallory');
    await write(digest('forged-for-alice'), 'alice');
    // The control: a session of a configured user is taken in (the bus speaks for a node).
    // The node reads the bucket in order, so once alice's works, mallory's was read before.
    await waitFor(async () => (await status('forged-for-alice')) === 200, {
      timeoutMs: 5000,
      what: "the node to take in alice's session from the bus",
    });
    assert.equal(await status('forged-for-mallory'), 401, 'a user the config does not have');
    assert.equal(await status('forged-for-nobody'), 401, 'nothing written, nothing signed in');
  });

  it('scopes a session from the bus by this node’s config, as one signed in here', async () => {
    // nanny signed in on another node; that node shared her session.
    const kv = await new Kvm(bus).open('camplex_sessions');
    await kv.put(
      digest('nanny-elsewhere'),
      JSON.stringify({ user: 'nanny', expiresAt: Date.now() + 60_000 }),
    );
    const cookie = 'camplex_session=nanny-elsewhere';
    await waitFor(async () => (await status('nanny-elsewhere')) === 200, {
      timeoutMs: 5000,
      what: "the node to take in nanny's session",
    });
    const cameras = (await (
      await fetch(`${node.url}api/cameras`, { headers: { cookie } })
    ).json()) as {
      cameras: Array<{ id: string }>;
    };
    assert.deepEqual(
      cameras.cameras.map((camera) => camera.id),
      ['nursery'],
    );
    const metrics = await fetch(`${node.url}metrics`, { headers: { cookie } });
    assert.equal(metrics.status, 403, 'metrics are for principals that see every camera');
    const client = await connectClient(node.wsUrl, { headers: { cookie } });
    try {
      const hello = client.messages.find((message) => message.type === 'hello');
      assert.deepEqual(hello?.type === 'hello' && hello.cameras.map((camera) => camera.id), [
        'nursery',
      ]);
      const reply = await client.reply(JSON.stringify({ cmd: 'subscribe', cameras: ['cam'] }));
      assert.equal(reply.type === 'error' && reply.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    } finally {
      client.ws.terminate();
    }
  });

  it('refuses a value larger than a session could be', async () => {
    const kv = await new Kvm(bus).open('camplex_sessions');
    const huge = JSON.stringify({
      user: 'alice',
      expiresAt: Date.now() + 1000,
      pad: 'x'.repeat(4096),
    });
    await assert.rejects(kv.put(digest('huge'), huge), /maximum|size|too large/i);
  });
});
