/**
 * One browser tab's WebSocket: control messages in, states and frames out. Pictures go through
 * the viewer's latest-wins slot (hub/latest-wins.ts) and are sent only while the socket's
 * buffered bytes are under a bound and, for a viewer that acknowledges frames, while its
 * unacknowledged bytes are under another, so a slow viewer gets fewer pictures, never stale
 * ones, and costs bounded memory. Sound frames (small, and a gap in them is heard) count in the
 * same bounds but go first and wait in a short queue instead of replacing one another; only a
 * viewer that takes nothing for longer than that queue holds loses some. A viewer whose video
 * had a gap is started again from the camera's cached units when its window can take them,
 * instead of waiting for the next key frame. A viewer that takes nothing at all for
 * `maxBlockedMs` while frames wait is closed with 1008.
 */

import type { WebSocket } from 'ws';
import { visibleGroups } from '../access/scope.js';
import type { Camera, Frame } from '../camera/camera.js';
import { CamplexError, CloseCodes, type ErrorCode, ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { clip } from '../common/text.js';
import type { RefusalKind, Refusals } from '../guard/refusals.js';
import type { Hub, Viewer } from '../hub/hub.js';
import { type DeliveryCounts, LatestWins } from '../hub/latest-wins.js';
import {
  type CameraInfo,
  CLIPPED_CHARS,
  type ClientCommand,
  decodeClientCommand,
  encodeBatch,
  encodeServerMessage,
  PROTOCOL_VERSION,
  type PtzCommand,
  type ServerMessage,
  SUBPROTOCOL_EXTENDED,
} from '../protocol/wire.js';
import type { PtzMover } from '../ptz/ptz-camera.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import type { Batches } from './batches.js';
import type { FrameMessages } from './frame-messages.js';

export interface ViewerSocketOptions {
  hub: Hub;
  log: Log;
  /** Builds each frame's message once for every viewer. */
  messages: FrameMessages;
  /** Frames are held back (latest wins) while the socket buffers at least this many bytes. */
  maxBufferedBytes: number;
  /** For a viewer that acks: frames are held back while this many bytes are unacknowledged. */
  maxUnackedBytes: number;
  /** Control messages allowed per second before the socket is closed with 1008. */
  maxMessagesPerSecond: number;
  /** A socket that drains nothing for this long while frames wait is closed with 1008. */
  maxBlockedMs: number;
  /** Ids one subscribe or unsubscribe may name. */
  maxCamerasPerCommand: number;
  /** Cameras one socket may be subscribed to at once. */
  maxCamerasPerSocket: number;
  refusals: Refusals;
  now: () => number;
  /** The flush every socket's batches share. */
  batches: Batches;
  /** The config's camera groups now, told in hello. */
  groups?: () => Readonly<Record<string, readonly string[]>>;
  /** Whether this viewer may watch a stream (a token may be limited to some cameras). */
  mayWatch?: (stream: string) => boolean;
  /** Whether this viewer may move a camera (pan, tilt, zoom, presets); default: never. */
  mayMove?: (camera: string) => boolean;
  /** The cameras' PTZ (none: no camera can be moved). */
  ptz?: PtzControl;
}

/** ws error codes for limits it enforces itself, and the names camplex counts them under. */
const WS_LIMIT_ERRORS: Readonly<Record<string, RefusalKind>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'message-size',
  WS_ERR_INVALID_UTF8: 'invalid-utf8',
};

const BINARY = { binary: true } as const;
/** A batch's bytes are all written over at once: no need to zero them first. */
const allocateUnsafe = (bytes: number): Uint8Array => Buffer.allocUnsafe(bytes);
/** Sound frames that wait for a viewer that takes nothing: about 2 s of 20 ms frames. */
export const MAX_WAITING_SOUND = 100;
/** Per-camera counts in a viewer's disconnect log line, at most for this many cameras. */
const MAX_CAMERAS_LOGGED = 32;
/** Most bytes ws adds in front of a server message (2 + 8 byte length, no mask). */
const WS_FRAME_HEADER_BYTES = 10;

type Subscribe = Extract<ClientCommand, { cmd: 'subscribe' }>;
type Unsubscribe = Extract<ClientCommand, { cmd: 'unsubscribe' }>;

