/**
 * One camera tile. A canvas shows the newest picture of its camera, a JPEG or a video frame
 * WebCodecs decoded: each becomes an ImageBitmap off the main thread (createImageBitmap), at
 * most one at a time with only the newest waiting, so a busy page skips pictures instead of
 * queueing them; at most one is shown per animation frame, handed to the canvas whole
 * (`bitmaprenderer`: no 2D drawing, which in WebKit cost so much that a 16-camera wall showed
 * 3-6 pictures a second of 10-15), and every bitmap and VideoFrame is closed, shown or not. Where
 * the page plays video through Media Source Extensions instead, the tile shows that player's
 * <video> in place of the canvas. `data-decoder` names what drew the last picture, `data-frames`
 * counts pictures shown, and each one is announced with a `camplex-picture` event (PictureEvent).
 * The caption tells the truth about the tile: name, state (with the retry countdown and
 * reason), pictures per second and what draws them, and a warning when a tile that should be
 * moving has shown nothing new for STALE_AFTER_MS (`data-stale`).
 */
import type { CameraInfo, VideoUnit } from '../protocol/wire.js';
import type { Decoder } from './decoder-ladder.js';
import { MsePlayer } from './mse-player.js';
import { WebCodecsPlayer } from './webcodecs-player.js';

/** The detail of the `camplex-picture` event a tile's element fires for each picture shown. */
export interface PictureEvent {
  decoder: Decoder;
  /** When camplex cut the picture's unit from ffmpeg's output (Date.now() ms; video only). */
  cutAt?: number;
  /** When the picture's message reached the page (Date.now() ms; JPEG only). */
  arrivedAt?: number;
}

/** A wanted, live tile whose newest picture is older than this is marked stale. */
export const STALE_AFTER_MS = 3000;

const DECODER_NAMES: Record<Decoder, string> = {
  webcodecs: 'WebCodecs',
  mse: 'MSE',
  jpeg: 'JPEG',
};

/** What waits to become a picture: a JPEG's bytes, or a decoded video frame. */
type Source =
  | { kind: 'jpeg'; jpeg: Uint8Array; arrivedAt: number }
  | { kind: 'h264' | 'h265'; frame: VideoFrame };

/** A picture ready to show, and what its showing tells. */
interface Picture {
  kind: 'jpeg' | 'h264' | 'h265';
  image: ImageBitmap;
  shown: PictureEvent;
}

/** Shows a bitmap on a canvas: handed over whole where the engine can, else drawn in 2D. */
type Surface = (image: ImageBitmap) => void;

function surfaceOf(canvas: HTMLCanvasElement): Surface {
  const renderer = canvas.getContext('bitmaprenderer');
  if (renderer) return (image) => renderer.transferFromImageBitmap(image);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('canvas has neither a bitmaprenderer nor a 2d context');
  return (image) => context.drawImage(image, 0, 0);
}

export class Tile {
  readonly element: HTMLElement;
  readonly id: string;
  private readonly canvas: HTMLCanvasElement;
  private readonly surface: Surface;
  private readonly label: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly nameLabel: HTMLElement;
  private frames = 0;
  /** Pictures shown at the last tick, and when the newest was shown (Date.now()). */
  private framesAtTick = 0;
  private tickAt = Date.now();
  private lastPictureAt = 0;
  /** Whether this tile is subscribed now (streaming on, on screen, tab visible). */
  private wanted = false;
  private state: CameraInfo['state'] = 'idle';
  private waiting: Source | undefined;
  private decoding = false;
  private ready: Picture | undefined;
  private drawScheduled = false;
  private countdown: ReturnType<typeof setInterval> | undefined;
  private codecString: string | undefined;
  /** The codec of the last video unit taken (what its pictures are drawn as). */
  private lastCodec: 'h264' | 'h265' = 'h264';
  /** Plays this tile's video units; made with the first one, dropped by close(). */
  private player: WebCodecsPlayer | MsePlayer | undefined;
  private readonly videoDecoder: 'webcodecs' | 'mse';
  private readonly onVideoFailure: (id: string, reason: string) => void;
  /** The player threw: no more video to it until the page gives this tile JPEG. */
  private failed = false;

  /**
   * Video units are played with `videoDecoder`; `onVideoFailure` is told when this tile's video
   * keeps failing to play (use JPEG then).
   */
  constructor(
    info: CameraInfo,
    videoDecoder: 'webcodecs' | 'mse' = 'webcodecs',
    onVideoFailure: (id: string, reason: string) => void = () => {},
  ) {
    this.videoDecoder = videoDecoder;
    this.onVideoFailure = onVideoFailure;
    this.id = info.id;
    this.element = document.createElement('figure');
    this.element.className = 'tile';
    this.element.tabIndex = 0;
    this.element.dataset.camera = info.id;
    this.element.dataset.frames = '0';
    this.element.dataset.transport = 'socket';
    this.canvas = document.createElement('canvas');
    this.canvas.width = 640;
    this.canvas.height = 360;
    this.surface = surfaceOf(this.canvas);
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'name';
    this.nameLabel = name;
    this.label = document.createElement('span');
    this.label.className = 'state';
    this.detail = document.createElement('span');
    this.detail.className = 'detail';
    caption.append(name, this.detail, this.label);
    this.element.append(this.canvas, caption);
    this.setState(info);
  }

  /** How frames reach this tile now: the WebSocket, or one of the HTTP fallbacks. */
  setTransport(transport: 'socket' | 'mjpeg' | 'snapshot'): void {
    this.element.dataset.transport = transport;
  }

