/** A WebSocket viewer for integration tests: real `ws` client, counts valid JPEGs per camera. */
import WebSocket from 'ws';
import type { ServerMessage } from '../src/protocol/wire.js';
import { decodeFrame, decodeServerMessage } from '../src/protocol/wire.js';

export interface TestViewer {
  readonly ws: WebSocket;
  /** Valid JPEG frames received per camera. */
  readonly frames: Map<string, number>;
  /** Binary messages whose payload was not a whole JPEG. */
  readonly badFrames: number;
  /** Every control message received, in order. */
  readonly messages: ServerMessage[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(command: unknown): void;
  framesOf(camera: string): number;
}

/** Connects and resolves with the viewer once the `hello` arrived. */
export async function connectViewer(
  url: string,
  protocols?: string | string[],
): Promise<TestViewer> {
  const ws = new WebSocket(url, protocols);
  const frames = new Map<string, number>();
  const messages: ServerMessage[] = [];
  let badFrames = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => {}); // surfaced through `closed`
  const hello = new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const { camera, payload } = decodeFrame(data);
        const n = payload.length;
        const whole =
          n > 4 &&
          payload[0] === 0xff &&
          payload[1] === 0xd8 &&
          payload[n - 2] === 0xff &&
          payload[n - 1] === 0xd9;
        if (whole) frames.set(camera, (frames.get(camera) ?? 0) + 1);
        else badFrames++;
        return;
      }
      const message = decodeServerMessage(data.toString('utf8'));
      messages.push(message);
      if (message.type === 'hello') resolve();
    });
  });
  await hello;
  return {
    ws,
    frames,
    get badFrames() {
      return badFrames;
    },
    messages,
    closed,
    send: (command) => ws.send(typeof command === 'string' ? command : JSON.stringify(command)),
    framesOf: (camera) => frames.get(camera) ?? 0,
  };
}