export class ViewerSocket implements Viewer, PtzMover {
  private readonly ws: WebSocket;
  private readonly options: ViewerSocketOptions;
  private readonly log: Log;
  /** At most one waiting frame per camera; counts what this viewer was sent and lost. */
  private readonly slots: LatestWins;
  /**
   * Video streams whose frames were dropped for this viewer: nothing more of them goes until
   * the next key frame (a delta after a gap would decode to garbage).
   */
  private readonly gaps = new Set<Camera>();
  /** Per video stream, the sequence number of the last unit sent (where a recovery resumes). */
  private readonly lastSent = new Map<Camera, number>();
  /** Per video stream, the key unit of the GOP whose recovery went past the ack window. */
  private readonly recoveredPastWindow = new Map<Camera, number>();
  /** Sound frames waiting, oldest first, across cameras (bounded by MAX_WAITING_SOUND). */
  private sound: Array<{ camera: Camera; frame: Frame }> = [];
  /** Streams whose video this viewer wants with decode times (timed headers). */
  private readonly decodeTimes = new Set<string>();
  private readonly extended: boolean;
  private mayWatch: (stream: string) => boolean;
  private mayMove: (camera: string) => boolean;
  /** Ids this socket is subscribed to (for the per-socket limit). */
  private readonly subscribed = new Set<string>();
  /** When frames started waiting on a full socket or ack window; undefined while it takes them. */
  private blockedSince: number | undefined;
  private rateWindowStart = 0;
  private rateWindowCount = 0;
  /** Frame messages handed to the socket, and their bytes. */
  private framesSent = 0;
  private bytesSent = 0;
  /** Acks let past the message-rate limit: at most one per frame sent. */
  private unlimitedAcks = 0;
  /** Bytes the viewer says it received; undefined until its first ack turns flow control on. */
  private ackedBytes: number | undefined;
  private closed = false;
  /**
   * Batching, when the client asked for it: frame messages that come within `batchMs` of the
   * last write wait (at most that long) and go together, as one binary message.
   */
  private batchMs = 0;
  private batch: Uint8Array[] = [];
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private readonly batches: Batches;
  /** Sends what waits in the batch (the shared flush calls it). */
  sendBatch(): void {
    if (this.closed || this.batch.length === 0) return;
    const batch = encodeBatch(this.batch, allocateUnsafe);
    this.batch = [];
    this.write(batch, this.ws.bufferedAmount);
    this.lastWriteAt = this.options.now();
  }
  private readonly onSent = (error?: Error) => {
    if (!error) this.flush();
  };
  private readonly takesMore = () => !this.closed && this.canSend(this.ws.bufferedAmount);
  private readonly sendWaiting = (camera: Camera, frame: Frame) => {
    this.send(frame, camera, this.ws.bufferedAmount);
    if (frame.codec !== 'jpeg') this.lastSent.set(camera, frame.seq);
  };

  constructor(ws: WebSocket, options: ViewerSocketOptions, remote: string) {
    this.ws = ws;
    this.options = options;
    this.mayWatch = options.mayWatch ?? (() => true);
    this.mayMove = options.mayMove ?? (() => false);
    this.batches = options.batches;
    this.slots = new LatestWins((camera) => options.hub.deliveryOf(camera));
    this.extended = ws.protocol === SUBPROTOCOL_EXTENDED;
    this.log = options.log.child({ remote });
    ws.on('message', (data, isBinary) => {
      try {
        this.onMessage(data as Buffer, isBinary);
      } catch (error) {
        // A bug of ours must not take the process down with every other viewer.
        this.log.error({ err: error }, 'control message handling failed: closing with 1011');
        ws.close(CloseCodes.INTERNAL_ERROR, 'internal error');
      }
    });
    ws.on('close', (code) => this.onClose(code));
    ws.on('error', (error) => {
      // ws reports protocol violations here (1009 too big, 1007 bad UTF-8, ...) and closes.
      const code = (error as { code?: string }).code ?? '';
      const limit = WS_LIMIT_ERRORS[code];
      if (limit) options.refusals.hit(limit, `${error.message}: closed by ws`, { code });
      else this.log.warn({ err: error.message, code }, 'websocket protocol error: closed by ws');
    });
    options.hub.addViewer(this);
    this.sendHello(options.hub.infos());
  }

