import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KV } from '@nats-io/kv';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryKv } from '../../support/memory-kv.js';
import { Lease } from './lease.js';

function setup(kv = new MemoryKv()) {
  const clock = new FakeClock();
  const events: string[] = [];
  const lease = new Lease({
    kv: kv as unknown as KV,
    cameraId: 'front',
    node: 'n1',
    ttlMs: 3000,
    clock,
    events: {
      onAcquired: () => events.push('acquired'),
      onLost: (reason) => events.push(`lost: ${reason}`),
    },
  });
  return { kv, clock, events, lease };
}

/** Lets the lease's awaited KV calls settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Lease', () => {
  it('lets only the claim in force release: a restarted camera keeps its lease', async () => {
    const { kv, lease } = setup();
    const old = await lease.acquire();
    assert.ok(old.held);
    // The camera restarts on this node (a reload changed it): the new source claims first,
    // the old one lets go after.
    const fresh = await lease.acquire();
    assert.ok(fresh.held, 'the new source runs the camera');
    assert.ok(!old.held, 'the old claim holds nothing any more');
    await old.release();
    assert.equal(kv.holder(), 'n1', 'the late release of the old claim gave nothing up');
    assert.ok(fresh.held);
    await fresh.release();
    assert.equal(kv.holder(), undefined, 'the claim in force releases');
  });

  it('keeps a lease whose renewal landed after it timed out, and loses one another node took', async () => {
    const { kv, clock, events, lease } = setup();
    const claim = await lease.acquire();
    kv.loseNextUpdateAnswer = true;
    clock.advance(1000); // the first renewal: it lands, but its answer is lost
    await settle();
    clock.advance(1000); // the next one: "wrong last sequence", yet the key names this node
    await settle();
    assert.ok(claim.held, 'still ours');
    assert.deepEqual(events, ['acquired']);
    clock.advance(1000);
    await settle();
    assert.ok(claim.held, 'renewing at the adopted revision');
    kv.steal('n2');
    clock.advance(1000);
    await settle();
    assert.ok(!claim.held);
    assert.deepEqual(events, ['acquired', 'lost: taken over by another node']);
  });

  it('takes a lease whose create landed after it timed out, rather than wait a ttl for it', async () => {
    const { kv, events, lease } = setup();
    kv.loseNextCreateAnswer = true;
    const claim = await lease.acquire();
    assert.ok(claim.held, 'the key names this node: ours');
    assert.deepEqual(events, ['acquired']);
    assert.equal(kv.creates, 1, 'no second create against its own key');
  });

  it('gives the key up when released during a renewal whose answer came late', async () => {
    const { kv, clock, lease } = setup();
    const claim = await lease.acquire();
    kv.holdNextUpdateAnswer = true;
    clock.advance(1000); // a renewal lands; its answer waits
    await settle();
    await claim.release(); // its delete meets the old revision and fails
    assert.equal(kv.holder(), 'n1', 'the renewal moved the revision under the delete');
    kv.answerHeld();
    await settle();
    assert.equal(kv.holder(), undefined, 'given up at the revision the renewal made');
    assert.ok(!lease.held);
  });

  it('never takes a key another process of the same node name holds', async () => {
    const first = setup();
    const second = setup(first.kv); // two processes named n1 on one bucket
    assert.ok((await first.lease.acquire()).held);
    const claim = await second.lease.acquire();
    assert.ok(!claim.held, 'the key was there before: not ours, whatever name it bears');
    assert.deepEqual(second.events, []);
  });

  it('runs the camera when released and claimed again while a renewal was under way', async () => {
    const { kv, clock, events, lease } = setup();
    const first = await lease.acquire();
    kv.holdNextUpdateAnswer = true;
    clock.advance(1000); // a renewal lands; its answer waits
    await settle();
    await first.release(); // its delete meets the moved revision: the key stays ours
    const again = await lease.acquire(); // the camera wanted again before the answer came
    assert.ok(!again.held, 'not known to be held yet');
    kv.answerHeld();
    await settle();
    assert.ok(again.held, 'held by the claim in force');
    assert.deepEqual(events, ['acquired', 'acquired'], 'told, so the camera starts here');
    assert.equal(kv.holder(), 'n1');
  });
});
