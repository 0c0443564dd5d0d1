/**
 * An authenticated bus is the supported setup: whoever can publish on NATS acts as a node. A
 * nats-server that asks for a user and password lets in the nodes that have them (the cluster
 * works as usual) and refuses one without them, which says why in its log and never serves.
 * Over TLS the same, and a node that does not trust the server's certificate never joins.
 * The TLS server uses the test-only certificate in test/fixtures/tls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { countDescendants, waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const BUS = { user: 'camplex', password: 'bus-password-0123456789' };

describe('a cluster on a NATS server that asks for credentials', () => {
  let nats: NatsServer;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];
  const config = (node: string, signIn: string) =>
    [
      `cluster: { nats: "${nats.url}", node: ${node}, leaseSeconds: 3${signIn} }`,
      'cameras:',
      '  door: { url: "demo:1", fps: 10 }',
    ].join('\n');

  before(async () => {
    nats = await startNatsServer({ authorization: BUS });
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop({ forget: true });
  });

  it('lets in the nodes with the credentials: a camera runs once, watched on both', async () => {
    const signIn = `, user: ${BUS.user}, password: "${BUS.password}"`;
    for (const node of ['n1', 'n2'])
      nodes.push(await startCamplexProcess({ config: config(node, signIn) }));
    for (const node of nodes) {
      const viewer = await connectViewer(node.wsUrl);
      viewers.push(viewer);
      viewer.send({ cmd: 'subscribe', cameras: ['door'] });
      await waitFor(async () => viewer.framesOf('door') > 5, {
        timeoutMs: 20_000,
        what: `frames on ${node.url}`,
      });
    }
    const ffmpegs = nodes.map((node) => countDescendants(node.pid, 'ffmpeg'));
    assert.equal((ffmpegs[0] ?? 0) + (ffmpegs[1] ?? 0), 1, `ffmpeg per node: ${ffmpegs}`);
    for (const node of nodes) {
      assert.ok(
        !node.lines.some((line) => line.includes(BUS.password)),
        'the password never logged',
      );
    }
  });

  it('refuses a node without them: it says why and never listens', async () => {
    const started = startCamplexProcess({ config: config('intruder', '') });
    await assert.rejects(started, (error: Error) => {
      assert.match(error.message, /did not start within 15 s/);
      assert.match(
        error.message,
        /cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+ \(.*(Authorization|authorization).*\): retrying/,
      );
      return true;
    });
  });
});

const CERT = fileURLToPath(new URL('../fixtures/tls/cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../fixtures/tls/key.pem', import.meta.url));
const TOKEN = 'bus-token-0123456789abcdef';

describe('a cluster on a NATS server that speaks TLS only', () => {
  let nats: NatsServer;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];
  const config = (node: string, extra: string) =>
    [
      `cluster: { nats: "tls://127.0.0.1:${nats.port}", node: ${node}, leaseSeconds: 3, token: ${TOKEN}${extra} }`,
      'cameras:',
      '  door: { url: "demo:1", fps: 10 }',
    ].join('\n');

  before(async () => {
    nats = await startNatsServer({ tls: { certFile: CERT, keyFile: KEY } });
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop({ forget: true });
  });

  it('lets in the nodes that trust its certificate: a camera runs once, watched on both', async () => {
    for (const node of ['n1', 'n2']) {
      nodes.push(await startCamplexProcess({ config: config(node, `, tls: { ca: "${CERT}" }`) }));
    }
    for (const node of nodes) {
      const viewer = await connectViewer(node.wsUrl);
      viewers.push(viewer);
      viewer.send({ cmd: 'subscribe', cameras: ['door'] });
      await waitFor(async () => viewer.framesOf('door') > 5, {
        timeoutMs: 20_000,
        what: `frames on ${node.url}`,
      });
    }
    const ffmpegs = nodes.map((node) => countDescendants(node.pid, 'ffmpeg'));
    assert.equal((ffmpegs[0] ?? 0) + (ffmpegs[1] ?? 0), 1, `ffmpeg per node: ${ffmpegs}`);
    for (const node of nodes) {
      assert.ok(!node.lines.some((line) => line.includes(TOKEN)), 'the token never logged');
    }
  });

  it('refuses a node that does not trust the certificate: it says why and never listens', async () => {
    const started = startCamplexProcess({ config: config('stranger', '') });
    await assert.rejects(started, (error: Error) => {
      assert.match(error.message, /did not start within 15 s/);
      assert.match(
        error.message,
        /cannot reach NATS at tls:\/\/127\.0\.0\.1:\d+ \(.*certificate.*\): retrying/,
      );
      return true;
    });
  });
});