  sendFrame(frame: Frame, camera: Camera): void {
    if (this.closed) return;
    if (frame.audio) {
      this.sendSound(frame, camera);
      return;
    }
    const video = frame.codec !== 'jpeg';
    if (video && this.gaps.size > 0 && this.gaps.has(camera)) {
      if (!frame.key) {
        if (!this.recover(camera)) this.slots.discard(camera, 1);
        return;
      }
      this.gaps.delete(camera);
    }
    const buffered = this.ws.bufferedAmount;
    if (this.slots.size === 0 && this.sound.length === 0 && this.canSend(buffered)) {
      this.send(frame, camera, buffered);
      this.slots.sent(camera);
      if (video) this.lastSent.set(camera, frame.seq);
      return;
    }
    if (video && !frame.key && this.slots.isWaiting(camera)) {
      // Latest-wins would replace a delta with a delta: a gap. Skip to the next key frame.
      this.slots.discard(camera, 1);
      this.gaps.add(camera);
    } else {
      this.slots.hold(camera, frame);
    }
    this.flush();
    if (this.slots.size > 0 || this.sound.length > 0) this.checkBlocked();
  }

  /**
   * A new subscription's frames since the last key frame, all at once and past the ack window
   * (they are bounded by the camera's cache), all but the last decode-only. A socket already
   * over its buffer bound gets none: it starts at the next key frame, so re-subscribing in a
   * loop cannot pile bursts up in a socket that does not read.
   */
  sendBurst(frames: readonly Frame[], camera: Camera): void {
    if (this.closed) return;
    this.slots.discard(camera);
    if (this.ws.bufferedAmount >= this.options.maxBufferedBytes) {
      this.slots.discard(camera, frames.length);
      this.gaps.add(camera);
      return;
    }
    this.gaps.delete(camera);
    this.sendCatchUp(frames, camera);
  }

  /** `frames` in order, all but the last decode-only (video), each counted as sent. */
  private sendCatchUp(frames: readonly Frame[], camera: Camera): void {
    frames.forEach((frame, i) => {
      const decodeOnly = i < frames.length - 1 && frame.codec !== 'jpeg';
      this.send(frame, camera, this.ws.bufferedAmount, decodeOnly);
      this.slots.sent(camera);
    });
    const last = frames.at(-1);
    if (last && last.codec !== 'jpeg') this.lastSent.set(camera, last.seq);
    this.sendBatchNow(); // a catch-up goes at once
  }

  /**
   * After a gap in `camera`'s video, the units it missed since the last one it was sent (or
   * since the cached key unit, when it missed that too), decode-only but the newest, so it
   * goes on without waiting for the next key unit. They go when its windows take them all
   * now, or, once per GOP, past the ack window (as a late join's burst does) when the viewer
   * has caught up with everything else: a page that stalled a moment (a busy main thread, a
   * tab in the background) goes on at once even on a long GOP, while a viewer too slow for
   * the camera gets at most one such burst per GOP and otherwise waits for the key unit (a
   * GOP burst again and again would only make it slower). True when they were sent.
   */
  private recover(camera: Camera): boolean {
    const cached = camera.sinceKey;
    const key = cached[0];
    const newest = cached.at(-1);
    if (!key || !newest || newest.key || this.slots.isWaiting(camera)) return false;
    const last = this.lastSent.get(camera) ?? 0;
    const from = last >= key.seq ? cached.findIndex((frame) => frame.seq > last) : 0;
    if (from < 0) return false;
    const missed = cached.slice(from);
    let bytes = 0;
    for (const frame of missed) bytes += frame.data.length + WS_FRAME_HEADER_BYTES + 32;
    const { maxBufferedBytes, maxUnackedBytes } = this.options;
    const buffered = this.ws.bufferedAmount;
    const acking = this.ackedBytes !== undefined;
    const unacked = acking ? this.bytesSent - (this.ackedBytes ?? 0) : 0;
    const fits =
      buffered + bytes <= maxBufferedBytes && (!acking || unacked + bytes <= maxUnackedBytes);
    if (!fits) {
      const caughtUp =
        buffered < maxBufferedBytes / 4 && (!acking || unacked <= maxUnackedBytes / 4);
      if (!caughtUp || this.recoveredPastWindow.get(camera) === key.seq) return false;
      this.recoveredPastWindow.set(camera, key.seq);
    }
    this.gaps.delete(camera);
    this.sendCatchUp(missed, camera);
    return true;
  }

