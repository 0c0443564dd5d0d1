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
import type { Camera, CameraInfo, CameraOptions, Codec, Frame } from '../camera/camera.js';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';
import type { FfmpegProcess } from '../ffmpeg/process.js';
import type { SourceHandlers } from '../ffmpeg/source.js';
import type { Hub, Viewer } from '../hub/hub.js';
import { type Claim, Lease } from './lease.js';
import { decodeName, encodeName } from './names.js';
import { RelayedSequence } from './sequence.js';

/** A frame as another node relayed it; `from` names the publisher (node and start). */
interface Relayed {
  data: Uint8Array;
  codec: Codec;
  key: boolean;
  seq: number;
  from: string;
}

interface StoredSessionValue {
  user: unknown;
  expiresAt: unknown;
}

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
/**
 * What a node can take of a stream from its owner: the camera's own units (`native`), or the
 * JPEGs of the owner's transcoder (`jpeg`, for viewers that decode no video: transcoding runs
 * on the owner only).
 */
type Channel = 'native' | 'jpeg';
const MEDIA: Record<Channel, string> = { native: 'camplex.media', jpeg: 'camplex.jpeg' };
const INTEREST = 'camplex.interest';
const CACHE = 'camplex.cache';
const STATE = 'camplex.state';
const SESSIONS = 'camplex_sessions';
/** The owner tells every node its cameras' states this often, and on every change. */
const STATE_EVERY_MS = 2000;
/** A state not heard again for this long is forgotten (its owner is gone). */
const STATE_FORGET_MS = 3 * STATE_EVERY_MS;
/** A remote node says it still wants a stream this often; the owner forgets it after 3x. */
const INTEREST_EVERY_MS = 1000;
const INTEREST_FORGET_MS = 3 * INTEREST_EVERY_MS;
const CACHE_TIMEOUT_MS = 2000;
/** What a cache reply's frame costs besides its bytes: `[u32 length][u8 key][u32 seq]`. */
const FRAME_HEADER_BYTES = 9;
/** Room kept in each NATS message for its headers and subject. */
const HEADER_ROOM_BYTES = 1024;
/** nats-server's default max_payload, when the server has not said. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** No unit from the owner for this long and a receiving node tries to take the camera. */
const OWNER_QUIET_MS = 1000;
/** Between attempts to reach NATS at start. */
const CONNECT_RETRY_MS = 2000;
/** Formats the owner's relay viewer asks the hub for: whatever the camera sends. */
const FORMATS: Record<Channel, readonly Codec[]> = {
  native: ['h264', 'h265', 'jpeg'],
  jpeg: ['jpeg'],
};

