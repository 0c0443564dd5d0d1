/**
 * CameraSocket: the browser's ONE WebSocket for every camera. Callers say which cameras they
 * want; it subscribes and unsubscribes the difference, reconnects with backoff and fresh jitter,
 * and resubscribes by itself after a reconnect. It acknowledges the frames it takes in (about
 * every eighth of the window hello announces, and once frames stop), so the server never has
 * more than a bounded amount of video on its way to this tab: on a slow link or a busy machine
 * the tab gets fewer frames, not older ones.
 */
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from '../common/backoff.js';
import { AckCadence } from '../protocol/ack-cadence.js';
import {
  type CameraInfo,
  type ClientCommand,
  decodeBatch,
  decodeFrame,
  decodePayload,
  decodeServerMessage,
  encodeClientCommand,
  isBatch,
  type MediaFormat,
  type Payload,
  SUBPROTOCOL,
  WS_PATH,
} from '../protocol/wire.js';

/** Prefix of the subprotocol that carries a token (browsers cannot set headers on a socket). */
const TOKEN_SUBPROTOCOL_PREFIX = 'camplex.token.';
/**
 * Frames not yet acknowledged (less than the cadence's step) are acknowledged once no frame came
 * for this long: frames stopped or paused. While they flow, the cadence alone acknowledges.
 */
const ACK_FLUSH_MS = 100;
/**
 * Frames the server may hold back to send several in one message: one message event and one
 * write instead of several for a wall, at most this much later (PROTOCOL.md, batches).
 */
const BATCH_DELAY_MS = 8;

export interface CameraSocketOptions {
  /**
   * A camplex token, for pages of another origin (no session cookie there). Sent as a
   * subprotocol, percent-encoded: a subprotocol cannot hold `/` or `=`.
   */
  token?: string;
  policy?: BackoffPolicy;
}

export interface CameraSocketHandlers {
  /** The cameras this socket may watch, and the config's camera groups (name -> ids). */
  onHello(cameras: CameraInfo[], groups: Record<string, string[]>): void;
  onState(info: CameraInfo): void;
  /** A JPEG, a video access unit or a sound frame of stream `camera`. */
  onFrame(camera: string, frame: Payload): void;
  /** Connection changes; `failures` counts failed connects in a row. */
  onConnection(open: boolean, failures: number): void;
  onError(code: string, message: string): void;
}

export class CameraSocket {
  private readonly url: string;
  private readonly handlers: CameraSocketHandlers;
  private readonly policy: BackoffPolicy;
  private readonly protocols: string[];
  private ws: WebSocket | undefined;
  /** The streams wanted, and the formats asked for each (the key of the format list). */
  private wanted = new Map<string, string>();
  /** What the server has been asked for on the current socket, the same way. */
  private subscribed = new Map<string, string>();
  private failures = 0;
  /** Bytes of frame messages received on the current socket, and when to ack them. */
  private readonly acks = new AckCadence();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(url: string, handlers: CameraSocketHandlers, options: CameraSocketOptions = {}) {
    this.url = url;
    this.handlers = handlers;
    this.policy = options.policy ?? DEFAULT_BACKOFF;
    this.protocols =
      options.token === undefined
        ? []
        : [SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + encodeURIComponent(options.token)];
  }