  /**
   * A sound frame: sent at once while the viewer takes more (before any waiting picture), else
   * queued behind the others; past the queue's bound the oldest is dropped.
   */
  private sendSound(frame: Frame, camera: Camera): void {
    const buffered = this.ws.bufferedAmount;
    if (this.sound.length === 0 && this.canSend(buffered)) {
      this.send(frame, camera, buffered);
      this.slots.sent(camera);
      return;
    }
    this.sound.push({ camera, frame });
    if (this.sound.length > MAX_WAITING_SOUND) {
      const dropped = this.sound.shift();
      if (dropped) this.slots.discard(dropped.camera, 1);
    }
    this.flush();
    if (this.sound.length > 0) this.checkBlocked();
  }

  /** The camera list changed (a config reload): hello again, and streams gone are forgotten. */
  sendCameras(cameras: CameraInfo[]): void {
    const streams = new Set(
      cameras.flatMap((info) => [info.id, ...(info.substream ? [info.substream.id] : [])]),
    );
    for (const id of [...this.subscribed]) {
      if (streams.has(id)) continue;
      this.subscribed.delete(id);
      this.forget(id);
    }
    this.sendHello(cameras);
  }

  /**
   * What this viewer may watch changed (its token was narrowed by a reload): streams no longer
   * allowed stop at once, and hello again lists only what it may watch now.
   */
  rescope(mayWatch: (stream: string) => boolean, mayMove: (camera: string) => boolean): void {
    const before = this.mayMove;
    this.mayWatch = mayWatch;
    this.mayMove = mayMove;
    // A move this viewer may no longer make stops; one it still may make goes on (a reload
    // that only widened its scope must not stop a camera it is turning).
    const infos = this.options.hub.infos();
    if (infos.some((info) => before(info.id) && !mayMove(info.id))) this.options.ptz?.release(this);
    const gone = [...this.subscribed].filter((id) => !mayWatch(id));
    if (gone.length > 0) this.stopStreams(gone);
    this.sendHello(infos);
  }

  /** What this viewer is told of a camera: with its PTZ controls when it may move it. */
  private shown(info: CameraInfo): CameraInfo {
    // Whatever came in (a state from another node), the controls are this node's to give.
    const { ptz: _ignored, ...rest } = info;
    const presets = this.mayMove(info.id) ? this.options.ptz?.presetsOf(info.id) : undefined;
    return presets ? { ...rest, ptz: { presets: [...presets] } } : rest;
  }

  private sendHello(cameras: CameraInfo[]): void {
    const may = this.mayWatch;
    const groups = visibleGroups(this.options.groups?.() ?? {}, may);
    this.sendControl({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      cameras: cameras.filter((info) => may(info.id)).map((info) => this.shown(info)),
      maxUnackedBytes: this.options.maxUnackedBytes,
      ...(Object.keys(groups).length > 0 ? { groups } : {}),
    });
  }

  sendState(info: CameraInfo): void {
    if (!this.mayWatch(info.id)) return;
    this.sendControl({ type: 'state', ...this.shown(info) });
  }

  /** Frames of camera `id` this viewer was sent and dropped so far. */
  countOf(id: string): DeliveryCounts {
    return this.slots.countsOf(id);
  }

