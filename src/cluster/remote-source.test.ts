/**
 * A stream's start on a node of a cluster, in-process: two nodes' sources over one in-memory
 * lease bucket (real Leases, real ClusterSources, a fake clock), so the races between a
 * camera's restart on its owner and the other node's wish to take it are played in every order
 * the hub can make them, without a nats-server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KV } from '@nats-io/kv';
import { FakeClock } from '../../support/fake-clock.js';
import { MemoryKv } from '../../support/memory-kv.js';
import type { RunningSource, SourceExit, SourceHandlers } from '../camera/source.js';
import type { Relayed } from './bus-format.js';
import { Lease } from './lease.js';
import { type Channel, ClusterSource, type SourceBus } from './remote-source.js';

const CAMERA = 'door';
const TTL_MS = 3000;

/** A camera's own ffmpeg on a node: running until stopped, and its exit told when it exits. */
class FakeFfmpeg implements RunningSource {
  readonly pid = 1;
  stopping = false;
  exited = false;
  private finish: (() => void) | undefined;

  constructor(
    private readonly handlers: SourceHandlers,
    /** Whether a stop waits for `exit()` (an ffmpeg slow to go) or exits at once. */
    private readonly slowExit: boolean,
  ) {}

  stop(): Promise<void> {
    this.stopping = true;
    const done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    if (!this.slowExit) this.exit();
    return done;
  }

  exit(): void {
    if (this.exited) return;
    this.exited = true;
    this.handlers.onExit({ code: 0, signal: null, lastError: '' });
    this.finish?.();
  }
}

/** One node's part of the bus, as a ClusterSource sees it (cluster.ts is the real one). */
class FakeNode implements SourceBus {
  readonly ffmpegs: FakeFfmpeg[] = [];
  readonly receivers = new Set<(frame: Relayed) => void>();
  /** What the owner answers for its cache; a test may hold the answer back. */
  cache: Promise<Relayed[]> = Promise.resolve([]);
  slowExit = false;
  private readonly leases = new Map<string, Lease>();
  private readonly listeners = new Map<string, { acquired(): void; lost(why: string): void }>();

  constructor(
    readonly name: string,
    private readonly kv: MemoryKv,
    readonly clock: FakeClock,
  ) {}

  lease(id: string): Lease {
    let lease = this.leases.get(id);
    if (!lease) {
      lease = new Lease({
        kv: this.kv as unknown as KV,
        cameraId: id,
        node: this.name,
        ttlMs: TTL_MS,
        clock: this.clock,
        events: {
          onAcquired: () => this.listeners.get(id)?.acquired(),
          onLost: (why) => this.listeners.get(id)?.lost(why),
          onError: (error) => assert.fail(`lease handling failed: ${error}`),
        },
      });
      this.leases.set(id, lease);
    }
    return lease;
  }

  onLeaseChange(id: string, events: { acquired(): void; lost(why: string): void }) {
    this.listeners.set(id, events);
    return () => {
      if (this.listeners.get(id) === events) this.listeners.delete(id);
    };
  }

  receive(_id: string, _channel: Channel, onFrame: (frame: Relayed) => void) {
    this.receivers.add(onFrame);
    return () => this.receivers.delete(onFrame);
  }

  cached(): Promise<Relayed[]> {
    return this.cache;
  }

  /** The camera's start on this node, as the camera makes it (cluster.ts's launcher). */
  start() {
    const exits: SourceExit[] = [];
    const units: Uint8Array[] = [];

    const handlers: SourceHandlers = {
      onStdout: () => {},
      onExit: (exit) => exits.push(exit),
      onPlan: () => {},
      onUnit: (unit) => units.push(unit.data),
    };
    const source = new ClusterSource(this, CAMERA, 'native', handlers, () => {
      const ffmpeg = new FakeFfmpeg(handlers, this.slowExit);
      this.ffmpegs.push(ffmpeg);
      return ffmpeg;
    });
    const begun = source.begin();
    return { source, begun, exits, units };
  }

  /** This node's ffmpeg for the camera that runs and was not asked to stop. */
  running(): number {
    return this.ffmpegs.filter((ffmpeg) => !ffmpeg.exited && !ffmpeg.stopping).length;
  }
}

/** Lets awaited KV calls and promise chains settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function cluster() {
  const kv = new MemoryKv();
  // Far from 0: a receiving source reads "no frame yet" as a frame at time 0.
  const clock = new FakeClock(1_000_000);
  const n1 = new FakeNode('n1', kv, clock);
  const n2 = new FakeNode('n2', kv, clock);
  /** The camera's ffmpeg in the whole cluster, sampled every 100 ms for `ms`. */
  const watch = async (ms: number) => {
    const samples: number[] = [];
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      await settle();
      samples.push(n1.running() + n2.running());
    }
    return samples;
  };
  return { kv, clock, n1, n2, watch };
}

const frame = (seq: number, key = false, from = 'n1 1'): Relayed => ({
  data: Uint8Array.of(seq),
  codec: 'h264',
  key,
  seq,
  pts: seq * 66_667,
  dts: seq * 66_667,
  from,
});

