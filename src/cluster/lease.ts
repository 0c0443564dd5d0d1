/**
 * Who runs a camera in a cluster: a lease in a NATS KV bucket of its own, whose `ttl` (JetStream
 * max_age) is the lease time. nats-server 2.9 has no per-key TTL (the 3.x client accepts one on
 * `create` and the key then never expires), so only the bucket's ttl bounds a lease, and an
 * expiry raises no watch event. Hence:
 * - a node that wants the camera tries `create` (fails while someone holds it), and tries again
 *   every ttl/3 while it still wants it;
 * - the holder renews with `update(key, node, revision)` every ttl/3, each write restarting the
 *   key's age; an update that fails because the revision moved means someone else holds it now;
 * - a holder that could not renew for a whole ttl (NATS unreachable) gives the camera up itself,
 *   because by then the key may have expired and another node may have taken it.
 * So two nodes run one camera at once for at most about one ttl, and only across a partition.
 */
import type { KV } from '@nats-io/kv';
import type { Clock } from '../common/clock.js';
import { encodeName } from './names.js';

/** Longest wait between attempts to take a lease held by another node. */
const RETRY_MS = 1000;

export interface LeaseEvents {
  /** The lease is ours: start the camera. */
  onAcquired(): void;
  /** The lease is lost (taken over, or not renewed for a whole ttl): stop the camera now. */
  onLost(reason: string): void;
  /** Something thrown while acting on the lease (a bug of ours): it is not let escape. */
  onError?(error: unknown): void;
}

/**
 * One source's wish to run the camera. A camera restarted on this node (a reload changed it,
 * or a viewer came as the grace period ended) makes a new claim before the old source has
 * stopped: only the claim in force may release the lease, so the old source's late release
 * cannot take the lease from under the new one while its ffmpeg goes on.
 */
export interface Claim {
  /** This node holds the lease, and this claim is the one in force. */
  readonly held: boolean;
  /** The source no longer wants the camera: gives the lease up, unless a newer claim has it. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  kv: KV;
  cameraId: string;
  node: string;
  ttlMs: number;
  clock: Clock;
  events: LeaseEvents;
}

export class Lease {
  private readonly options: LeaseOptions;
  private readonly key: string;
  private revision: number | undefined;
  private timer: unknown;
  /** Fires when a whole ttl passed since the last write that succeeded was sent. */
  private deadline: unknown;
  private wanted = false;
  private busy = false;
  /** While another node holds the lease and its frames come, there is no point in asking. */
  private holderAlive = false;
  /** The claim in force: the only one that may release the lease. */
  private claim: Claim | undefined;
  /** Releases so far: a renewal that was under way across one finds it changed. */
  private releases = 0;

  constructor(options: LeaseOptions) {
    this.options = options;
    this.key = encodeName(options.cameraId);
  }

  /**
   * The node that held the lease when this node last tried to take it and could not (its
   * frames are the ones that prove it alive); undefined before, or when the key was not read.
   */
  holder: string | undefined;

  /** Whether this node holds the lease now. */
  get held(): boolean {
    return this.revision !== undefined;
  }

  /**
   * A claim on the camera: takes the lease when free, and keeps trying while claimed (resolves
   * after the first attempt, so the claim's `held` then tells whether this node runs the
   * camera). A new claim replaces the one in force, which then holds nothing.
   */
  async acquire(): Promise<Claim> {
    const lease = this;
    const claim: Claim = {
      get held() {
        return lease.claim === claim && lease.held;
      },
      release: () => (this.claim === claim ? this.release() : Promise.resolve()),
    };
    this.claim = claim;
    if (!this.wanted) {
      this.wanted = true;
      await this.tick();
    }
    return claim;
  }

  /**
   * Whether the node holding the lease is visibly alive (its frames come): then this node does
   * not try to take it, so a cluster's steady state costs no KV writes; when they stop, it
   * tries again at once and every second.
   */
  setHolderAlive(alive: boolean): void {
    if (alive === this.holderAlive) return;
    this.holderAlive = alive;
    if (this.revision !== undefined) return; // ours: renewals go on whatever others see
    if (alive) {
      this.options.clock.clearTimeout(this.timer); // no attempt due while its frames come
      this.timer = undefined;
    } else if (this.wanted && !this.busy) {
      this.tickSoon();
    }
  }

