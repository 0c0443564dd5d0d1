/**
 * A camera runs once in a cluster across a restart on its owner. Two nodes on a real
 * nats-server, a viewer on each; the owner reloads a config that changes the camera, so the
 * camera restarts there: the new source claims the lease before the old one lets go. The old
 * source's late release once deleted the key under the new one, the other node took it, and
 * both ran the camera from then on. ffmpeg per node is counted every 0.5 s for 15 s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type CamplexProcess, startCamplexProcess } from '../helpers/camplex.js';
import { type NatsServer, startNatsServer } from '../helpers/nats.js';
import { countDescendants, waitFor } from '../helpers/processes.js';
import { connectViewer, type TestViewer } from '../helpers/viewer.js';

const SAMPLES = 30;
const SAMPLE_MS = 500;

describe('one ffmpeg per camera in a cluster when the owner restarts the camera', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-claims-'));
  let nats: NatsServer;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];
  const fileOf = (node: string) => join(dir, `${node}.yaml`);
  const write = (node: string, name: string) =>
    writeFileSync(
      fileOf(node),
      [
        `cluster: { nats: "${nats.url}", node: ${node}, leaseSeconds: 3 }`,
        'stream: { graceSeconds: 2 }',
        'cameras:',
        `  door: { url: "demo:1", name: "${name}" }`,
        '',
      ].join('\n'),
    );

  before(async () => {
    nats = await startNatsServer();
    for (const node of ['n1', 'n2']) {
      write(node, 'Door');
      nodes.push(await startCamplexProcess({ args: ['--config', fileOf(node)] }));
    }
    // n1's viewer first: n1 takes the lease and runs the camera; n2's viewer gets it relayed.
    for (const node of nodes) {
      const viewer = await connectViewer(node.wsUrl);
      viewer.send({ cmd: 'subscribe', cameras: ['door'] });
      await waitFor(async () => viewer.framesOf('door') > 5, {
        timeoutMs: 20_000,
        what: `frames on ${node.url}`,
      });
      viewers.push(viewer);
    }
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop({ forget: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('never runs the camera on both nodes after the owner reloads a change to it', async () => {
    const [n1, n2] = nodes;
    assert.ok(n1 && n2);
    const perNode = () => nodes.map((node) => countDescendants(node.pid, 'ffmpeg'));
    assert.deepEqual(perNode(), [1, 0], 'n1 owns the camera');
    const mark = n1.lines.length;
    write('n1', 'Front door');
    process.kill(n1.pid, 'SIGHUP');
    await waitFor(
      async () =>
        n1.lines.slice(mark).some((line) => line.includes('config reloaded: changed door')),
      { timeoutMs: 8000, what: "n1's reload" },
    );
    const samples: number[][] = [];
    for (let i = 0; i < SAMPLES; i++) {
      samples.push(perNode());
      await delay(SAMPLE_MS);
    }
    const both = samples.filter(([a = 0, b = 0]) => a + b > 1);
    assert.deepEqual(both, [], `ffmpeg per node every 0.5 s: ${JSON.stringify(samples)}`);
    const frames = viewers.map((viewer) => viewer.framesOf('door'));
    await waitFor(async () => viewers.every((v, i) => v.framesOf('door') > (frames[i] ?? 0) + 5), {
      timeoutMs: 10_000,
      what: 'both viewers still getting the camera',
    });
  });
});
