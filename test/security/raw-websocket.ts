/**
 * A hand-made WebSocket client on a raw TCP socket, for what `ws` refuses to send: malformed
 * handshakes, unmasked or oversized frames, reserved bits, bad close codes, random bytes.
 * Frames are built byte by byte (RFC 6455 section 5.2); frames from the server are parsed just
 * enough to find text messages, pongs and the close code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Reserved bits of the first header byte. */
export const Rsv = { RSV1: 0x40, RSV2: 0x20, RSV3: 0x10 } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** OR of `Rsv` bits. */
  rsv?: number;
  /** Default true: clients must mask (section 5.3). */
  masked?: boolean;
  /** A length to announce instead of the payload's own (to claim a huge message). */
  declaredLength?: number;
  /** The 4-byte masking key; random when not given. */
  maskKey?: Uint8Array;
}

/** Encodes one frame as a client would put it on the wire. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : Buffer.from(spec.payload ?? []);
  const length = spec.declaredLength ?? payload.length;
  const masked = spec.masked ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | (spec.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, maskBit | length]);
  } else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header.writeUInt16BE(length, 2);
    header[1] = maskBit | 126;
  } else {
    header = Buffer.alloc(10);
    header.writeBigUInt64BE(BigInt(length), 2);
    header[1] = maskBit | 127;
  }
  header[0] = first;
  if (!masked) return Buffer.concat([header, payload]);
  const key = spec.maskKey ?? randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([header, key, body]);
}

/** A close frame's payload: the code, then an optional reason. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Splits the server's (unmasked) byte stream into frames. */
export class FrameParser {
  private buffered = Buffer.alloc(0);

  push(chunk: Buffer): ServerFrame[] {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const frames: ServerFrame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  private next(): ServerFrame | undefined {
    const data = this.buffered;
    if (data.length < 2) return undefined;
    let length = (data[1] ?? 0) & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (data.length < 4) return undefined;
      length = data.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (data.length < 10) return undefined;
      length = Number(data.readBigUInt64BE(2));
      offset = 10;
    }
    if (data.length < offset + length) return undefined;
    this.buffered = data.subarray(offset + length);
    return {
      fin: ((data[0] ?? 0) & 0x80) !== 0,
      opcode: (data[0] ?? 0) & 0x0f,
      payload: Buffer.from(data.subarray(offset, offset + length)),
    };
  }
}

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  body: string;
  /** Bytes after the head of a 101 response (the first WebSocket frames). */
  rest: Buffer;
  socket: Socket;
  /** Resolves once the connection is closed (by either side). */
  closed: Promise<void>;
}

export interface RawTarget {
  port: number;
  /** A local loopback address to connect from (127.0.0.x), so per-address limits are apart. */
  localAddress?: string;
}

/**
 * Writes `request` (the whole request head, CRLF line ends) on a fresh connection and resolves
 * with the response once its head and (Content-Length) body arrived, or the server closed.
 */
export function rawRequest(
  target: RawTarget,
  request: string | Buffer,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      port: target.port,
      host: '127.0.0.1',
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let received = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`no response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function fail(error: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
    function tryParse(ended: boolean): void {
      if (settled) return;
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (ended) fail(new Error(`connection closed after ${received.length} bytes, no head`));
        return;
      }
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? Number.NaN);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const after = received.subarray(end + 4);
      const length = headers.get('content-length');
      if (status !== 101 && !ended && (length === undefined || after.length < Number(length))) {
        return; // body incomplete: wait for more, or for the close
      }
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      const body = status === 101 ? '' : after.toString('utf8');
      resolve({
        status,
        headers,
        body,
        rest: status === 101 ? after : Buffer.alloc(0),
        socket,
        closed,
      });
    }
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryParse(false);
    };
    socket.on('data', onData);
    socket.on('error', () => {}); // a reset after the response is the server's business
    socket.once('close', () => tryParse(true));
    socket.write(request);
  });
}

export interface HandshakeOptions {
  path?: string;
  method?: string;
  /** Header lines; a value of undefined leaves that default header out. */
  headers?: Record<string, string | undefined>;
  host?: string;
}

/** A WebSocket opening handshake (RFC 6455 section 4.1), with every default overridable. */
export function handshake(options: HandshakeOptions = {}): { text: string; key: string } {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string | undefined> = {
    Host: options.host ?? '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  const lines = Object.entries(headers)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}: ${value}`);
  const head = `${options.method ?? 'GET'} ${options.path ?? '/ws/cameras'} HTTP/1.1`;
  return { text: `${[head, ...lines].join('\r\n')}\r\n\r\n`, key };
}