describe('ClusterSource', () => {
  // The camera restarts on its owner while the other node wants it too (it has viewers and
  // takes the owner's frames): a reload that changed it starts the new source before it stops
  // the old one; a viewer who comes as the grace period ends finds the old one stopping, its
  // ffmpeg not yet gone. Either way the old source's release came after the new claim and
  // deleted the key under it: the other node took it and both ran the camera.
  for (const order of ['new source first (reload)', 'old one stopping first (grace end)']) {
    it(`runs the camera once across a restart on its owner: ${order}`, async () => {
      const { kv, n1, n2, watch } = cluster();
      n1.slowExit = order.startsWith('old');
      const first = n1.start();
      await first.begun;
      assert.equal(n1.running(), 1, 'n1 took the free lease and runs the camera');
      const other = n2.start();
      await other.begun;
      assert.equal(n2.running(), 0, 'n2 takes the frames from n1');

      let stopped: Promise<void>;
      let second: ReturnType<FakeNode['start']>;
      if (order.startsWith('new')) {
        second = n1.start();
        await second.begun;
        stopped = first.source.stop();
      } else {
        stopped = first.source.stop();
        await settle();
        second = n1.start();
        await second.begun;
        n1.ffmpegs[0]?.exit();
      }
      await stopped;
      // n2 finds no frame coming (nothing relays in this test), so it tries to take the
      // camera every second: for several lease times, it must never get it.
      const samples = await watch(4 * TTL_MS);
      assert.deepEqual(
        samples.filter((count) => count !== 1),
        [],
        `one ffmpeg in the cluster every 100 ms: ${samples}`,
      );
      assert.equal(n1.running(), 1, 'the new source runs the camera');
      assert.equal(n2.running(), 0);
      assert.ok(kv.creates > 4, `n2 kept trying to take the camera (${kv.creates} creates)`);
      assert.deepEqual(kv.history, ['PUT n1', ...kv.history.slice(1).map(() => 'PUT n1')]);
      assert.deepEqual(second.exits, [], 'the new source goes on');
      assert.deepEqual(other.exits, [], "n2's source goes on receiving");
    });
  }

  it('gives the camera up once it is not wanted, and the other node takes it', async () => {
    const { kv, n1, n2, watch } = cluster();
    const first = n1.start();
    await first.begun;
    const other = n2.start();
    await other.begun;
    await first.source.stop();
    assert.deepEqual(kv.history, ['PUT n1', 'DEL']);
    await watch(1500);
    assert.deepEqual(kv.history, ['PUT n1', 'DEL', 'PUT n2']);
    assert.equal(other.exits[0]?.lastError, 'this node took the camera over');
    assert.equal(other.exits[0]?.handover, true, 'a handover: the camera starts again at once');
  });

  it('hands on the cache, then the live units that came meanwhile, each once and in order', async () => {
    const { kv, n2 } = cluster();
    kv.steal('n1');
    let answer: (frames: Relayed[]) => void = () => {};
    n2.cache = new Promise((resolve) => {
      answer = resolve;
    });
    const started = n2.start();
    await settle();
    const live = [...n2.receivers];
    assert.equal(live.length, 1, 'listening to the live units while the cache is asked for');
    for (const each of live) for (const seq of [5, 6, 7]) each(frame(seq));
    assert.deepEqual(started.units, [], 'live units wait for the cache');
    answer([frame(3, true), frame(4), frame(5)]);
    await started.begun;
    for (const each of live) {
      each(frame(9)); // after a gap: a delta would decode to garbage
      each(frame(10, true));
      each(frame(11));
    }
    assert.deepEqual(
      started.units.map((unit) => unit[0]),
      [3, 4, 5, 6, 7, 10, 11],
    );
  });

  it('leaves a live owner alone, and takes the camera soon after its frames stop', async () => {
    const { kv, clock, n2 } = cluster();
    kv.steal('n1');
    const started = n2.start();
    await started.begun;
    const tries = kv.creates;
    for (let i = 0; i < 50; i++) {
      for (const each of n2.receivers) each(frame(i, i === 0));
      clock.advance(100);
      await settle();
    }
    assert.equal(kv.creates, tries, 'no KV writes while the owner is visibly alive');
    kv.expire(); // the owner died: its key reaches its age
    for (let t = 0; t < 2000 && started.exits.length === 0; t += 50) {
      clock.advance(50);
      await settle();
    }
    assert.equal(kv.holder(), 'n2');
    assert.equal(started.exits[0]?.lastError, 'this node took the camera over');
  });

  it("takes only the holder's frames as proof that it lives, not a stray publisher's", async () => {
    const { kv, clock, n2 } = cluster();
    kv.steal('n1');
    const started = n2.start();
    await started.begun;
    kv.expire(); // n1 died; another deployment on the same NATS account goes on publishing
    for (let i = 0; i < 40 && started.exits.length === 0; i++) {
      for (const each of n2.receivers) each(frame(i, i === 0, 'staging-n1 7'));
      clock.advance(100);
      await settle();
    }
    assert.equal(kv.holder(), 'n2', 'the camera moved to a live node');
    assert.equal(started.exits[0]?.lastError, 'this node took the camera over');
  });
});
