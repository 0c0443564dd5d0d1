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
 * While its camera is unmuted it plays the camera's sound in step with the pictures
 * (sound-player.ts, or the Media Source player's own sound track): `data-audio` names the
 * camera's sound codec (absent without sound), `data-audio-frames` counts sound frames played while
 * unmuted, `data-av-offset` is how far (ms) the last second's sound landed from its pictures.
 * The caption tells the truth about the tile: name, state (with the retry countdown and
 * reason), pictures per second and what draws them, and a warning when a tile that should be
 * moving has shown nothing new for STALE_AFTER_MS (`data-stale`).
 */
import type { AudioInfo, AudioUnit, CameraInfo, Payload } from '../protocol/wire.js';
import type { Decoder } from './decoder-ladder.js';
import { MsePlayer } from './mse-player.js';
import { audioDecoderUsable, SoundPlayer, VideoClock } from './sound-player.js';
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

const SOUND_NAMES: Record<AudioInfo['codec'], string> = {
  aac: 'AAC',
  opus: 'Opus',
  pcma: 'G.711',
  pcmu: 'G.711',
};

const DECODER_NAMES: Record<Decoder, string> = {
  webcodecs: 'WebCodecs',
  mse: 'MSE',
  jpeg: 'JPEG',
};

/** Where a tile's sound goes: the page's AudioContext, or its Media Source player's own track. */
type SoundOut = { kind: 'context'; player: SoundPlayer } | { kind: 'mse' };

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
  /** Where this tile's pictures are shown, by presentation time: what its sound follows. */
  private readonly clock = new VideoClock();
  /** The camera's sound while it is unmuted here. */
  private sound: { info: AudioInfo; context: AudioContext; out?: SoundOut } | undefined;
  private soundFrames = 0;
  /** How far each sound frame of the last second landed from its picture (ms). */
  private offsets: number[] = [];

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
    // Why a tile's video went to JPEG shows on it too (`data-video-failure`), for whoever looks.
    this.onVideoFailure = (id, reason) => {
      this.element.dataset.videoFailure = reason.slice(0, 200);
      onVideoFailure(id, reason);
    };
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
    if (info.audio) this.element.dataset.audio = info.audio.codec;
    else delete this.element.dataset.audio;
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

  /**
   * Accepts a JPEG (only the newest one not yet decoded is kept), a video access unit, or a
   * frame of the camera's sound (played while unmuted).
   */
  push(payload: Payload): void {
    if (payload.kind === 'jpeg') {
      this.wait({ kind: 'jpeg', jpeg: payload.data, arrivedAt: Date.now() });
      return;
    }
    if (payload.kind === 'audio') {
      this.pushSound(payload);
      return;
    }
    const frame = payload;
    if (frame.key && frame.decodeOnly) this.clock.reset(); // a new start: times may be new
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
      const sound = this.sound ? ` · sound ${SOUND_NAMES[this.sound.info.codec]}` : '';
      this.detail.textContent = this.wanted && via ? `${fps} fps · ${via}${over}${sound}` : '';
    }
    this.element.dataset.fps = String(fps);
    if (this.player instanceof MsePlayer && this.sound?.out?.kind === 'mse') {
      this.soundFrames = Math.max(this.soundFrames, this.player.soundFramesPlayed);
    }
    if (this.sound || this.soundFrames > 0)
      this.element.dataset.audioFrames = String(this.soundFrames);
    const offsets = this.offsets.splice(0);
    if (offsets.length > 0) {
      const mean = offsets.reduce((sum, offset) => sum + offset, 0) / offsets.length;
      this.element.dataset.avOffset = String(Math.round(mean));
    }
  }

  /**
   * Plays the camera's sound (`info`) here through `context`, or stops it (undefined). Needs a
   * user's gesture on the page first (browsers start no sound without one).
   */
  setSound(info: AudioInfo | undefined, context?: AudioContext): void {
    this.stopSound();
    if (info && context) this.sound = { info, context };
    if (this.sound) this.element.dataset.sound = 'on';
    else delete this.element.dataset.sound;
  }

  private pushSound(unit: AudioUnit): void {
    const sound = this.sound;
    if (!sound || unit.codec !== sound.info.codec) return;
    if (!sound.out) {
      // AAC without WebCodecs (a plain-http page): through the Media Source with the pictures.
      const mse = this.player instanceof MsePlayer ? this.player : undefined;
      if (mse && unit.codec === 'aac' && !audioDecoderUsable()) {
        mse.setSound(sound.info);
        sound.out = { kind: 'mse' };
      } else {
        const player = new SoundPlayer(sound.info, sound.context, this.clock, (offset) => {
          this.soundFrames++;
          this.offsets.push(offset);
        });
        sound.out = { kind: 'context', player };
      }
    }
    if (sound.out.kind === 'context') sound.out.player.push(unit);
    else if (this.player instanceof MsePlayer) this.player.pushAudio(unit);
  }

  private stopSound(): void {
    const out = this.sound?.out;
    if (out?.kind === 'context') out.player.close();
    if (out?.kind === 'mse' && this.player instanceof MsePlayer) this.player.setSound(undefined);
    this.sound = undefined;
  }

  /** Frees the player and any picture not yet drawn (the tile goes away or goes to JPEG). */
  close(): void {
    // The sound stays wanted; it starts again with the next player.
    const sound = this.sound;
    this.stopSound();
    if (sound) this.sound = { info: sound.info, context: sound.context };
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
      if (timestamp !== undefined) this.clock.note(timestamp, performance.now());
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
      if (picture.shown.cutAt !== undefined)
        this.clock.note(picture.shown.cutAt * 1000, performance.now());
      this.element.dataset.codec = picture.kind;
      this.shown(picture.shown);
    });
  }
}
