/**
 * camplex nodes sharing cameras over NATS. Every node has every camera in its hub; what differs
 * is where a running camera's frames come from:
 * - the node that holds the camera's lease (lease.ts) runs its ffmpeg, as a single camplex does;
 * - every other node that has viewers for it receives the owner's frames from NATS instead: it
 *   asks the owner for the units since the last key unit (request/reply, so a first viewer
 *   paints at once), then takes each unit from the camera's media subject, and tells the owner
 *   every second that it still wants them (interest). A gap in the sequence numbers means the
 *   units wait for the next key unit, never a delta after a gap.
 * The owner publishes a stream's frames only while some node shows interest, through a viewer of
 * its own hub (so the hub keeps the camera running for remote viewers, with the grace period
 * after the last one). Media goes over a connection of its own, so a slow-consumer disconnect
 * cannot cost a node its lease renewals. A remote node that wins the lease (the owner died or
 * gave the camera up) restarts the camera and runs its ffmpeg itself.
 *
 * This file is the node's part of the bus: connections, ownership (a lease per camera, taken by
 * claim, lease.ts), interest and the key-unit cache's answers. What goes on the wire is in
 * bus-format.ts, the owner's publishing viewer in relay.ts, a stream's start on a node in
 * remote-source.ts, camera states in state-gossip.ts, shared sign-in sessions in
 * shared-sessions.ts, camera moves in ptz-relay.ts.
 */

import { readFileSync } from 'node:fs';
import { type KV, Kvm } from '@nats-io/kv';
import {
  connect,
  credsAuthenticator,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import type { LoginSessions } from '../access/login-sessions.js';
import type { CameraInfo, CameraOptions, Codec } from '../camera/camera.js';
import { ownCopy } from '../camera/frame.js';
import type { SourceHandlers } from '../camera/source.js';
import { type Clock, every } from '../common/clock.js';
import type { Log } from '../common/log.js';
import { AUDIO_CODECS } from '../frames/codecs.js';
import type { Hub } from '../hub/hub.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import {
  CacheStream,
  MAX_UNIT_BYTES,
  type Relayed,
  respondWithFrames,
  UnitAssembler,
} from './bus-format.js';
import { Lease } from './lease.js';
import { decodeName, encodeName } from './names.js';
import { PtzRelay } from './ptz-relay.js';
import { PublishWindow } from './publish-window.js';
import { RelayViewer } from './relay.js';
import { type Channel, ClusterSource, type SourceBus } from './remote-source.js';
import { shareSessions } from './shared-sessions.js';
import { STATE, StateGossip } from './state-gossip.js';

export interface ClusterConfig {
  nats: string;
  node: string;
  leaseMs: number;
  /** One way to sign in to NATS (the config checks there is at most one). */
  user?: string;
  password?: string;
  token?: string;
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** How a node signs in to NATS and checks it: the client's options for `config`. */
function signIn(config: ClusterConfig) {
  return {
    ...(config.user !== undefined ? { user: config.user, pass: config.password } : {}),
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(config.credsFile !== undefined
      ? {
          authenticator: credsAuthenticator(
            () => new Uint8Array(readFileSync(config.credsFile ?? '')),
          ),
        }
      : {}),
    ...(config.tls ? { tls: config.tls } : {}),
  };
}

const BUCKET = 'camplex_owners';
const MEDIA: Record<Channel, string> = { native: 'camplex.media', jpeg: 'camplex.jpeg' };
const INTEREST = 'camplex.interest';
const CACHE = 'camplex.cache';
/** A remote node says it still wants a stream this often; the owner forgets it after 3x. */
const INTEREST_EVERY_MS = 1000;
const INTEREST_FORGET_MS = 3 * INTEREST_EVERY_MS;
/** How long a node waits for an owner's cache, and how long an owner goes on answering. */
const CACHE_TIMEOUT_MS = 2000;
/**
 * A cache reply waits for room in the publish window this many confirmations at most (one
 * round trip to nats-server each): a long GOP goes in turns, well inside the asker's wait.
 */
const CACHE_WINDOW_ROUNDS = 32;
/**
 * The most a node takes of one cache reply: the largest cache an owner keeps (4 units of 64
 * MiB), with room for each unit's framing.
 */
const MAX_CACHE_BYTES = 4 * MAX_UNIT_BYTES + 16 * 1024 * 1024;
/** Cache answers one stream's owner gives at once; more askers get only the end. */
const CACHE_ANSWERS_PER_CAMERA = 4;
/** nats-server's default max_payload, when the server has not said. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/**
 * Bytes the media connection may have out that nats-server has not confirmed (relayed units and
 * cache replies): about half a second of 32 cameras at 4 Mbit/s, far more than a LAN's round
 * trip needs.
 */
const RELAY_WINDOW_BYTES = 8 * 1024 * 1024;
/** Between attempts to reach NATS at start. */
const CONNECT_RETRY_MS = 2000;
/** Formats the owner's relay viewer asks the hub for: whatever the camera sends. */
const FORMATS: Record<Channel, readonly Codec[]> = {
  native: ['h264', 'h265', 'jpeg', ...AUDIO_CODECS],
  jpeg: ['jpeg'],
};

export class Cluster implements SourceBus {
  readonly node: string;
  /**
   * This node's name and start time: sequence numbers are a node's own frame counters, so a
   * receiver starts counting afresh (from a key unit) when the publisher changes.
   */
  readonly publisher: string;
  private readonly config: ClusterConfig;
  private readonly control: NatsConnection;
  private readonly media: NatsConnection;
  private readonly kv: KV;
  readonly clock: Clock;
  private readonly log: Log;
  private readonly leases = new Map<string, Lease>();
  /** What happens when a lease changes hands here: set by the stream's launch. */
  private readonly leaseEvents = new Map<string, { acquired(): void; lost(why: string): void }>();
  private hub: Hub | undefined;
  private readonly relays: Record<Channel, RelayViewer>;
  /** What the media connection has out that nats-server has not confirmed (relay and cache). */
  private readonly window: PublishWindow;
  /** Cache answers under way, per stream. */
  private readonly answering = new Map<string, number>();
  /** `<channel> <stream>` remote nodes want from this node, and when they last said so. */
  private readonly interest = new Map<string, number>();
  private readonly subscriptions: Subscription[] = [];
  private stopSweep: (() => void) | undefined;
  /** What this node tells of the streams it runs, and hears of the others' (state-gossip.ts). */
  private readonly gossip: StateGossip;