/** The Sec-WebSocket-Accept a server must answer to `key`. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** An open WebSocket on a raw socket: write any bytes, read what the server sends. */
export class RawWebSocket {
  readonly socket: Socket;
  /** Every frame received so far. */
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<void>;
  private readonly parser = new FrameParser();
  private readonly waiters = new Set<() => void>();
  private ended = false;

  constructor(response: RawResponse) {
    this.socket = response.socket;
    this.closed = response.closed.then(() => {
      this.ended = true;
      this.wake();
    });
    this.socket.on('data', (chunk: Buffer) => this.take(chunk));
    if (response.rest.length > 0) this.take(response.rest);
  }

  /** Writes raw bytes (frames from buildFrame, or anything else). */
  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Resolves with the first frame since `from` that matches, or undefined once closed. */
  async frame(
    match: (frame: ServerFrame) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<ServerFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found || this.ended) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /** The close frame the server sent, as code and reason; throws if none came in time. */
  async closeFrame(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const frame = await this.frame((f) => f.opcode === Opcode.CLOSE, timeoutMs);
    if (!frame) throw new Error('the connection ended without a close frame');
    return {
      code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
      reason: frame.payload.subarray(2).toString('utf8'),
    };
  }

  /** Text messages received, parsed as JSON. */
  texts(): Array<Record<string, unknown>> {
    return this.frames
      .filter((f) => f.opcode === Opcode.TEXT)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private take(chunk: Buffer): void {
    this.frames.push(...this.parser.push(chunk));
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
    this.waiters.clear();
  }
}

/** Opens a WebSocket by hand and checks the 101 and its Sec-WebSocket-Accept. */
export async function openRawWebSocket(
  target: RawTarget,
  headers: Record<string, string | undefined>,
): Promise<RawWebSocket> {
  const { text, key } = handshake({ headers });
  const response = await rawRequest(target, text);
  if (response.status !== 101) {
    response.socket.destroy();
    throw new Error(`expected 101, got ${response.status}: ${response.body}`);
  }
  if (response.headers.get('sec-websocket-accept') !== acceptFor(key)) {
    response.socket.destroy();
    throw new Error('wrong Sec-WebSocket-Accept');
  }
  return new RawWebSocket(response);
}

export interface Trickle {
  /** Everything the server sent. */
  received: string;
  linesSent: number;
  /** Who ended the connection: the server, or this client on reaching `maxLines`. */
  closedBy: 'server' | 'bound';
}

/**
 * Slowloris: writes `head` (an unfinished request head), then one more header line every
 * `intervalMs`, never the blank line that ends the head, until the server closes the
 * connection or `maxLines` were sent.
 */
export function trickleHeaders(
  target: RawTarget,
  head: string,
  options: { maxLines: number; intervalMs: number },
): Promise<Trickle> {
  return new Promise((resolve) => {
    const socket = connect({
      port: target.port,
      host: '127.0.0.1',
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    let received = '';
    let linesSent = 0;
    let closedBy: Trickle['closedBy'] = 'server';
    const timer = setInterval(() => {
      if (linesSent >= options.maxLines) {
        closedBy = 'bound';
        socket.destroy();
        return;
      }
      socket.write(`X-Slow-${linesSent++}: y\r\n`);
    }, options.intervalMs);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      received += text;
    });
    socket.on('error', () => {}); // a reset is one way for the server to end it
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ received, linesSent, closedBy });
    });
    socket.write(head);
  });
}