  /**
   * No longer wants the camera, whatever claims it (the node leaves the cluster): stops trying,
   * and gives the lease up (deleting the key) if held.
   */
  async release(): Promise<void> {
    this.releases++;
    this.claim = undefined;
    this.wanted = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.options.clock.clearTimeout(this.deadline);
    const revision = this.revision;
    if (revision === undefined) return;
    this.revision = undefined;
    try {
      await this.options.kv.delete(this.key, { previousSeq: revision });
    } catch {
      // taken over meanwhile, or NATS is down: the key expires by itself
    }
  }

  /** The node holding camera `cameraId`'s lease now, if any (for state and /api/cameras). */
  static async holder(kv: KV, cameraId: string): Promise<string | undefined> {
    const entry = await kv.get(encodeName(cameraId));
    return entry && entry.operation === 'PUT' ? entry.string() : undefined;
  }

  private schedule(): void {
    this.options.clock.clearTimeout(this.timer);
    if (!this.wanted) return;
    // Renew every ttl/3; while another node holds it, try again more often, so a camera whose
    // owner died moves soon after its key expires.
    const { ttlMs } = this.options;
    if (this.revision === undefined && this.holderAlive) return; // setHolderAlive(false) wakes it
    const ms = this.revision === undefined ? Math.min(ttlMs / 3, RETRY_MS) : ttlMs / 3;
    this.timer = this.options.clock.setTimeout(() => this.tickSoon(), ms);
  }

  /** A tick whose failure is reported, never left unhandled. */
  private tickSoon(): void {
    this.tick().catch((error: unknown) => this.options.events.onError?.(error));
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (this.revision === undefined) await this.tryAcquire();
      else await this.renew();
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  private async tryAcquire(): Promise<void> {
    const { kv, node, clock } = this.options;
    const sentAt = clock.now();
    try {
      this.revision = await kv.create(this.key, node);
    } catch (error) {
      // Held by another node (or NATS is down): try again later, knowing whose frames to await.
      const entry = await kv.get(this.key).catch(() => null);
      this.holder = entry?.operation === 'PUT' ? entry.string() : undefined;
      // A create that timed out here may have landed: then the key names this node, and it is
      // ours. Only then: a key that was there before ours ("wrong last sequence") is another
      // holder's, even one with this node's name (two processes named alike).
      if (isConflict(error) || entry?.operation !== 'PUT' || this.holder !== node) return;
      this.revision = entry.revision;
    }
    this.holder = node;
    this.armDeadline(sentAt);
    if (!this.wanted) {
      await this.release();
      return;
    }
    this.options.events.onAcquired();
  }

  private async renew(): Promise<void> {
    const { kv, node, clock, ttlMs } = this.options;
    const revision = this.revision;
    if (revision === undefined) return;
    const sentAt = clock.now();
    const releases = this.releases;
    try {
      this.revision = await kv.update(this.key, node, revision, ttlMs / 3);
      if (!this.wanted) {
        // Released while the renewal was under way (its delete met the old revision): give up
        // the key at the revision the renewal made, or it would stay ours for a ttl, unused.
        await this.release();
        return;
      }
      this.armDeadline(sentAt);
      // Released and claimed again while it was under way: the new claim found the lease not
      // held and runs nothing; it is held now, so say so (the camera starts here).
      if (this.releases !== releases) this.options.events.onAcquired();
    } catch (error) {
      // Anything but a moved revision (NATS unreachable or slow) keeps the camera until the
      // deadline.
      if (!isConflict(error)) return;
      // The revision moved. Our own earlier renewal may have landed after it timed out here:
      // if the key names this node, it is still ours, at its new revision.
      const entry = await kv.get(this.key).catch(() => null);
      if (entry?.operation === 'PUT' && entry.string() === node && this.revision === revision) {
        this.revision = entry.revision;
        this.armDeadline(sentAt);
        return;
      }
      this.lose('taken over by another node');
    }
  }

  /**
   * The lease ends a ttl after a write of ours was sent (the server stamped it later, so its
   * key cannot expire earlier): unless renewed by then, stop the camera.
   */
  private armDeadline(sentAt: number): void {
    const { clock, ttlMs } = this.options;
    clock.clearTimeout(this.deadline);
    this.deadline = clock.setTimeout(
      () => {
        if (this.revision === undefined) return;
        this.lose(`could not renew the lease for ${ttlMs / 1000} s`);
      },
      Math.max(0, sentAt + ttlMs - clock.now()),
    );
  }

  private lose(reason: string): void {
    this.revision = undefined;
    this.options.clock.clearTimeout(this.deadline);
    this.options.events.onLost(reason);
  }
}

/** JetStream's answer when the key's revision is not the one a write expected. */
function isConflict(error: unknown): boolean {
  return /wrong last sequence/i.test((error as Error)?.message ?? String(error));
}
