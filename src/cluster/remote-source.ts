/**
 * One stream's start on a node of a cluster: it claims the camera's lease; holding it, it runs
 * the camera's own ffmpeg, else it takes the owner's units from the bus (the cache since the
 * last key unit first, in order against the live ones) and tells the lease whether the owner
 * is visibly alive. A lease won or lost while it runs ends it as a handover: the camera starts
 * again at once and decides anew.
 */
import type { AudioCodec, Codec } from '../camera/camera.js';
import type { RunningSource, SourceHandlers } from '../camera/source.js';
import { type Clock, every } from '../common/clock.js';
import { isAudio } from '../frames/codecs.js';
import type { Relayed } from './bus-format.js';
import type { Claim, Lease } from './lease.js';
import { RelayedSequence } from './sequence.js';

/**
 * What a node can take of a stream from its owner: the camera's own units (`native`), or the
 * JPEGs of the owner's transcoder (`jpeg`, for viewers that decode no video: transcoding runs
 * on the owner only).
 */
export type Channel = 'native' | 'jpeg';

/** No unit from the owner for this long and a receiving node tries to take the camera. */
export const OWNER_QUIET_MS = 1000;

/** What a cluster source needs of its node's cluster. */
export interface SourceBus {
  /** The node's clock: every timer of a source runs on it. */
  readonly clock: Clock;
  /** Stream `id`'s lease on this node. */
  lease(id: string): Lease;
  /** Told when this node wins or loses stream `id`'s lease; returns the undo. */
  onLeaseChange(id: string, events: { acquired(): void; lost(why: string): void }): () => void;
  /** Takes the owner's units of stream `id` on `channel` until the returned function is called. */
  receive(id: string, channel: Channel, onFrame: (frame: Relayed) => void): () => void;
  /** The owner's units of stream `id` since its last key unit. */
  cached(id: string): Promise<Relayed[]>;
}

/** One stream's start on a node: the owner's ffmpeg, or the owner's frames over NATS. */
export class ClusterSource implements RunningSource {
  private readonly cluster: SourceBus;
  private readonly id: string;
  private readonly channel: Channel;
  private readonly handlers: SourceHandlers;
  private readonly startLocal: () => RunningSource;
  private local: RunningSource | undefined;
  /** This source's claim on the camera (the native channel only). */
  private claim: Claim | undefined;
  private stopReceiving: (() => void) | undefined;
  private unlisten: (() => void) | undefined;
  private stopped = false;
  private ended = false;

  constructor(
    cluster: SourceBus,
    id: string,
    channel: Channel,
    handlers: SourceHandlers,
    startLocal: () => RunningSource,
  ) {
    this.cluster = cluster;
    this.id = id;
    this.channel = channel;
    this.handlers = handlers;
    this.startLocal = startLocal;
  }

  get pid(): number | undefined {
    return this.local?.pid;
  }

  async begin(): Promise<void> {
    const lease = this.cluster.lease(this.id);
    if (this.channel === 'native') {
      // The camera itself: it takes the lease when free, and follows the lease's changes.
      let deciding = true;
      this.unlisten = this.cluster.onLeaseChange(this.id, {
        // Won while taking frames from another owner: start again, as the owner.
        acquired: () => {
          if (!deciding && !this.local) this.end('this node took the camera over');
        },
        lost: (why) => {
          // Its exit ends this source (onExit); a stop that fails has nothing left to undo.
          if (this.local) this.local.stop().catch(() => {});
          else this.end(why);
        },
      });
      // Renews while held; keeps trying while another node holds it.
      this.claim = await lease.acquire();
      deciding = false;
    }
    if (this.stopped) return;
    if (this.claim ? this.claim.held : lease.held) {
      this.local = this.startLocal();
      return;
    }
    await this.receive();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    this.stopReceiving?.();
    await this.local?.stop();
    // The camera is not wanted here any more: give the lease up, or stop trying to take it,
    // unless a newer source of it here has claimed it meanwhile.
    await this.claim?.release();
  }

  private async receive(): Promise<void> {
    const order = new RelayedSequence();
    let pictures: Codec | undefined;
    let sound: AudioCodec | undefined;
    const take = (frame: Relayed) => {
      if (this.stopped || this.ended || !order.accept(frame)) return;
      const audio = isAudio(frame.codec);
      if (audio ? sound !== frame.codec && frame.audio : pictures !== frame.codec) {
        if (audio) sound = frame.codec as AudioCodec;
        else pictures = frame.codec;
        if (pictures === undefined) return; // the plan is made with the first picture
        this.handlers.onPlan({
          output: pictures === 'jpeg' ? 'mpjpeg' : (pictures as 'h264' | 'h265'),
          copyJpeg: true,
          ...(sound ? { audio: sound } : {}),
        });
      }
      if (pictures === undefined) return;
      this.handlers.onUnit(frame);
    };
    // The owner is alive while its units come: only when they stop does this node try to take
    // the camera over (see Lease.setHolderAlive). Not for the JPEG channel: it never takes it.
    let lastFrameAt = 0;
    const lease = this.cluster.lease(this.id);
    if (this.channel === 'native') {
      const { clock } = this.cluster;
      const stopWatching = every(clock, OWNER_QUIET_MS / 4, () => {
        if (this.stopped || this.ended) {
          stopWatching();
          lease.setHolderAlive(false);
          return;
        }
        lease.setHolderAlive(clock.now() - lastFrameAt < OWNER_QUIET_MS);
      });
    }
    // Live units wait while the cache is asked for; older ones are dropped by sequence number.
    const early: Relayed[] = [];
    let caching = this.channel === 'native';
    this.stopReceiving = this.cluster.receive(this.id, this.channel, (frame) => {
      // Only the holder's frames prove it alive: a stray publisher on the same subject (a
      // second deployment on one NATS account) must not keep a dead owner's camera from moving.
      const holder = lease.holder;
      if (holder === undefined || publisherNode(frame.from) === holder) {
        lastFrameAt = this.cluster.clock.now();
      }
      if (caching) early.push(frame);
      else take(frame);
    });
    if (!caching) return;
    const cached = await this.cluster.cached(this.id);
    for (const frame of cached) take(frame);
    caching = false;
    for (const frame of early) take(frame);
  }

  /** Ends this start as a handover: the camera starts again at once (and decides anew). */
  private end(why: string): void {
    if (this.ended || this.stopped) return;
    this.ended = true;
    this.unlisten?.();
    this.stopReceiving?.();
    this.handlers.onExit({ code: null, signal: null, lastError: why, handover: true });
  }
}

/** The node of a publisher (`<node> <start>`, cluster.ts). */
function publisherNode(from: string): string {
  const space = from.lastIndexOf(' ');
  return space < 0 ? from : from.slice(0, space);
}
