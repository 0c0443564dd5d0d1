/**
 * Plain-HTTP fallback for when the WebSocket cannot connect: visible tiles are fed from
 * /mjpeg/<id> while few are visible, else by polling /snapshot/<id>.jpg. MJPEG holds one of the
 * browser's ~6 connections per origin per camera, the very wall camplex exists to beat, so it is
 * used for at most MAX_MJPEG_TILES tiles; snapshots are short requests that share connections.
 */
import { MpjpegSplitter } from '../frames/mpjpeg-splitter.js';
import { MJPEG_BOUNDARY } from '../protocol/wire.js';
import type { Tile } from './tile.js';

const MAX_MJPEG_TILES = 4;
/** A part larger than this is skipped (the server's default limit). */
const MAX_FRAME_BYTES = 8 * 1024 * 1024;
const SNAPSHOT_INTERVAL_MS = 2000;
const SNAPSHOT_CONCURRENCY = 3;

export interface HttpFallbackOptions {
  /** The camplex to ask (default: the page's own origin). */
  server?: string;
  /** A camplex token, sent as `Authorization: Bearer` (pages of another origin). */
  token?: string;
}

export class HttpFallback {
  private readonly tiles: Map<string, Tile>;
  private readonly server: string | undefined;
  private readonly headers: Record<string, string>;
  private streams = new Map<string, AbortController>();
  private polled: string[] = [];
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private polling: AbortController | undefined;

  constructor(tiles: Map<string, Tile>, options: HttpFallbackOptions = {}) {
    this.tiles = tiles;
    this.server = options.server;
    this.headers = options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` };
  }

  private url(path: string): string {
    return this.server === undefined ? path : new URL(path, this.server).href;
  }

  /** Feeds exactly `ids` over HTTP from now on (an empty list stops the fallback). */
  show(ids: readonly string[]): void {
    const mjpeg = ids.length <= MAX_MJPEG_TILES ? ids : [];
    for (const [id, controller] of this.streams) {
      if (!mjpeg.includes(id)) {
        controller.abort();
        this.streams.delete(id);
      }
    }
    for (const id of mjpeg) if (!this.streams.has(id)) this.stream(id);
    this.polled = mjpeg.length > 0 ? [] : [...ids];
    for (const id of ids) this.tiles.get(id)?.setTransport(mjpeg.length > 0 ? 'mjpeg' : 'snapshot');
    // One polling loop at most: while a round is out (slow snapshots), the new list waits for
    // the next round instead of starting a loop of its own.
    if (this.polled.length > 0 && this.polling === undefined) this.poll();
    if (this.polled.length === 0) this.stopPolling();
  }

  private stream(id: string): void {
    const controller = new AbortController();
    this.streams.set(id, controller);
    const run = async () => {
      const response = await fetch(this.url(`/mjpeg/${encodeURIComponent(id)}`), {
        signal: controller.signal,
        headers: this.headers,
      });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      // The server's own splitter: parts are taken by their Content-Length and checked whole.
      const splitter = new MpjpegSplitter({
        boundary: MJPEG_BOUNDARY,
        maxFrameBytes: MAX_FRAME_BYTES,
        onFrame: (jpeg) => this.tiles.get(id)?.push({ kind: 'jpeg', data: jpeg }),
      });
      const reader = response.body.getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        splitter.push(read.value);
      }
    };
    run().catch(() => {
      // Aborted on purpose, or the server went away: try again shortly while still wanted.
      if (this.streams.get(id) !== controller) return;
      this.streams.delete(id);
      setTimeout(() => {
        if (!controller.signal.aborted && !this.streams.has(id)) this.stream(id);
      }, SNAPSHOT_INTERVAL_MS);
    });
  }

  private poll(): void {
    const controller = new AbortController();
    this.polling = controller;
    const queue = [...this.polled];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const response = await fetch(this.url(`/snapshot/${encodeURIComponent(id)}.jpg`), {
            signal: controller.signal,
            cache: 'no-store',
            headers: this.headers,
          });
          if (response.ok) {
            const data = new Uint8Array(await response.arrayBuffer());
            this.tiles.get(id)?.push({ kind: 'jpeg', data });
          }
        } catch {
          if (controller.signal.aborted) return;
        }
      }
    };
    const workers = Array.from({ length: SNAPSHOT_CONCURRENCY }, worker);
    void Promise.all(workers).then(() => {
      if (controller.signal.aborted || this.polling !== controller) return;
      this.pollTimer = setTimeout(() => {
        this.pollTimer = undefined;
        if (this.polling !== controller) return;
        this.polling = undefined;
        if (this.polled.length > 0) this.poll();
      }, SNAPSHOT_INTERVAL_MS);
    });
  }

  private stopPolling(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.polling?.abort();
    this.polling = undefined;
  }
}
