/**
 * Camera leases on a real nats-server (Debian's 2.9, JetStream): one holder at a time; a
 * released lease is taken at once; a holder cut off from NATS stops by itself before another
 * node can take the lease (the key expires by the bucket's ttl only); a holder whose key was
 * written by someone else learns it at its next renewal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Lease } from '../../src/cluster/lease.js';
import { systemClock } from '../../src/common/clock.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/processes.js';

const TTL_MS = 3000;

interface Node {
  nc: NatsConnection;
  kv: KV;
  lease: Lease;
  acquiredAt: number[];
  lost: Array<{ at: number; reason: string }>;
}

describe('camera leases in a NATS KV bucket', () => {
  let nats: NatsServer;
  const connections: NatsConnection[] = [];
  let bucket = 0;

  before(async () => {
    nats = await startNatsServer();
  });

  after(async () => {
    for (const nc of connections) await nc.close().catch(() => {});
    await nats?.stop();
  });

  /** A node with its own connection, wanting camera `camera` in bucket `name`. */
  async function node(name: string, camera: string, bucketName: string): Promise<Node> {
    const nc = await connect({ servers: nats.url, name });
    connections.push(nc);
    const kv = await new Kvm(nc).create(bucketName, { ttl: TTL_MS, history: 1 });
    const acquiredAt: number[] = [];
    const lost: Array<{ at: number; reason: string }> = [];
    const lease = new Lease({
      kv,
      cameraId: camera,
      node: name,
      ttlMs: TTL_MS,
      clock: systemClock,
      events: {
        onAcquired: () => acquiredAt.push(Date.now()),
        onLost: (reason) => lost.push({ at: Date.now(), reason }),
      },
    });
    return { nc, kv, lease, acquiredAt, lost };
  }

  it('gives a camera to one node at a time, and to the next at once when released', async () => {
    const name = `owners${bucket++}`;
    const a = await node('a', '.x', name);
    const b = await node('b', '.x', name);
    a.lease.acquire();
    await waitFor(async () => a.lease.held, { timeoutMs: 5000, what: 'a to take the lease' });
    b.lease.acquire();
    await delay(TTL_MS * 1.5); // several renewals of a, several attempts of b
    assert.ok(a.lease.held && !b.lease.held, 'b waits while a renews');
    assert.equal(await Lease.holder(a.kv, '.x'), 'a');
    assert.deepEqual(a.lost, []);
    const released = Date.now();
    await a.lease.release();
    await waitFor(async () => b.lease.held, { timeoutMs: TTL_MS, what: 'b to take it' });
    const took = (b.acquiredAt[0] ?? 0) - released;
    assert.ok(took <= TTL_MS / 3 + 500, `b took it ${took} ms after the release`);
    assert.equal(await Lease.holder(b.kv, '.x'), 'b');
    await b.lease.release();
  });

  it('a holder cut off from NATS stops before another node can take over', async () => {
    const name = `owners${bucket++}`;
    const a = await node('a', 'a..b', name);
    const b = await node('b', 'a..b', name);
    a.lease.acquire();
    await waitFor(async () => a.lease.held, { timeoutMs: 5000, what: 'a to take the lease' });
    b.lease.acquire();
    await delay(500);
    // a's process lives on but cannot reach NATS (its connection is gone).
    const cut = Date.now();
    await a.nc.close();
    await waitFor(async () => b.lease.held, { timeoutMs: TTL_MS * 3, what: 'b to take over' });
    const aStopped = a.lost[0]?.at;
    const bStarted = b.acquiredAt[0];
    assert.ok(aStopped !== undefined && bStarted !== undefined);
    assert.match(a.lost[0]?.reason ?? '', /could not renew/);
    console.log(
      `# cut at 0: a stopped at ${aStopped - cut} ms, b started at ${bStarted - cut} ms (ttl ${TTL_MS})`,
    );
    assert.ok(aStopped <= bStarted, 'never both at once');
    assert.ok(bStarted - cut <= TTL_MS + TTL_MS / 3 + 1500, 'b took over within the lease time');
    await b.lease.release();
  });

  it('a holder whose key someone else wrote learns it at its next renewal', async () => {
    const name = `owners${bucket++}`;
    const a = await node('a', 'front', name);
    a.lease.acquire();
    await waitFor(async () => a.lease.held, { timeoutMs: 5000, what: 'a to take the lease' });
    await a.kv.put('front', 'intruder');
    await waitFor(async () => a.lost.length > 0, { timeoutMs: TTL_MS, what: 'a to notice' });
    assert.match(a.lost[0]?.reason ?? '', /taken over/);
    assert.equal(a.lease.held, false);
    await a.lease.release();
  });
});
