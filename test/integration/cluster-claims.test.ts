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

/**
 * The same promise when a viewer comes as the grace period ends: the last viewer leaves the
 * owner, and a new one comes about one grace period later (the camera is stopping, or just
 * stopped), while the other node gets a viewer of its own and wants the camera too.
 */
describe('one ffmpeg per camera in a cluster when a viewer comes as the grace period ends', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-grace-'));
  let nats: NatsServer;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];

  before(async () => {
    nats = await startNatsServer();
    for (const node of ['n1', 'n2']) {
      const file = join(dir, `${node}.yaml`);
      writeFileSync(
        file,
        [
          `cluster: { nats: "${nats.url}", node: ${node}, leaseSeconds: 3 }`,
          'stream: { graceSeconds: 1 }',
          'cameras:',
          '  door: { url: "demo:1" }',
          '',
        ].join('\n'),
      );
      nodes.push(await startCamplexProcess({ args: ['--config', file] }));
      viewers.push(await connectViewer(nodes[nodes.length - 1]?.wsUrl ?? ''));
    }
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop({ forget: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('never runs the camera on both nodes, whichever side of the grace end the viewer comes', async () => {
    const [owner, other] = viewers;
    assert.ok(owner && other);
    const perNode = () => nodes.map((node) => countDescendants(node.pid, 'ffmpeg'));
    const frames = async (viewer: TestViewer, what: string) => {
      const before = viewer.framesOf('door');
      await waitFor(async () => viewer.framesOf('door') > before + 5, {
        timeoutMs: 20_000,
        what,
      });
    };
    owner.send({ cmd: 'subscribe', cameras: ['door'] });
    await frames(owner, 'frames on n1');
    assert.deepEqual(perNode(), [1, 0], 'n1 owns the camera');
    const samples: number[][] = [];
    // 3 x 10 samples 0.5 s apart: 15 s in all.
    const [n1] = nodes;
    assert.ok(n1);
    // First the moment n1 says it stops the camera (its ffmpeg is going, not gone: the race),
    // then a little before and after the grace end.
    for (const when of ['as n1 stops the camera', 950, 1050] as const) {
      const mark = n1.lines.length;
      owner.send({ cmd: 'unsubscribe', cameras: ['door'] });
      if (typeof when === 'number') await delay(when);
      else {
        await waitFor(
          () => n1.lines.slice(mark).some((line) => line.includes('no viewers left: stopping')),
          { timeoutMs: 5000, intervalMs: 1, what: "n1's grace end" },
        );
      }
      owner.send({ cmd: 'subscribe', cameras: ['door'] });
      other.send({ cmd: 'subscribe', cameras: ['door'] });
      for (let i = 0; i < 10; i++) {
        samples.push(perNode());
        await delay(SAMPLE_MS);
      }
      await frames(owner, `frames on n1 after coming back ${when}`);
      await frames(other, `frames on n2 after coming back ${when}`);
      other.send({ cmd: 'unsubscribe', cameras: ['door'] });
    }
    const both = samples.filter(([a = 0, b = 0]) => a + b > 1);
    assert.deepEqual(both, [], `ffmpeg per node every 0.5 s: ${JSON.stringify(samples)}`);
  });
});
