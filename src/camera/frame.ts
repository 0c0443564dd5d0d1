/**
 * One frame of one camera as it left the splitter: a JPEG, or an H.264 / H.265 access unit
 * (Annex B, one picture), with whether a decoder can start at it, numbered and timed.
 */
export type Codec = 'jpeg' | 'h264' | 'h265';

export class Frame {
  /** The encoded picture (a view into ffmpeg's output; nothing writes to it). */
  readonly data: Uint8Array;
  /** Per-camera frame counter since camplex started. */
  readonly seq: number;
  /** Clock time (ms since epoch, sub-millisecond) the frame left the splitter. */
  readonly at: number;
  readonly codec: Codec;
  /** A decoder can start here: every JPEG; an IDR (H.264) or IRAP (H.265) access unit. */
  readonly key: boolean;
  /**
   * Where a consumer keeps what it built from this frame to share with every viewer (the
   * socket layer's wire message). The camera never reads it.
   */
  encoded: unknown = undefined;

  constructor(data: Uint8Array, seq: number, at: number, codec: Codec = 'jpeg', key = true) {
    this.data = data;
    this.seq = seq;
    this.at = at;
    this.codec = codec;
    this.key = key;
  }

  /** `at` in whole microseconds, as the wire and decoders count time. */
  get timestamp(): number {
    return Math.round(this.at * 1000);
  }
}