  /** Hands `frame` to the socket, which buffered `buffered` bytes just before. */
  private send(frame: Frame, camera: Camera, buffered: number, decodeOnly = false): void {
    const { messages } = this.options;
    const decodeTimes = this.decodeTimes.size > 0 && this.decodeTimes.has(camera.id);
    const message =
      this.extended || decodeOnly || decodeTimes
        ? messages.variantOf(camera.id, frame, { extended: this.extended, decodeOnly, decodeTimes })
        : messages.messageOf(camera.id, frame);
    this.framesSent++;
    this.blockedSince = undefined;
    if (this.batchMs === 0) {
      this.bytesSent += message.length;
      this.write(message, buffered);
      return;
    }
    const now = this.options.now();
    if (this.batch.length === 0 && now - this.lastWriteAt >= this.batchMs) {
      // A quiet socket: no reason to wait.
      this.bytesSent += message.length;
      this.write(message, buffered);
      this.lastWriteAt = now;
      return;
    }
    // The batch's own bytes (its first byte, each entry's length) count in what is acked.
    this.bytesSent += (this.batch.length === 0 ? 5 : 4) + message.length;
    if (this.batch.length === 0) {
      this.batches.add(this, Math.max(0, this.lastWriteAt + this.batchMs - now));
    }
    this.batch.push(message);
  }

  /** Sends what waits in the batch now (before a control message, or a catch-up's end). */
  private sendBatchNow(): void {
    if (this.batch.length === 0) return;
    this.batches.remove(this);
    this.sendBatch();
  }

  private write(message: Uint8Array, buffered: number): void {
    // A write callback costs a closure and a tick per message, so one is asked for only when
    // this write may be what keeps the socket over its bound: when bytes are already waiting,
    // or when this message alone fills the bound. Whenever frames wait, the newest buffered
    // write therefore has a callback, and its completion flushes them.
    if (buffered > 0 || message.length + WS_FRAME_HEADER_BYTES >= this.options.maxBufferedBytes) {
      this.ws.send(message, BINARY, this.onSent);
    } else {
      this.ws.send(message, BINARY);
    }
  }

  private canSend(buffered: number): boolean {
    return (
      buffered < this.options.maxBufferedBytes &&
      (this.ackedBytes === undefined ||
        this.bytesSent - this.ackedBytes < this.options.maxUnackedBytes)
    );
  }

  private flush(): void {
    while (this.sound.length > 0 && this.takesMore()) {
      const next = this.sound.shift() as { camera: Camera; frame: Frame };
      this.send(next.frame, next.camera, this.ws.bufferedAmount);
      this.slots.sent(next.camera);
    }
    if (this.sound.length === 0) this.slots.flush(this.takesMore, this.sendWaiting);
  }

  /** Forgets what waits of stream `id` (unsubscribed or gone: not a drop). */
  private forget(id: string): void {
    this.slots.forget(id);
    if (this.sound.length > 0) this.sound = this.sound.filter(({ camera }) => camera.id !== id);
    this.decodeTimes.delete(id);
  }

  private checkBlocked(): void {
    const now = this.options.now();
    this.blockedSince ??= now;
    if (now - this.blockedSince < this.options.maxBlockedMs) return;
    const seconds = Math.round(this.options.maxBlockedMs / 1000);
    this.options.refusals.hit(
      'slow-viewer',
      `viewer drained nothing for ${seconds} s: closing with 1008`,
      {
        buffered: this.ws.bufferedAmount,
        ...(this.ackedBytes === undefined ? {} : { unacked: this.bytesSent - this.ackedBytes }),
      },
    );
    this.slots.dropAll();
    this.sound = [];
    this.closed = true; // no more frames or states for it
    // The close frame itself may never get through a socket that does not drain: ws cuts the
    // connection when the closing handshake does not finish in time (closeTimeout).
    this.ws.close(CloseCodes.POLICY_VIOLATION, 'viewer too slow: nothing drained');
  }

