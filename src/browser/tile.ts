/**
 * One camera tile: a canvas that draws the newest JPEG of its camera. Decoding runs off the main
 * thread (createImageBitmap); at most one decode is in flight and only the newest frame waits,
 * so a busy page skips frames instead of queueing them. Every bitmap is closed once drawn.
 */
import type { CameraInfo } from '../protocol/wire.js';

export class Tile {
  readonly element: HTMLElement;
  readonly id: string;
  private readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly label: HTMLElement;
  private frames = 0;
  private waiting: Uint8Array | undefined;
  private decoding = false;
  private ready: ImageBitmap | undefined;
  private drawScheduled = false;
  private countdown: ReturnType<typeof setInterval> | undefined;

  constructor(info: CameraInfo) {
    this.id = info.id;
    this.element = document.createElement('figure');
    this.element.className = 'tile';
    this.element.dataset.camera = info.id;
    this.element.dataset.frames = '0';
    this.element.dataset.transport = 'socket';
    this.canvas = document.createElement('canvas');
    this.canvas.width = 640;
    this.canvas.height = 360;
    const context = this.canvas.getContext('2d');
    if (!context) throw new Error('canvas 2d context unavailable');
    this.context = context;
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = info.name;
    this.label = document.createElement('span');
    this.label.className = 'state';
    caption.append(name, this.label);
    this.element.append(this.canvas, caption);
    this.setState(info);
  }

  /** How frames reach this tile now: the WebSocket, or one of the HTTP fallbacks. */
  setTransport(transport: 'socket' | 'mjpeg' | 'snapshot'): void {
    this.element.dataset.transport = transport;
  }

  setState(info: CameraInfo): void {
    this.element.dataset.state = info.state;
    clearInterval(this.countdown);
    this.countdown = undefined;
    const failing = info.state === 'retrying' || info.state === 'offline';
    if (failing && info.retryInMs !== undefined) {
      const retryAt = Date.now() + info.retryInMs;
      const prefix = info.state === 'offline' ? 'offline - ' : '';
      const render = () => {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        const reason = info.reason ?? 'unknown error';
        this.label.textContent = `${prefix}retrying in ${seconds} s - ${reason}`;
      };
      render();
      this.countdown = setInterval(render, 1000);
    } else {
      this.label.textContent = info.state;
    }
  }

  /** Accepts a JPEG; only the newest one not yet decoded is kept. */
  push(jpeg: Uint8Array): void {
    this.waiting = jpeg;
    if (!this.decoding) void this.decodeNext();
  }

  private async decodeNext(): Promise<void> {
    const jpeg = this.waiting;
    if (!jpeg) return;
    this.waiting = undefined;
    this.decoding = true;
    try {
      const bitmap = await createImageBitmap(
        new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
      );
      this.ready?.close(); // decoded but never drawn: a newer frame wins
      this.ready = bitmap;
      this.scheduleDraw();
    } catch {
      // a frame the browser cannot decode is skipped; the next one replaces it
    } finally {
      this.decoding = false;
      if (this.waiting) void this.decodeNext();
    }
  }

  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      const bitmap = this.ready;
      if (!bitmap) return;
      this.ready = undefined;
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      this.context.drawImage(bitmap, 0, 0);
      bitmap.close();
      this.frames++;
      this.element.dataset.frames = String(this.frames);
    });
  }
}
