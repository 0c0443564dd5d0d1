/**
 * PTZ in a cluster, on a real nats-server: the node running a camera is the one that moves it.
 * n1 runs the dome camera (its viewer came first); a page on n2 moves it through n1, n1's rate
 * limit counts the pages of both nodes, and when n2's page vanishes n1 stops the camera.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { type OnvifDevice, startOnvifDevice } from '../../support/onvif-device.js';
import { waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

describe('PTZ in a cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-cluster-ptz-'));
  let nats: NatsServer;
  let dome: OnvifDevice;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];

  /** A viewer on `node` that watches the dome camera and has its controls. */
  const watcher = async (node: CamplexProcess) => {
    const viewer = await connectViewer(node.wsUrl);
    viewers.push(viewer);
    viewer.send({ cmd: 'subscribe', cameras: ['dome'] });
    await waitFor(
      async () =>
        viewer.framesOf('dome') > 3 &&
        viewer.messages.some(
          (m) =>
            (m.type === 'state' && m.id === 'dome' && m.ptz) ||
            (m.type === 'hello' && m.cameras.some((c) => c.id === 'dome' && c.ptz)),
        ),
      { timeoutMs: 20_000, what: `frames and controls on ${node.url}` },
    );
    return viewer;
  };
  const calls = (action: string) => dome.calls.filter((call) => call.action === action).length;

  before(async () => {
    nats = await startNatsServer();
    dome = await startOnvifDevice();
    for (const node of ['n1', 'n2']) {
      const file = join(dir, `${node}.yaml`);
      writeFileSync(
        file,
        [
          `cluster: { nats: "${nats.url}", node: ${node}, leaseSeconds: 3 }`,
          'cameras:',
          `  dome: { url: "demo:1", ptz: { onvif: "${dome.url}" } }`,
          '',
        ].join('\n'),
      );
      nodes.push(await startCamplexProcess({ args: ['--config', file] }));
    }
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop({ forget: true });
    await dome?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves the camera through its owner, with one rate limit for both nodes, and stops it when a remote page goes', async () => {
    const [n1, n2] = nodes;
    assert.ok(n1 && n2);
    const onN1 = await watcher(n1); // first: n1 runs the camera
    const onN2 = await watcher(n2);
    await waitFor(
      async () =>
        onN2.messages.some((m) => m.type === 'state' && m.id === 'dome' && m.owner === 'n1'),
      { timeoutMs: 10_000, what: 'n2 knowing that n1 runs the dome camera' },
    );

    const moves = calls('ContinuousMove');
    onN2.send({ cmd: 'ptz', camera: 'dome', action: 'move', pan: 1, tilt: 0 });
    await dome.waitFor('ContinuousMove', moves + 1, 5000);
    await waitFor(
      async () => n1.lines.some((line) => line.includes('"camera":"dome"') && line.includes('PTZ')),
      { timeoutMs: 5000, what: 'n1 speaking of the PTZ' },
    );

    // n2's page used one change; n1's page uses the rest of the burst (10) and one more.
    for (let i = 0; i < 10; i++) {
      onN1.send({ cmd: 'ptz', camera: 'dome', action: 'move', pan: i % 2 ? 0.5 : -0.5, tilt: 0 });
    }
    await waitFor(
      async () =>
        onN1.messages.some((m) => m.type === 'error' && m.code === 'CAMPLEX_ERR_RATE_LIMITED'),
      { timeoutMs: 5000, what: "n1's page limited by the changes of both pages" },
    );
    // Three changes at once: the limit refills 5 a second, so at most one can pass.
    for (const tilt of [-1, 1, -1])
      onN2.send({ cmd: 'ptz', camera: 'dome', action: 'move', pan: 0, tilt });
    await waitFor(
      async () =>
        onN2.messages.some(
          (m) =>
            m.type === 'error' &&
            m.code === 'CAMPLEX_ERR_RATE_LIMITED' &&
            m.cameras?.includes('dome') === true,
        ),
      { timeoutMs: 5000, what: "n2's page told of n1's limit" },
    );

    // n2's page holds a move (a change once the limit allows), then vanishes.
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the limit refills 5 a second
    const stops = calls('Stop');
    onN2.send({ cmd: 'ptz', camera: 'dome', action: 'zoom', zoom: 1 });
    await waitFor(
      async () => dome.calls.some((c) => c.action === 'ContinuousMove' && c.body.zoom === 1),
      {
        timeoutMs: 5000,
        what: 'the zoom from n2',
      },
    );
    const cutAt = Date.now();
    onN2.send({ cmd: 'ptz', camera: 'dome', action: 'zoom', zoom: 1 }); // a keep-alive, then gone
    onN2.ws.terminate();
    const stop = await dome.waitFor('Stop', stops + 1, 5000);
    assert.ok(stop.at - cutAt < 600, `stopped ${stop.at - cutAt} ms after n2's page went`);
  });
});
