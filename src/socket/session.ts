/**
 * One browser tab's WebSocket: control messages in, states and frames out. Per camera it keeps
 * at most ONE pending frame (a newer one replaces it), and sends only while the socket's
 * buffered bytes are under a bound and, for a viewer that acknowledges frames, while its
 * unacknowledged bytes are under another, so a slow viewer gets fewer frames, never stale
 * ones, and costs bounded memory. Pending cameras are served round-robin so none starves. A
 * viewer that takes nothing at all for `maxBlockedMs` while frames wait is closed with 1008.
 */
import type { WebSocket } from 'ws';
import type { Camera, Frame } from '../camera/camera.js';
import type { RefusalKind, Refusals } from '../guard/refusals.js';
import type { Hub, Viewer } from '../hub/hub.js';
import type { Log } from '../log.js';
import { CamplexError, CloseCodes, ErrorCodes } from '../protocol/errors.js';
import {
  type CameraInfo,
  type ClientCommand,
  clip,
  decodeClientCommand,
  encodeServerMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  SUBPROTOCOL_EXTENDED,
} from '../protocol/wire.js';

export interface SessionOptions {
  hub: Hub;
  log: Log;
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
}

/** ws error codes for limits it enforces itself, and the names camplex counts them under. */
const WS_LIMIT_ERRORS: Readonly<Record<string, RefusalKind>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'message-size',
  WS_ERR_INVALID_UTF8: 'invalid-utf8',
};

/** Frames of one camera this viewer was sent, and dropped (replaced before they could go). */
export interface ViewerCounts {
  sent: number;
  dropped: number;
}

const BINARY = { binary: true } as const;
/** Per-camera counts in a viewer's disconnect log line, at most for this many cameras. */
const MAX_CAMERAS_LOGGED = 32;
/** Most bytes ws adds in front of a server message (2 + 8 byte length, no mask). */
const WS_FRAME_HEADER_BYTES = 10;

export class Session implements Viewer {
  private readonly ws: WebSocket;
  private readonly options: SessionOptions;
  private readonly log: Log;
  /** Newest unsent frame per camera; Map order gives round-robin across cameras. */
  private readonly pending = new Map<Camera, Frame>();
  /** Per camera: frames sent and dropped for this viewer. */
  readonly counts = new Map<string, ViewerCounts>();
  private readonly extended: boolean;
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
  private readonly onSent = (error?: Error) => {
    if (!error) this.flush();
  };

  constructor(ws: WebSocket, options: SessionOptions, remote: string) {
    this.ws = ws;
    this.options = options;
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
    this.sendControl({ type: 'hello', protocol: PROTOCOL_VERSION, cameras: options.hub.list() });
  }

  sendFrame(frame: Frame, camera: Camera): void {
    if (this.closed) return;
    const buffered = this.ws.bufferedAmount;
    if (this.pending.size === 0 && this.canSend(buffered)) {
      this.send(frame, camera, buffered);
      return;
    }
    if (this.pending.delete(camera)) this.countDrop(camera);
    this.pending.set(camera, frame); // (re-)inserted last: this camera goes to the back
    this.flush();
    if (this.pending.size > 0) this.checkBlocked();
  }

  sendState(info: CameraInfo): void {
    this.sendControl({ type: 'state', ...info });
  }

  /** Frames of `camera` this viewer was sent and dropped so far. */
  countOf(camera: string): ViewerCounts {
    let counts = this.counts.get(camera);
    if (!counts) {
      counts = { sent: 0, dropped: 0 };
      this.counts.set(camera, counts);
    }
    return counts;
  }

  /** Hands `frame` to the socket, which buffered `buffered` bytes just before. */
  private send(frame: Frame, camera: Camera, buffered: number): void {
    const message = this.extended ? frame.extended() : frame.message;
    // A write callback costs a closure and a tick per message, so one is asked for only when
    // this write may be what keeps the socket over its bound: when bytes are already waiting,
    // or when this message alone fills the bound. Whenever frames wait, the newest buffered
    // write therefore has a callback, and its completion flushes them.
    if (buffered > 0 || message.length + WS_FRAME_HEADER_BYTES >= this.options.maxBufferedBytes) {
      this.ws.send(message, BINARY, this.onSent);
    } else {
      this.ws.send(message, BINARY);
    }
    this.framesSent++;
    this.bytesSent += message.length;
    this.countOf(camera.id).sent++;
    camera.counters.sent++;
    this.blockedSince = undefined;
  }