export class Cluster {
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
  private readonly clock: Clock;
  private readonly log: Log;
  private readonly leases = new Map<string, Lease>();
  /** What happens when a lease changes hands here: set by the stream's launch. */
  private readonly leaseEvents = new Map<string, { acquired(): void; lost(why: string): void }>();
  private hub: Hub | undefined;
  private readonly relays: Record<Channel, RelayViewer>;
  /** `<channel> <stream>` remote nodes want from this node, and when they last said so. */
  private readonly interest = new Map<string, number>();
  private readonly subscriptions: Subscription[] = [];
  private sweep: ReturnType<typeof setInterval> | undefined;
  /** Streams other nodes run, as their owners last told (per stream, without sub-streams). */
  private readonly remote = new Map<string, { info: CameraInfo; owner: string; at: number }>();

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
    this.relays = {
      native: new RelayViewer(media, this.log, MEDIA.native, this.publisher),
      jpeg: new RelayViewer(media, this.log, MEDIA.jpeg, this.publisher),
    };
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
        const sent = respondWithFrames(msg, camera.sinceKey, this.publisher, maxPayload);
        this.log.debug({ camera: id, ...sent, maxPayload }, 'key-unit cache sent');
      }),
    });
    const states = this.control.subscribe(`${STATE}.*`, {
      callback: this.guarded('state', (msg) => this.onRemoteState(msg)),
    });
    this.subscriptions.push(interest, cache, states);
    let ticks = 0;
    this.sweep = setInterval(() => {
      this.forgetQuietInterest();
      this.forgetQuietStates();
      if (++ticks % (STATE_EVERY_MS / INTEREST_EVERY_MS) !== 0) return;
      for (const [id, lease] of this.leases) {
        const info = lease.held ? hub.camera(id)?.info() : undefined;
        if (info) this.publishState(info);
      }
    }, INTEREST_EVERY_MS);
  }

  /**
   * What this node tells its viewers of a stream: its own view, with the owner named; for a
   * stream this node neither runs nor receives (idle here), the state its owner reports.
   */
  describe(info: CameraInfo): CameraInfo {
    if (this.leases.get(info.id)?.held) return { ...info, owner: this.node };
    const remote = this.remote.get(info.id);
    if (!remote) return info;
    if (info.state === 'idle') {
      return { ...remote.info, id: info.id, name: info.name, owner: remote.owner };
    }
    return { ...info, owner: remote.owner };
  }

  /**
   * A state change here (the hub's onState): of a stream this node runs, every node hears at
   * once; all of them again every STATE_EVERY_MS, so nodes that joined later and the
   * forgetting of a dead owner's states stay right.
   */
  onLocalState(info: CameraInfo): void {
    this.publishState(info);
    if (info.substream) this.publishState(info.substream);
  }

  private publishState(info: CameraInfo): void {
    if (!this.leases.get(info.id)?.held) return;
    const { substream: _sub, owner: _owner, ...own } = info;
    const h = headers();
    h.set('owner', this.node);
    this.publishControl(`${STATE}.${encodeName(info.id)}`, JSON.stringify(own), { headers: h });
  }

  private onRemoteState(msg: Msg): void {
    const owner = msg.headers?.get('owner');
    if (!owner || owner === this.node) return;
    let info: CameraInfo;
    try {
      info = JSON.parse(new TextDecoder().decode(msg.data)) as CameraInfo;
    } catch {
      return;
    }
    const id = decodeName(msg.subject.slice(STATE.length + 1));
    if (info.id !== id || !this.hub?.camera(id)) return;
    const before = this.remote.get(id);
    this.remote.set(id, { info, owner, at: this.clock.now() });
    const changed =
      !before ||
      before.owner !== owner ||
      before.info.state !== info.state ||
      before.info.reason !== info.reason ||
      before.info.codecString !== info.codecString;
    if (changed) this.hub?.announce(id);
  }

  private forgetQuietStates(): void {
    const now = this.clock.now();
    for (const [id, { at }] of this.remote) {
      if (now - at <= STATE_FORGET_MS) continue;
      this.remote.delete(id);
      this.hub?.announce(id);
    }
  }

  /**
   * Shares sign-in sessions with the other nodes through a KV bucket (`camplex_sessions`, its
   * ttl the session time), so a browser signed in on one node is signed in on every node. Only
   * SHA-256 digests of the tokens travel: NATS never holds a usable cookie.
   */
  async shareSessions(logins: LoginSessions, ttlMs: number): Promise<void> {
    const kv = await new Kvm(this.control).create(SESSIONS, { ttl: ttlMs, history: 1 });
    const warn = (error: unknown) =>
      this.log.warn({ err: (error as Error).message }, 'could not share a sign-in session');
    logins.shared = {
      started: (session) => {
        const value = JSON.stringify({ user: session.user, expiresAt: session.expiresAt });
        kv.put(session.digest, value).catch(warn);
      },
      ended: (digest) => {
        kv.delete(digest).catch(warn);
      },
    };
    const updates = await kv.watch();
    (async () => {
      for await (const entry of updates) {
        if (entry.operation !== 'PUT') {
          logins.forget(entry.key);
          continue;
        }
        try {
          const { user, expiresAt } = JSON.parse(entry.string()) as StoredSessionValue;
          if (typeof user === 'string' && typeof expiresAt === 'number') {
            logins.adopt({ digest: entry.key, user, expiresAt });
          }
        } catch {
          // not one of ours
        }
      }
    })().catch((error: unknown) => {
      this.log.warn({ err: (error as Error).message }, 'stopped taking in shared sessions');
    });
  }

  /** The node holding stream `id`'s lease, if any. */
  owner(id: string): Promise<string | undefined> {
    return Lease.holder(this.kv, id);
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
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
    const subscription = this.media.subscribe(`${MEDIA[channel]}.${name}`, {
      callback: this.guarded('relay', (msg) => {
        const frame = frameOf(msg);
        if (frame) onFrame(frame);
      }),
    });
    const say = () => this.publishControl(`${INTEREST}.${channel}.${name}`);
    say();
    const timer = setInterval(say, INTEREST_EVERY_MS);
    return () => {
      clearInterval(timer);
      subscription.unsubscribe();
    };
  }

  /**
   * The owner's frames of stream `id` since its last key frame (empty when it has none). They
   * come as several replies, each under the connection's max_payload, in order, ended by an
   * empty one: a 10 s GOP is far larger than one NATS message may be.
   */
  async cached(id: string): Promise<Relayed[]> {
    const frames: Relayed[] = [];
    try {
      const replies = await this.media.requestMany(`${CACHE}.${encodeName(id)}`, undefined, {
        strategy: 'sentinel',
        maxWait: CACHE_TIMEOUT_MS,
      });
      for await (const reply of replies) {
        if (reply.data.length === 0) break;
        frames.push(...framesOf(reply));
      }
    } catch {
      // no owner yet, or it is busy: what came (a prefix from the key unit on) or the next key
    }
    return frames;
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

/** The owner's viewer that publishes a stream's frames for the other nodes. */
class RelayViewer implements Viewer {
  private readonly nc: NatsConnection;
  private readonly log: Log;
  private readonly subject: string;
  private readonly publisher: string;
  private readonly subjects = new Map<string, string>();
  private tooLarge = 0;

  constructor(nc: NatsConnection, log: Log, subject: string, publisher: string) {
    this.nc = nc;
    this.log = log;
    this.subject = subject;
    this.publisher = publisher;
  }

  sendFrame(frame: Frame, camera: Camera): void {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (frame.data.length + 256 > max) {
      // Units are not split: nats-server's max_payload must exceed stream.maxFrameBytes.
      if (this.tooLarge++ % 100 === 0) {
        this.log.warn(
          { camera: camera.id, bytes: frame.data.length, maxPayload: max },
          'frame larger than NATS max_payload: not relayed (raise max_payload in nats-server.conf)',
        );
      }
      return;
    }
    try {
      this.nc.publish(this.subjectOf(camera.id), frame.data, {
        headers: headersOf(frame, this.publisher),
      });
    } catch (error) {
      // a closed connection (shutting down): a viewer must not throw into the frame path
      this.log.debug({ err: (error as Error).message }, 'NATS publish failed');
    }
  }

  /** The stream's subject, made once per stream rather than per frame. */
  private subjectOf(id: string): string {
    let subject = this.subjects.get(id);
    if (subject === undefined) {
      subject = `${this.subject}.${encodeName(id)}`;
      this.subjects.set(id, subject);
    }
    return subject;
  }

  sendBurst(frames: readonly Frame[], camera: Camera): void {
    for (const frame of frames) this.sendFrame(frame, camera);
  }

  sendState(): void {
    // each node's camera has its own state, from the frames it gets
  }
}

/** One stream's start on a node: the owner's ffmpeg, or the owner's frames over NATS. */
class ClusterSource implements FfmpegProcess {
  private readonly cluster: Cluster;
  private readonly id: string;
  private readonly channel: Channel;
  private readonly handlers: SourceHandlers;
  private readonly startLocal: () => FfmpegProcess;
  private local: FfmpegProcess | undefined;
  /** This source's claim on the camera (the native channel only). */
  private claim: Claim | undefined;
  private stopReceiving: (() => void) | undefined;
  private unlisten: (() => void) | undefined;
  private stopped = false;
  private ended = false;

  constructor(
    cluster: Cluster,
    id: string,
    channel: Channel,
    handlers: SourceHandlers,
    startLocal: () => FfmpegProcess,
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
          if (this.local) void this.local.stop();
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
    let planned: Codec | undefined;
    const take = (frame: Relayed) => {
      if (this.stopped || this.ended || !order.accept(frame)) return;
      if (planned !== frame.codec) {
        planned = frame.codec;
        this.handlers.onPlan({
          output: frame.codec === 'jpeg' ? 'mpjpeg' : frame.codec,
          copyJpeg: true,
        });
      }
      this.handlers.onUnit(frame.data);
    };
    // The owner is alive while its units come: only when they stop does this node try to take
    // the camera over (see Lease.setHolderAlive). Not for the JPEG channel: it never takes it.
    let lastFrameAt = 0;
    if (this.channel === 'native') {
      const lease = this.cluster.lease(this.id);
      const watch = setInterval(() => {
        if (this.stopped || this.ended) {
          clearInterval(watch);
          lease.setHolderAlive(false);
          return;
        }
        lease.setHolderAlive(Date.now() - lastFrameAt < OWNER_QUIET_MS);
      }, OWNER_QUIET_MS / 4);
    }
    // Live units wait while the cache is asked for; older ones are dropped by sequence number.
    const early: Relayed[] = [];
    let caching = this.channel === 'native';
    this.stopReceiving = this.cluster.receive(this.id, this.channel, (frame) => {
      lastFrameAt = Date.now();
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

function headersOf(frame: Frame, publisher: string) {
  const h = headers();
  h.set('from', publisher);
  h.set('codec', frame.codec);
  h.set('key', frame.key ? '1' : '0');
  h.set('seq', String(frame.seq));
  return h;
}

function frameOf(msg: Msg) {
  const h = msg.headers;
  const codec = h?.get('codec') as Codec | undefined;
  const seq = Number(h?.get('seq'));
  if (!h || (codec !== 'jpeg' && codec !== 'h264' && codec !== 'h265') || !Number.isInteger(seq)) {
    return undefined;
  }
  return { data: msg.data, codec, key: h.get('key') === '1', seq, from: h.get('from') };
}

/**
 * The cache reply: replies of whole frames, each `[u32 length][u8 key][u32 seq]` + unit per
 * frame and under `maxPayload` (codec and publisher in headers), in order, then an empty reply
 * that ends them. A frame that does not fit one message alone cannot go: then none go (the
 * frames after it would not decode), and the asking node waits for the next key unit.
 */
function respondWithFrames(
  msg: Msg,
  frames: readonly Frame[],
  publisher: string,
  maxPayload: number,
): { messages: number; frames: number; bytes: number } {
  const budget = maxPayload - HEADER_ROOM_BYTES;
  const fits = frames.every((frame) => FRAME_HEADER_BYTES + frame.data.length <= budget);
  let chunk: Frame[] = [];
  let size = 0;
  const sent = { messages: 0, frames: 0, bytes: 0 };
  const send = () => {
    if (chunk.length === 0) return;
    sent.messages++;
    sent.frames += chunk.length;
    sent.bytes += size;
    const body = new Uint8Array(size);
    const view = new DataView(body.buffer);
    let at = 0;
    for (const frame of chunk) {
      view.setUint32(at, frame.data.length);
      view.setUint8(at + 4, frame.key ? 1 : 0);
      view.setUint32(at + 5, frame.seq);
      body.set(frame.data, at + FRAME_HEADER_BYTES);
      at += FRAME_HEADER_BYTES + frame.data.length;
    }
    const h = headers();
    h.set('codec', chunk[0]?.codec ?? 'jpeg');
    h.set('from', publisher);
    msg.respond(body, { headers: h });
    chunk = [];
    size = 0;
  };
  for (const frame of fits ? frames : []) {
    const bytes = FRAME_HEADER_BYTES + frame.data.length;
    if (size + bytes > budget) send();
    chunk.push(frame);
    size += bytes;
  }
  send();
  msg.respond(new Uint8Array(0)); // the end
  return sent;
}

function framesOf(msg: Msg) {
  const codec = msg.headers?.get('codec') as Codec | undefined;
  const from = msg.headers?.get('from') ?? '';
  const frames: Relayed[] = [];
  if (codec !== 'jpeg' && codec !== 'h264' && codec !== 'h265') return frames;
  const body = msg.data;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let at = 0; at + FRAME_HEADER_BYTES <= body.length; ) {
    const length = view.getUint32(at);
    if (at + FRAME_HEADER_BYTES + length > body.length) break;
    frames.push({
      data: body.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length),
      codec,
      key: view.getUint8(at + 4) === 1,
      seq: view.getUint32(at + 5),
      from,
    });
    at += FRAME_HEADER_BYTES + length;
  }
  return frames;
}