  private sendControl(message: ServerMessage): void {
    if (this.closed) return;
    this.sendBatchNow(); // frames the control message follows go before it
    // Behind a backed-up socket a control message may be the newest write: it flushes too.
    if (this.ws.bufferedAmount > 0) this.ws.send(encodeServerMessage(message), this.onSent);
    else this.ws.send(encodeServerMessage(message));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.options.refusals.hit('binary-message', 'binary message from client: closing with 1003');
      this.ws.close(CloseCodes.UNSUPPORTED_DATA, 'binary messages are not accepted');
      return;
    }
    if (this.ws.readyState !== this.ws.OPEN) return; // closing: nothing more is acted on
    let command: ClientCommand;
    try {
      command = decodeClientCommand(data.toString('utf8'), this.options.maxCamerasPerCommand);
    } catch (error) {
      if (!(error instanceof CamplexError)) throw error;
      if (!this.overRateLimit()) this.refuse(error);
      return;
    }
    // Acks count against the rate limit in their own way (see onAck); the rest here.
    if (command.cmd !== 'ack' && this.overRateLimit()) return;
    this.commands[command.cmd](command as never);
  }

  /** What each client command does. */
  private readonly commands: {
    [Name in ClientCommand['cmd']]: (command: Extract<ClientCommand, { cmd: Name }>) => void;
  } = {
    subscribe: (command) => this.subscribe(command),
    unsubscribe: (command) => this.unsubscribe(command),
    ack: (command) => this.onAck(command.bytes),
    batch: (command) => {
      if (command.maxDelayMs === 0) this.sendBatchNow();
      this.batchMs = command.maxDelayMs;
    },
    ptz: (command) => this.ptz(command),
  };

  /**
   * Moves a camera. A camera this viewer may not watch is unknown to it, as everywhere; one it
   * watches but may not move is forbidden.
   */
  private ptz(command: PtzCommand): void {
    const id = clip(command.camera, CLIPPED_CHARS);
    const ptz = this.options.ptz;
    if (!this.mayWatch(command.camera) || !this.options.hub.camera(command.camera)) {
      this.refuse(new CamplexError(ErrorCodes.UNKNOWN_CAMERA, `unknown camera "${id}"`), [id]);
    } else if (!ptz) {
      this.refuse(new CamplexError(ErrorCodes.PTZ_UNAVAILABLE, `camera "${id}" has no PTZ`), [id]);
    } else if (!this.mayMove(command.camera)) {
      const message = `this user may not move camera "${id}"`;
      this.refuse(new CamplexError(ErrorCodes.FORBIDDEN, message), [id]);
    } else {
      try {
        ptz.command(this, command);
      } catch (error) {
        if (!(error instanceof CamplexError)) throw error;
        this.ptzError(id, error.code, error.message);
      }
    }
  }

  /** A PTZ command of this viewer's failed later (at the camera, or on the node that owns it). */
  ptzError(camera: string, code: ErrorCode, message: string): void {
    this.sendControl({ type: 'error', code, message, cameras: [camera] });
  }

  /**
   * A viewer may ack every frame, so acks that acknowledge new bytes skip the message-rate limit,
   * up to one per frame sent. Repeats, bad acks and any beyond that count.
   */
  private onAck(bytes: number): void {
    const outcome = this.takeAck(bytes);
    if (outcome === true && this.unlimitedAcks < this.framesSent) {
      this.unlimitedAcks++;
      return;
    }
    if (this.overRateLimit()) return;
    if (outcome instanceof CamplexError) this.refuse(outcome);
  }

  private subscribe(command: Subscribe): void {
    const adding = command.cameras.filter((id) => !this.subscribed.has(id)).length;
    const max = this.options.maxCamerasPerSocket;
    if (this.subscribed.size + adding > max) {
      const error = new CamplexError(
        ErrorCodes.TOO_MANY_CAMERAS,
        `a socket may subscribe to at most ${max} cameras at once`,
      );
      this.refuse(error);
      return;
    }
    // Streams this viewer may not watch are answered as unknown: it learns nothing of them.
    const allowed = command.cameras.filter(this.mayWatch);
    // Before the hub is asked: a late joiner's burst goes out while it subscribes.
    for (const id of allowed) {
      if (command.decodeTimes) this.decodeTimes.add(id);
      else if (!this.subscribed.has(id)) this.decodeTimes.delete(id);
    }
    const result = this.options.hub.subscribe(this, allowed, command.formats);
    result.unknown.push(...command.cameras.filter((id) => !this.mayWatch(id)));
    for (const id of result.unknown) if (!this.subscribed.has(id)) this.decodeTimes.delete(id);
    for (const id of result.accepted) {
      this.subscribed.add(id);
      if (!command.decodeTimes) this.decodeTimes.delete(id);
    }
    this.acknowledge('subscribed', result);
  }

  private unsubscribe(command: Unsubscribe): void {
    this.acknowledge('unsubscribed', this.stopStreams(command.cameras));
  }

  /** Unsubscribes `ids` and forgets what this socket kept of them. */
  private stopStreams(ids: string[]) {
    const { hub } = this.options;
    const result = hub.unsubscribe(this, ids);
    for (const id of result.accepted) {
      this.subscribed.delete(id);
      this.forget(id);
      const camera = hub.camera(id);
      if (camera) {
        this.gaps.delete(camera);
        this.lastSent.delete(camera);
        this.recoveredPastWindow.delete(camera);
      }
    }
    return result;
  }

  /** The ack of a (un)subscribe with the ids it took, then an error naming the unknown ones. */
  private acknowledge(
    type: 'subscribed' | 'unsubscribed',
    result: { accepted: string[]; unknown: string[] },
  ): void {
    if (result.accepted.length > 0 || result.unknown.length === 0) {
      this.sendControl({ type, cameras: result.accepted });
    }
    if (result.unknown.length > 0) {
      const shown = result.unknown.slice(0, 10).map((id) => clip(id, CLIPPED_CHARS));
      const names = shown.map((id) => JSON.stringify(id)).join(', ');
      const plural = result.unknown.length > 1 ? 's' : '';
      this.refuse(
        new CamplexError(ErrorCodes.UNKNOWN_CAMERA, `unknown camera${plural} ${names}`),
        shown,
      );
    }
  }

  /**
   * Takes a viewer's ack of `bytes` of frame messages received in all: true when it
   * acknowledged new bytes (waiting frames may go now), false for a repeat, or the error to
   * send back.
   */
  private takeAck(bytes: number): boolean | CamplexError {
    if (bytes > this.bytesSent) {
      return new CamplexError(
        ErrorCodes.BAD_MESSAGE,
        `"ack" of ${bytes} bytes, but only ${this.bytesSent} were sent`,
      );
    }
    if (this.ackedBytes === undefined) {
      this.log.debug({ maxUnackedBytes: this.options.maxUnackedBytes }, 'viewer acks frames');
    } else if (bytes < this.ackedBytes) {
      return new CamplexError(
        ErrorCodes.BAD_MESSAGE,
        `"ack" must not go backwards: ${bytes} after ${this.ackedBytes}`,
      );
    } else if (bytes === this.ackedBytes) {
      return false;
    }
    this.ackedBytes = bytes;
    this.blockedSince = undefined;
    this.flush();
    return true;
  }

  /** Tells the client why its message was refused; the socket stays open. */
  private refuse(error: CamplexError, cameras?: string[]): void {
    const kind = error.code === ErrorCodes.TOO_MANY_CAMERAS ? 'cameras-per-command' : 'bad-message';
    this.options.refusals.hit(kind, `control message refused: ${error.message}`, {
      code: error.code,
    });
    this.sendControl({
      type: 'error',
      code: error.code,
      message: error.message,
      ...(cameras ? { cameras } : {}),
    });
  }

  /** Counts a message against the rate limit; past it, closes the socket and says true. */
  private overRateLimit(): boolean {
    const now = this.options.now();
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now;
      this.rateWindowCount = 0;
    }
    const count = ++this.rateWindowCount;
    if (count <= this.options.maxMessagesPerSecond) return false;
    if (count === this.options.maxMessagesPerSecond + 1) {
      this.options.refusals.hit('message-rate', 'control message flood: closing with 1008', {
        perSecond: this.options.maxMessagesPerSecond,
      });
    }
    this.ws.close(CloseCodes.POLICY_VIOLATION, 'too many control messages');
    return true;
  }

  private onClose(code: number): void {
    this.closed = true;
    this.options.ptz?.release(this); // the dead-man: a move held by this page stops now
    this.batches.remove(this);
    this.batch = [];
    this.slots.dropAll();
    for (const { camera } of this.sound) this.slots.discard(camera, 1);
    this.sound = [];
    this.options.hub.removeViewer(this);
    let sent = 0;
    let dropped = 0;
    const cameras: Record<string, DeliveryCounts> = {};
    let logged = 0;
    for (const [camera, counts] of this.slots.counts) {
      sent += counts.sent;
      dropped += counts.dropped;
      if (logged++ < MAX_CAMERAS_LOGGED) cameras[camera] = counts;
    }
    const acking = this.ackedBytes !== undefined;
    this.log.info({ code, sent, dropped, acking, cameras }, 'viewer disconnected');
  }
}
