/**
 * One camera tile: a canvas that draws the newest picture of its camera, a JPEG or a decoded
 * video frame. JPEGs decode off the main thread (createImageBitmap), at most one at a time with
 * only the newest waiting; video goes through a VideoPlayer (WebCodecs). Either way a busy page
 * skips pictures instead of queueing them, at most one is drawn per animation frame, and every
 * bitmap and VideoFrame is closed, drawn or not.
 */
import type { CameraInfo, VideoUnit } from '../protocol/wire.js';
import { VideoPlayer } from './video-player.js';

type Picture = { kind: 'jpeg'; image: ImageBitmap } | { kind: 'h264' | 'h265'; image: VideoFrame };

export class Tile {
  readonly element: HTMLElement;
  readonly id: string;
  private readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly label: HTMLElement;
  private frames = 0;
  private waiting: Uint8Array | undefined;
  private decoding = false;
  private ready: Picture | undefined;
  private drawScheduled = false;
  private countdown: ReturnType<typeof setInterval> | undefined;
  private codecString: string | undefined;
  /** The codec of the last video unit taken (what its pictures are drawn as). */
  private lastCodec: 'h264' | 'h265' = 'h264';
  private readonly video: VideoPlayer;

  /** `onVideoFailure` is told when this tile's video keeps failing to decode (use JPEG then). */
  constructor(info: CameraInfo, onVideoFailure: (id: string, reason: string) => void = () => {}) {
    this.video = new VideoPlayer(
      (frame) => this.show({ kind: this.lastCodec, image: frame }),
      (reason) => onVideoFailure(this.id, reason),
    );
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
    if (info.codecString !== undefined) this.codecString = info.codecString;
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

  /** Accepts a JPEG (only the newest one not yet decoded is kept) or a video access unit. */
  push(frame: Uint8Array | VideoUnit): void {
    if (frame instanceof Uint8Array) {
      this.waiting = frame;
      if (!this.decoding) void this.decodeNext();
      return;
    }
    this.lastCodec = frame.codec;
    this.video.push(frame, this.codecString);
  }

  /** Frees the decoder and any picture not yet drawn (the tile goes away or goes quiet). */
  close(): void {
    this.video.close();
    this.ready?.image.close();
    this.ready = undefined;
  }

  /** The newest picture to draw: one not yet drawn is closed, a newer one wins. */
  private show(picture: Picture): void {
    this.ready?.image.close();
    this.ready = picture;
    this.scheduleDraw();
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
      this.show({ kind: 'jpeg', image: bitmap });
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
      const picture = this.ready;
      if (!picture) return;
      this.ready = undefined;
      const { image } = picture;
      const [width, height] =
        picture.kind === 'jpeg'
          ? [picture.image.width, picture.image.height]
          : [picture.image.displayWidth, picture.image.displayHeight];
      if (this.canvas.width !== width || this.canvas.height !== height) {
        this.canvas.width = width;
        this.canvas.height = height;
      }
      this.context.drawImage(image, 0, 0);
      image.close();
      this.frames++;
      this.element.dataset.frames = String(this.frames);
      this.element.dataset.codec = picture.kind;
    });
  }
}
