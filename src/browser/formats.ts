/**
 * What each camera is asked for over the socket, best first: its video when this page plays its
 * exact codec (decoder-ladder.ts), JPEG always. A camera drops to JPEG for good on this page when
 * its codec turns out not to play, when playing keeps failing, or when it is past the page's
 * MAX_MSE_PLAYERS.
 */
import { cameraOfStream } from '../common/camera-id.js';
import type { CameraInfo, MediaFormat } from '../protocol/wire.js';
import type { PageVideo } from './decoder-ladder.js';

/**
 * Cameras of a page that get a Media Source player; the rest get JPEG. Chromium refuses the
 * 1001st media player of a page on the desktop (measured) and allows far fewer on phones; past
 * a few dozen live players a phone's decoders are the limit anyway.
 */
export const MAX_MSE_PLAYERS = 64;

export class Formats {
  private readonly video: PageVideo | undefined;
  private readonly onJpeg: (id: string) => void;
  /** Cameras that get JPEG on this page. */
  private readonly jpegOnly = new Set<string>();
  private readonly players = new Set<string>();
  /** Streams already asked about (codec string, B-frames or not), and the answer. */
  private readonly checked = new Map<string, Promise<boolean>>();

  /** `onJpeg` is told when a camera drops to JPEG (close its player, subscribe again). */
  constructor(video: PageVideo | undefined, onJpeg: (id: string) => void) {
    this.video = video;
    this.onJpeg = onJpeg;
  }

  /** What plays a new tile's video on this page. */
  get decoder(): 'webcodecs' | 'mse' | undefined {
    return this.video?.decoder;
  }

  /** A tile for camera `id` is made: it gets an MSE player while there are some to give. */
  add(id: string): void {
    if (this.video?.decoder !== 'mse' || this.players.has(id)) return;
    if (this.players.size < MAX_MSE_PLAYERS) this.players.add(id);
    else this.jpegOnly.add(id);
  }

  /** What `stream` is asked for in, best first. */
  of(stream: string): MediaFormat[] {
    if (!this.video || this.jpegOnly.has(cameraOfStream(stream))) return ['jpeg'];
    return [...this.video.formats, 'jpeg'];
  }

  /** Once a stream's exact codec string is known, asks the page's decoder whether it plays it. */
  check(info: CameraInfo): void {
    const { video } = this;
    const codecString = info.codecString;
    if (codecString === undefined || !video || this.jpegOnly.has(info.id)) return;
    const key = `${codecString}${info.bframes ? ' with B-frames' : ''}`;
    let answer = this.checked.get(key);
    if (!answer) {
      answer = video.plays({ codecString, bframes: info.bframes });
      this.checked.set(key, answer);
    }
    // No answer counts as no: JPEG always plays.
    answer.then(
      (supported) => {
        if (!supported) this.toJpeg(info.id);
      },
      () => this.toJpeg(info.id),
    );
  }

  /** Camera `id` gets JPEG from now on. */
  toJpeg(id: string): void {
    if (this.jpegOnly.has(id)) return;
    this.jpegOnly.add(id);
    this.onJpeg(id);
  }
}