  /** The ws:// or wss:// URL of the endpoint of the camplex at `server` (a URL or a Location). */
  static urlFor(server: Location | URL | string): string {
    const url = new URL(WS_PATH, typeof server === 'string' ? server : server.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  connect(): void {
    this.stopped = false;
    if (this.ws) return;
    const ws = new WebSocket(this.url, this.protocols);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.failures = 0;
      this.subscribed = new Map();
      this.acks.reset();
      ws.send(encodeClientCommand({ cmd: 'ack', bytes: 0 })); // turns flow control on
      ws.send(encodeClientCommand({ cmd: 'batch', maxDelayMs: BATCH_DELAY_MS }));
      this.handlers.onConnection(true, 0);
      this.sync();
    };
    ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => this.onMessage(event.data);
    ws.onclose = () => {
      this.ws = undefined;
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
      this.subscribed = new Map();
      if (!opened) this.failures++;
      this.handlers.onConnection(false, this.failures);
      if (!this.stopped) this.scheduleReconnect();
    };
  }

  /** Closes the socket for good (no reconnect). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ws?.close(1000, 'page closed');
  }

  /**
   * Sets the streams this page wants, each with the formats it decodes (best first); only the
   * difference goes to the server.
   */
  want(ids: Iterable<string>, formatsOf: (id: string) => readonly MediaFormat[]): void {
    this.wanted = new Map([...ids].map((id) => [id, formatsOf(id).join(',')]));
    this.sync();
  }

  private sync(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    // New streams, and streams whose formats changed, grouped by their formats.
    const adds = new Map<string, string[]>();
    for (const [id, formats] of this.wanted) {
      if (this.subscribed.get(id) === formats) continue;
      adds.set(formats, [...(adds.get(formats) ?? []), id]);
    }
    const remove = [...this.subscribed.keys()].filter((id) => !this.wanted.has(id));
    for (const [formats, cameras] of adds) {
      const list = formats.split(',') as MediaFormat[];
      // Decode times: a camera with B-frames plays through Media Source Extensions too.
      ws.send(encodeClientCommand({ cmd: 'subscribe', cameras, formats: list, decodeTimes: true }));
    }
    if (remove.length > 0) ws.send(encodeClientCommand({ cmd: 'unsubscribe', cameras: remove }));
    this.subscribed = new Map(this.wanted);
  }

  /** Streams whose handler threw already (told once each, not per frame). */
  private readonly failedStreams = new Set<string>();

  private reportOnce(stream: string, error: unknown): void {
    if (this.failedStreams.has(stream)) return;
    this.failedStreams.add(stream);
    console.error(`camplex: ${stream}: drawing a frame failed`, error);
  }

  /** Hands one frame message to its tile; a tile that throws harms no other. */
  private deliver(message: Uint8Array): void {
    const { camera, payload } = decodeFrame(message);
    try {
      this.handlers.onFrame(camera, decodePayload(payload));
    } catch (error) {
      this.reportOnce(camera, error);
    }
  }

  /** Sends a command now, if the socket is open; false when it is not (nothing is queued). */
  send(command: ClientCommand): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encodeClientCommand(command));
    return true;
  }

  private ack(bytes: number | undefined): void {
    if (bytes !== undefined && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(encodeClientCommand({ cmd: 'ack', bytes }));
    }
  }

  /** When the last frame message came (performance.now()). */
  private lastFrameAt = 0;

  /** Frames paused: what waits is acknowledged; still flowing: looked at again later. */
  private readonly flushAcks = () => {
    const quiet = performance.now() - this.lastFrameAt;
    if (quiet < ACK_FLUSH_MS) {
      this.ackTimer = setTimeout(this.flushAcks, ACK_FLUSH_MS - quiet);
      return;
    }
    this.ackTimer = undefined;
    this.ack(this.acks.flush());
  };

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    // The same schedule as a failing camera's: 0.5 s after a drop, doubling per failed connect.
    const delay = backoffDelay(this.failures + 1, Math.random, this.policy);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private onMessage(data: ArrayBuffer | string): void {
    if (typeof data !== 'string') {
      // Acked on arrival, before any tile sees it: a tile that throws must not freeze the
      // window every other camera of the page shares.
      this.ack(this.acks.take(data.byteLength));
      this.lastFrameAt = performance.now();
      if (this.acks.pending && this.ackTimer === undefined) {
        this.ackTimer = setTimeout(this.flushAcks, ACK_FLUSH_MS);
      }
      const bytes = new Uint8Array(data);
      if (isBatch(bytes)) {
        for (const frame of decodeBatch(bytes)) this.deliver(frame);
      } else {
        this.deliver(bytes);
      }
      return;
    }
    const message = decodeServerMessage(data);
    switch (message.type) {
      case 'hello': {
        this.acks.setWindow(message.maxUnackedBytes);
        // A stream hello no longer lists (a reload removed it, or this page may no longer
        // watch it) was dropped by the server: asking it to unsubscribe would be refused.
        const listed = new Set(
          message.cameras.flatMap((info) => [
            info.id,
            ...(info.substream ? [info.substream.id] : []),
          ]),
        );
        for (const id of [...this.subscribed.keys()])
          if (!listed.has(id)) this.subscribed.delete(id);
        this.handlers.onHello(message.cameras, message.groups ?? {});
        break;
      }
      case 'state': {
        const { type: _type, ...info } = message;
        this.handlers.onState(info);
        break;
      }
      case 'error':
        this.handlers.onError(message.code, message.message);
        break;
      default:
        break; // subscribed / unsubscribed acknowledgements need no action
    }
  }
}