  private canSend(buffered: number): boolean {
    return (
      buffered < this.options.maxBufferedBytes &&
      (this.ackedBytes === undefined ||
        this.bytesSent - this.ackedBytes < this.options.maxUnackedBytes)
    );
  }

  private flush(): void {
    for (const [camera, frame] of this.pending) {
      const buffered = this.ws.bufferedAmount;
      if (this.closed || !this.canSend(buffered)) return;
      this.pending.delete(camera);
      this.send(frame, camera, buffered);
    }
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
    this.dropPending();
    this.closed = true; // no more frames or states for it
    this.ws.close(CloseCodes.POLICY_VIOLATION, 'viewer too slow: nothing drained');
    // The close frame itself may never get through a socket that does not drain.
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  private countDrop(camera: Camera): void {
    this.countOf(camera.id).dropped++;
    camera.counters.dropped++;
  }

  private dropPending(): void {
    for (const camera of this.pending.keys()) this.countDrop(camera);
    this.pending.clear();
  }

  private sendControl(message: ServerMessage): void {
    if (this.closed) return;
    // Behind a backed-up socket a control message may be the newest write: it flushes too.
    if (this.ws.bufferedAmount > 0) this.ws.send(encodeServerMessage(message), this.onSent);
    else this.ws.send(encodeServerMessage(message));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const refusals = this.options.refusals;
    if (isBinary) {
      refusals.hit('binary-message', 'binary message from client: closing with 1003');
      this.ws.close(CloseCodes.UNSUPPORTED_DATA, 'binary messages are not accepted');
      return;
    }
    if (this.ws.readyState !== this.ws.OPEN) return; // closing: nothing more is acted on
    let command: ClientCommand | undefined;
    let refusal: CamplexError | undefined;
    try {
      command = decodeClientCommand(data.toString('utf8'), this.options.maxCamerasPerCommand);
    } catch (error) {
      if (!(error instanceof CamplexError)) throw error;
      refusal = error;
    }
    if (command?.cmd === 'ack') {
      // A viewer acks every frame, so acks that acknowledge new bytes skip the message-rate
      // limit, up to one per frame sent. Repeats, bad acks and any beyond that count.
      const outcome = this.takeAck(command.bytes);
      if (outcome === true && this.unlimitedAcks < this.framesSent) {
        this.unlimitedAcks++;
        return;
      }
      if (outcome instanceof CamplexError) refusal = outcome;
    }
    if (this.overRateLimit()) {
      if (this.rateWindowCount === this.options.maxMessagesPerSecond + 1) {
        refusals.hit('message-rate', 'control message flood: closing with 1008', {
          perSecond: this.options.maxMessagesPerSecond,
        });
      }
      this.ws.close(CloseCodes.POLICY_VIOLATION, 'too many control messages');
      return;
    }
    if (refusal) {
      this.refuse(refusal);
      return;
    }
    if (!command || command.cmd === 'ack') return; // a repeated ack: nothing to do
    const hub = this.options.hub;
    const subscribing = command.cmd === 'subscribe';
    if (subscribing) {
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
    }
    const result = subscribing
      ? hub.subscribe(this, command.cameras)
      : hub.unsubscribe(this, command.cameras);
    for (const id of result.accepted) {
      if (subscribing) this.subscribed.add(id);
      else this.subscribed.delete(id);
    }
    if (!subscribing) {
      for (const camera of this.pending.keys()) {
        if (result.accepted.includes(camera.id)) this.pending.delete(camera);
      }
    }
    if (result.accepted.length > 0 || result.unknown.length === 0) {
      this.sendControl({
        type: subscribing ? 'subscribed' : 'unsubscribed',
        cameras: result.accepted,
      });
    }
    if (result.unknown.length > 0) {
      const shown = result.unknown.slice(0, 10).map((id) => clip(id));
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

  private overRateLimit(): boolean {
    const now = this.options.now();
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now;
      this.rateWindowCount = 0;
    }
    return ++this.rateWindowCount > this.options.maxMessagesPerSecond;
  }

  private onClose(code: number): void {
    this.closed = true;
    this.dropPending();
    this.options.hub.removeViewer(this);
    let sent = 0;
    let dropped = 0;
    const cameras: Record<string, ViewerCounts> = {};
    let logged = 0;
    for (const [camera, counts] of this.counts) {
      sent += counts.sent;
      dropped += counts.dropped;
      if (logged++ < MAX_CAMERAS_LOGGED) cameras[camera] = counts;
    }
    const acking = this.ackedBytes !== undefined;
    this.log.info({ code, sent, dropped, acking, cameras }, 'viewer disconnected');
  }
}