  setState(info: CameraInfo): void {
    this.nameLabel.textContent = info.name;
    this.element.setAttribute('aria-label', info.name);
    this.element.dataset.state = info.state;
    this.state = info.state;
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
      this.wait({ kind: 'jpeg', jpeg: frame, arrivedAt: Date.now() });
      return;
    }
    this.lastCodec = frame.codec;
    if (this.failed) return; // JPEG is on its way (onVideoFailure told the page)
    try {
      this.player ??= this.makePlayer();
      this.player.push(frame, this.codecString);
    } catch (error) {
      // This tile's player broke (e.g. an engine without requestVideoFrameCallback): it alone
      // moves on to JPEG, once; the page's other tiles and its acks go on.
      this.failed = true;
      this.close();
      this.onVideoFailure(this.id, `player threw: ${(error as Error).message}`);
    }
  }

  /** Whether the tile is subscribed now: only a wanted tile can be stale. */
  setWanted(wanted: boolean): void {
    if (wanted && !this.wanted) this.lastPictureAt = Date.now(); // its first picture is on its way
    this.wanted = wanted;
    if (!wanted) delete this.element.dataset.stale;
  }

  /** Called about once a second: pictures per second and staleness in the caption. */
  tick(): void {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.tickAt) / 1000);
    const fps = Math.round((this.frames - this.framesAtTick) / seconds);
    this.framesAtTick = this.frames;
    this.tickAt = now;
    const decoder = this.element.dataset.decoder as Decoder | undefined;
    const codec = this.element.dataset.codec;
    const video = codec === 'h264' ? 'H.264 ' : codec === 'h265' ? 'H.265 ' : '';
    const via = decoder ? `${video}${DECODER_NAMES[decoder]}` : '';
    const transport = this.element.dataset.transport;
    const over = transport && transport !== 'socket' ? ` over ${transport}` : '';
    const staleFor = now - this.lastPictureAt;
    const stale = this.wanted && this.state === 'live' && staleFor > STALE_AFTER_MS;
    if (stale) {
      this.element.dataset.stale = String(Math.floor(staleFor / 1000));
      this.detail.textContent = `no new picture for ${Math.floor(staleFor / 1000)} s`;
    } else {
      delete this.element.dataset.stale;
      this.detail.textContent = this.wanted && via ? `${fps} fps · ${via}${over}` : '';
    }
    this.element.dataset.fps = String(fps);
  }

  /** Frees the player and any picture not yet drawn (the tile goes away or goes to JPEG). */
  close(): void {
    this.player?.close();
    if (this.player instanceof MsePlayer) this.player.element.remove();
    this.player = undefined;
    this.ready?.image.close();
    this.ready = undefined;
    this.dropWaiting();
  }

  private makePlayer(): WebCodecsPlayer | MsePlayer {
    const onFailure = (reason: string) => this.onVideoFailure(this.id, reason);
    if (this.videoDecoder === 'webcodecs') {
      return new WebCodecsPlayer((frame) => this.wait({ kind: this.lastCodec, frame }), onFailure);
    }
    const player = new MsePlayer((timestamp) => {
      this.element.dataset.codec = 'h264';
      this.shown({ decoder: 'mse', cutAt: timestamp === undefined ? undefined : timestamp / 1000 });
    }, onFailure);
    this.canvas.after(player.element);
    return player;
  }

  /** Counts a picture shown and tells whoever listens. */
  private shown(picture: PictureEvent): void {
    this.frames++;
    this.lastPictureAt = Date.now();
    this.element.dataset.frames = String(this.frames);
    this.element.dataset.decoder = picture.decoder;
    this.element.dispatchEvent(new CustomEvent('camplex-picture', { detail: picture }));
  }

  /** The newest source to make a picture of: one still waiting is dropped (its frame closed). */
  private wait(source: Source): void {
    this.dropWaiting();
    this.waiting = source;
    if (!this.decoding) void this.decodeNext();
  }

  private dropWaiting(): void {
    const waiting = this.waiting;
    if (waiting && waiting.kind !== 'jpeg') waiting.frame.close();
    this.waiting = undefined;
  }

  /** The newest picture to show: one not yet shown is closed, a newer one wins. */
  private show(picture: Picture): void {
    this.ready?.image.close();
    this.ready = picture;
    this.scheduleDraw();
  }

  private async decodeNext(): Promise<void> {
    const source = this.waiting;
    if (!source) return;
    this.waiting = undefined;
    this.decoding = true;
    try {
      if (source.kind === 'jpeg') {
        const image = await createImageBitmap(
          new Blob([source.jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
        );
        this.show({ kind: 'jpeg', image, shown: { decoder: 'jpeg', arrivedAt: source.arrivedAt } });
      } else {
        const { frame } = source;
        const cutAt = frame.timestamp / 1000;
        try {
          const image = await createImageBitmap(frame);
          this.show({ kind: source.kind, image, shown: { decoder: 'webcodecs', cutAt } });
        } finally {
          frame.close();
        }
      }
    } catch {
      // a picture the browser cannot decode is skipped; the next one replaces it
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
      // The canvas's size is the picture's (its aspect ratio for object-fit): set only when it
      // changes, since setting it clears the canvas.
      if (this.canvas.width !== image.width || this.canvas.height !== image.height) {
        this.canvas.width = image.width;
        this.canvas.height = image.height;
      }
      this.surface(image);
      image.close();
      this.element.dataset.codec = picture.kind;
      this.shown(picture.shown);
    });
  }
}