  /** Connects to NATS (retrying until it answers, saying so in the log) and opens the leases. */
  static async connect(config: ClusterConfig, clock: Clock, log: Log): Promise<Cluster> {
    const open = async (purpose: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await connect({
            servers: config.nats,
            ...signIn(config),
            name: `camplex ${config.node} ${purpose}`,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
          });
        } catch (error) {
          log.error(
            { nats: config.nats, attempt },
            `cannot reach NATS at ${config.nats} (${(error as Error).message}): retrying in ${CONNECT_RETRY_MS / 1000} s`,
          );
          // A timer that keeps the process alive (the clock's do not): nothing else runs yet.
          await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
        }
      }
    };
    const control = await open('control');
    const media = await open('media');
    const kv = await new Kvm(control).create(BUCKET, { ttl: config.leaseMs, history: 1 });
    log.info({ nats: config.nats, node: config.node }, 'joined the cluster');
    return new Cluster(config, control, media, kv, clock, log);
  }

  private constructor(
    config: ClusterConfig,
    control: NatsConnection,
    media: NatsConnection,
    kv: KV,
    clock: Clock,
    log: Log,
  ) {
    this.config = config;
    this.node = config.node;
    this.publisher = `${config.node} ${Date.now()}`;
    this.control = control;
    this.media = media;
    this.kv = kv;
    this.clock = clock;
    this.log = log.child({ component: 'cluster', node: config.node });
    // One window for both channels and the cache's replies: they share the media connection.
    this.window = new PublishWindow(media, RELAY_WINDOW_BYTES);
    this.relays = {
      native: new RelayViewer(media, this.window, this.log, MEDIA.native, this.publisher),
      jpeg: new RelayViewer(media, this.window, this.log, MEDIA.jpeg, this.publisher),
    };
    this.gossip = new StateGossip({
      node: this.node,
      clock,
      runs: (id) => this.leases.get(id)?.held === true,
      running: () => [...this.leases].filter(([, lease]) => lease.held).map(([id]) => id),
      publish: (subject, data, owner) => {
        const h = headers();
        h.set('owner', owner);
        this.publishControl(subject, data, { headers: h });
      },
    });
  }

  /**
   * How stream `id` starts on this node: its own ffmpeg (`local`) while this node holds the
   * lease, else the owner's frames from NATS.
   */
  launcher(id: string, local: CameraOptions['launch']): CameraOptions['launch'] {
    return (handlers, attempt) => {
      const start = () => local(handlers, attempt);
      return this.begin(new ClusterSource(this, id, 'native', handlers, start), handlers);
    };
  }

  /**
   * How stream `id`'s JPEG transcoder starts on this node: its own (`local`) on the owner; on
   * any other node, the owner's JPEGs from NATS (it never takes the lease for it).
   */
  transcoderLauncher(id: string, local: CameraOptions['launch']): CameraOptions['launch'] {
    return (handlers, attempt) => {
      const start = () => local(handlers, attempt);
      return this.begin(new ClusterSource(this, id, 'jpeg', handlers, start), handlers);
    };
  }

  /** Begins `source`; if that fails (NATS gone), the camera sees an exit and retries. */
  private begin(source: ClusterSource, handlers: SourceHandlers): ClusterSource {
    source.begin().catch((error: unknown) => {
      handlers.onExit({
        code: null,
        signal: null,
        lastError: `cluster: ${(error as Error).message}`,
      });
    });
    return source;
  }

  /** Publishes on the control connection; a closed connection is logged, never thrown. */
  private publishControl(
    subject: string,
    data?: string,
    options?: { headers: ReturnType<typeof headers> },
  ): void {
    try {
      this.control.publish(subject, data, options);
    } catch (error) {
      this.log.debug({ err: (error as Error).message, subject }, 'NATS publish failed');
    }
  }

  /** Serves the hub's streams to other nodes: interest, the relay viewer and the key cache. */
  attach(hub: Hub): void {
    this.hub = hub;
    const interest = this.control.subscribe(`${INTEREST}.*.*`, {
      callback: this.guarded('interest', (msg) => {
        const [channel, name] = msg.subject.slice(INTEREST.length + 1).split('.');
        if ((channel !== 'native' && channel !== 'jpeg') || name === undefined) return;
        const id = decodeName(name);
        if (!this.leases.get(id)?.held) return; // only the owner serves a stream
        const key = `${channel} ${id}`;
        const known = this.interest.has(key);
        this.interest.set(key, this.clock.now());
        if (!known) hub.subscribe(this.relays[channel], [id], FORMATS[channel]);
      }),
    });
    const cache = this.media.subscribe(`${CACHE}.*`, {
      callback: this.guarded('key-unit cache', (msg) => {
        const id = decodeName(msg.subject.slice(CACHE.length + 1));
        const camera = hub.camera(id);
        if (!camera || !this.leases.get(id)?.held) return; // someone else answers
        const maxPayload = this.media.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
        // At most CACHE_ANSWERS_PER_CAMERA answers at once, each until the asker stops waiting:
        // a flood of requests gets only ends, and nothing waits on a window that never frees.
        const answering = this.answering.get(id) ?? 0;
        if (answering >= CACHE_ANSWERS_PER_CAMERA) {
          msg.respond(new Uint8Array(0));
          return;
        }
        this.answering.set(id, answering + 1);
        const until = this.clock.now() + CACHE_TIMEOUT_MS;
        const room = async (bytes: number) =>
          this.clock.now() < until &&
          (await this.window.whenRoom(bytes, CACHE_WINDOW_ROUNDS)) &&
          this.clock.now() < until;
        // Copies: the answer goes out as the bus has room, and a cached frame's bytes hold only
        // until the camera's next key frame.
        respondWithFrames(msg, camera.sinceKey.map(ownCopy), this.publisher, maxPayload, room)
          .then(
            (sent) => this.log.debug({ camera: id, ...sent, maxPayload }, 'key-unit cache sent'),
            (error: unknown) =>
              this.log.debug(
                { camera: id, err: (error as Error).message },
                'key-unit cache failed',
              ),
          )
          .finally(() => {
            const left = (this.answering.get(id) ?? 1) - 1;
            if (left > 0) this.answering.set(id, left);
            else this.answering.delete(id);
          });
      }),
    });
    const states = this.control.subscribe(`${STATE}.*`, {
      callback: this.guarded('state', (msg) =>
        this.gossip.onMessage(msg.subject, msg.data, msg.headers?.get('owner')),
      ),
    });
    this.subscriptions.push(interest, cache, states);
    this.gossip.attach({
      info: (id) => hub.camera(id)?.info(),
      announce: (id) => hub.announce(id),
    });
    this.stopSweep = every(this.clock, INTEREST_EVERY_MS, () => {
      this.forgetQuietInterest();
      this.gossip.sweep();
    });
  }

  /** What this node tells its viewers of a stream (state-gossip.ts). */
  describe(info: CameraInfo): CameraInfo {
    return this.gossip.describe(info);
  }

  /** A state change here (the hub's onState): every node hears of a stream this node runs. */
  onLocalState(info: CameraInfo): void {
    this.gossip.onLocalState(info);
  }

  /**
   * Shares this node's sign-in sessions with the others, and takes in theirs
   * (shared-sessions.ts).
   */
  shareSessions(logins: LoginSessions, ttlMs: number): Promise<void> {
    return shareSessions(this.control, logins, ttlMs, this.log);
  }

  /**
   * Camera moves in the cluster: each goes to the node running the camera (ptz-relay.ts), or
   * to `local` when that is this node or no node runs it.
   */
  ptz(local: PtzControl): PtzControl {
    const decoder = new TextDecoder();
    return new PtzRelay(
      {
        node: this.node,
        ownerOf: (id) => this.gossip.ownerOf(id),
        publish: (subject, data) => this.publishControl(subject, data),
        listen: (subject, what, handle) => {
          this.subscriptions.push(
            this.control.subscribe(subject, {
              callback: this.guarded(what, (msg) => handle(decoder.decode(msg.data))),
            }),
          );
        },
      },
      local,
      this.log,
    );
  }

  /** The node holding stream `id`'s lease, if any. */
  owner(id: string): Promise<string | undefined> {
    return Lease.holder(this.kv, id);
  }

  async close(): Promise<void> {
    this.stopSweep?.();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all([...this.leases.values()].map((lease) => lease.release()));
    await Promise.all([this.media.drain(), this.control.drain()].map((p) => p.catch(() => {})));
  }

  /** Stream `id`'s lease on this node (one per stream, kept for the node's life). */
  lease(id: string): Lease {
    let lease = this.leases.get(id);
    if (!lease) {
      lease = new Lease({
        kv: this.kv,
        cameraId: id,
        node: this.node,
        ttlMs: this.config.leaseMs,
        clock: this.clock,
        events: {
          onAcquired: () => {
            this.log.info({ camera: id }, 'this node runs the camera now');
            this.leaseEvents.get(id)?.acquired();
          },
          onLost: (reason) => {
            this.log.warn({ camera: id, reason }, 'lost the camera');
            this.stopRelaying(id);
            this.leaseEvents.get(id)?.lost(reason);
          },
          onError: (error) => {
            this.log.error({ camera: id, err: (error as Error).message }, 'lease handling failed');
          },
        },
      });
      this.leases.set(id, lease);
    }
    return lease;
  }

  /** Tells stream `id`'s lease changes to `events` (the current launch of the stream). */
  onLeaseChange(id: string, events: { acquired(): void; lost(why: string): void }): () => void {
    this.leaseEvents.set(id, events);
    return () => {
      if (this.leaseEvents.get(id) === events) this.leaseEvents.delete(id);
    };
  }

  /** Takes frames of stream `id` from its owner until the returned function is called. */
  receive(id: string, channel: Channel, onFrame: (frame: Relayed) => void) {
    const name = encodeName(id);
    const pieces = new UnitAssembler();
    const subscription = this.media.subscribe(`${MEDIA[channel]}.${name}`, {
      callback: this.guarded('relay', (msg) => {
        const frame = pieces.take(msg);
        if (frame) onFrame(frame);
      }),
    });
    const say = () => this.publishControl(`${INTEREST}.${channel}.${name}`);
    say();
    const stopSaying = every(this.clock, INTEREST_EVERY_MS, say);
    return () => {
      stopSaying();
      subscription.unsubscribe();
    };
  }

  /**
   * The owner's frames of stream `id` since its last key frame (empty when it has none). They
   * come as several replies, each under the connection's max_payload, in order, ended by an
   * empty one: a 10 s GOP is far larger than one NATS message may be.
   */
  async cached(id: string): Promise<Relayed[]> {
    const stream = new CacheStream(MAX_CACHE_BYTES);
    try {
      const replies = await this.media.requestMany(`${CACHE}.${encodeName(id)}`, undefined, {
        strategy: 'sentinel',
        maxWait: CACHE_TIMEOUT_MS,
      });
      for await (const reply of replies) {
        if (reply.data.length === 0 || !stream.take(reply)) break;
      }
    } catch {
      // no owner yet, or it is busy: what came (a prefix from the key unit on) or the next key
    }
    return stream.frames();
  }

  /**
   * A subscription callback that cannot throw: nats.js calls callbacks without a try/catch,
   * and one that throws stops that connection's reading for good while keeping it open.
   */
  private guarded(what: string, handle: (msg: Msg) => void) {
    return (error: Error | null, msg: Msg) => {
      if (error) {
        this.log.warn({ err: error.message, subscription: what }, 'NATS subscription error');
        return;
      }
      try {
        handle(msg);
      } catch (thrown) {
        this.log.error(
          { err: thrown, subscription: what, subject: msg.subject },
          'NATS message handling failed',
        );
      }
    };
  }

  /** Stops relaying stream `id` on `channel` (both when none is given). */
  private stopRelaying(id: string, channel?: Channel): void {
    for (const each of channel ? [channel] : (['native', 'jpeg'] as const)) {
      if (this.interest.delete(`${each} ${id}`)) this.hub?.unsubscribe(this.relays[each], [id]);
    }
  }

  private forgetQuietInterest(): void {
    const now = this.clock.now();
    for (const [key, at] of this.interest) {
      if (now - at <= INTEREST_FORGET_MS) continue;
      const [channel, ...id] = key.split(' ');
      this.stopRelaying(id.join(' '), channel as Channel);
    }
  }
}
