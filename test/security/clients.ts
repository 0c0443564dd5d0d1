/**
 * Well-behaved clients for the hostile-clients suite: a `ws` client that authenticates with
 * headers (the shared test viewer cannot set them) and counts whole JPEGs per camera, and a
 * plain HTTP request that sends its path byte for byte (fetch would normalise `/../`).
 */
import { request } from 'node:http';
import WebSocket from 'ws';
import { decodeFrame, type ServerMessage } from '../../src/protocol/wire.js';

export interface Client {
  readonly ws: WebSocket;
  /** Whole JPEG frames received per camera. */
  readonly frames: Map<string, number>;
  /** Binary messages that were not a whole JPEG. */
  readonly badFrames: () => number;
  /** Control messages received, in order. */
  readonly messages: ServerMessage[];
  readonly closed: Promise<{ code: number; reason: string }>;
  framesOf(camera: string): number;
  /**
   * The longest time without a whole frame of `camera` between `since` and now (Date.now()
   * milliseconds), counting the wait before the first frame after `since` and after the last.
   */
  longestGap(camera: string, since: number): number;
  /** Sends `text` and resolves with the next reply to a command (ack or error), not a state. */
  reply(text: string | Buffer, timeoutMs?: number): Promise<ServerMessage>;
}

export interface ClientOptions {
  headers?: Record<string, string>;
  localAddress?: string;
  /** Subprotocols to offer (a token rides in one). */
  protocols?: string[];
}

/** Connects with `ws` and resolves once the `hello` arrived. */
export async function connectClient(url: string, options: ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options.protocols ?? [], {
    headers: options.headers ?? {},
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const frames = new Map<string, number>();
  const arrivals = new Map<string, number[]>();
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  let bad = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const waiter of waiters) waiter();
    });
  });
  ws.on('error', () => {}); // surfaced through `closed`
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused with ${res.statusCode}`));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const { camera, payload } = decodeFrame(data);
        const n = payload.length;
        const whole =
          n > 4 && payload[0] === 0xff && payload[1] === 0xd8 && payload[n - 2] === 0xff;
        if (whole && payload[n - 1] === 0xd9) {
          frames.set(camera, (frames.get(camera) ?? 0) + 1);
          const times = arrivals.get(camera) ?? [];
          times.push(Date.now());
          arrivals.set(camera, times);
        } else bad++;
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as ServerMessage;
      messages.push(message);
      for (const waiter of waiters) waiter();
      if (message.type === 'hello') resolve();
    });
  });
  return {
    ws,
    frames,
    badFrames: () => bad,
    messages,
    closed,
    framesOf: (camera) => frames.get(camera) ?? 0,
    longestGap(camera, since) {
      const times = (arrivals.get(camera) ?? []).filter((time) => time >= since);
      let previous = since;
      let longest = 0;
      for (const time of [...times, Date.now()]) {
        longest = Math.max(longest, time - previous);
        previous = time;
      }
      return longest;
    },
    reply(text, timeoutMs = 5000) {
      const from = messages.length;
      ws.send(text);
      return new Promise<ServerMessage>((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find((m) => m.type !== 'state' && m.type !== 'hello');
          if (found) finish(() => resolve(found));
          else if (ws.readyState === WebSocket.CLOSED) {
            finish(() => reject(new Error('socket closed before a reply')));
          }
        };
        const timer = setTimeout(() => {
          finish(() => reject(new Error(`no reply within ${timeoutMs} ms`)));
        }, timeoutMs);
        function finish(settle: () => void) {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        }
        waiters.add(check);
        check();
      });
    },
  };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  localAddress?: string;
}

/** One HTTP request on its own connection; `path` goes on the wire exactly as given. */
export function httpRequest(port: number, path: string, options: HttpOptions = {}) {
  return new Promise<HttpReply>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no response to ${path} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Signs `user` in at /login; the `camplex_session=...` cookie pair to send back. */
export async function signIn(port: number, user: string, password: string): Promise<string> {
  const reply = await httpRequest(port, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `user=${encodeURIComponent(user)}&password=${encodeURIComponent(password)}`,
  });
  if (reply.status !== 303) throw new Error(`sign-in of ${user}: ${reply.status} ${reply.body}`);
  const cookie = [reply.headers['set-cookie'] ?? []]
    .flat()
    .find((line) => line.startsWith('camplex_session='));
  if (!cookie) throw new Error(`sign-in of ${user}: no session cookie`);
  return cookie.split(';')[0] ?? '';
}

/** The camera ids of the last `hello` `client` got. */
export function helloIds(client: Client): string[] {
  const hello = client.messages.filter((m) => m.type === 'hello').at(-1);
  return hello?.type === 'hello' ? hello.cameras.map((camera) => camera.id) : [];
}
