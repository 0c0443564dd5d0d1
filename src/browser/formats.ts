/**
 * What each camera is asked for over the socket, best first: its video when this page plays its
 * exact codec (decoder-ladder.ts), JPEG always, and its sound for the one camera unmuted, when
 * this page plays that sound (sound-player.ts, or the Media Source of a tile playing through MSE).
 * A camera drops to JPEG for good on this page when its codec turns out not to play, when
 * playing keeps failing, or when it is past the page's MAX_MSE_PLAYERS.
 */
import { cameraOfStream } from '../common/camera-id.js';
import type { AudioInfo, CameraInfo, MediaFormat } from '../protocol/wire.js';
import type { PageVideo } from './decoder-ladder.js';
import { msePlaysAac } from './mse-player.js';
import { playsSound } from './sound-player.js';

/**
 * Cameras of a page that get a Media Source player; the rest get JPEG. Chromium refuses the
 * 1001st media player of a page on the desktop (measured) and allows far fewer on phones; past
 * a few dozen live players a phone's decoders are the limit anyway.
 */
export const MAX_MSE_PLAYERS = 64;

export class Formats {
  private readonly video: PageVideo | undefined;
  private readonly onJpeg: (id: string) => void;
  private readonly onSoundKnown: () => void;
  /** Cameras that get JPEG on this page. */
  private readonly jpegOnly = new Set<string>();
  private readonly players = new Set<string>();
  /** Streams already asked about (by codec string), and the answer. */
  private readonly checked = new Map<string, Promise<boolean>>();
  /** Sounds already asked about (codec and configuration), and the answer once it came. */
  private readonly sounds = new Map<string, boolean>();
  /** The stream whose sound is wanted (one at a time on a page). */
  private sounding: string | undefined;

  /**
   * `onJpeg` is told when a camera drops to JPEG (close its player, subscribe again);
   * `onSoundKnown` when it is known that a sound plays here (subscribe again, with it).
   */
  constructor(
    video: PageVideo | undefined,
    onJpeg: (id: string) => void,
    onSoundKnown: () => void = () => {},
  ) {
    this.video = video;
    this.onJpeg = onJpeg;
    this.onSoundKnown = onSoundKnown;
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

  /** What `stream` is asked for in, best first (with `sound`: its codec, when it plays here). */
  of(stream: string, sound?: AudioInfo): MediaFormat[] {
    const extra =
      stream === this.sounding && sound && this.playsSound(stream, sound) ? [sound.codec] : [];
    if (!this.video || this.jpegOnly.has(cameraOfStream(stream))) return ['jpeg', ...extra];
    return [...this.video.formats, 'jpeg', ...extra];
  }

  /** Wants the sound of `stream` (one at a time), or of none. */
  setSounding(stream: string | undefined): void {
    this.sounding = stream;
  }

  /**
   * Whether this page plays `sound` for `stream`: known after `check` of its camera (false
   * until then). AAC plays through the tile's Media Source where WebCodecs cannot decode it.
   */
  playsSound(stream: string, sound: AudioInfo): boolean {
    const through = this.jpegOnly.has(cameraOfStream(stream))
      ? 'jpeg'
      : (this.video?.decoder ?? 'jpeg');
    const answer = this.sounds.get(soundKey(sound));
    if (answer) return true;
    return through === 'mse' && sound.codec === 'aac' && msePlaysAac();
  }

  /** Once a stream's exact codecs are known, asks the page's decoders whether they play them. */
  check(info: CameraInfo): void {
    const sound = info.audio;
    if (sound && !this.sounds.has(soundKey(sound))) {
      this.sounds.set(soundKey(sound), false);
      void playsSound(sound)
        .then((yes) => {
          this.sounds.set(soundKey(sound), yes);
          if (yes) this.onSoundKnown();
        })
        .catch((error: unknown) => console.error('camplex: checking a sound codec failed', error));
    }
    const { video } = this;
    const codecString = info.codecString;
    if (codecString === undefined || !video || this.jpegOnly.has(info.id)) return;
    const key = codecString;
    let answer = this.checked.get(key);
    if (!answer) {
      answer = video.plays({ codecString });
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

function soundKey(sound: AudioInfo): string {
  return `${sound.codecString} ${sound.rate} ${sound.channels} ${sound.config ?? ''}`;
}
