/** One frame of one camera: the JPEG as the splitter cut it, numbered and timed. */
export class Frame {
  /** The JPEG (a view into ffmpeg's output; nothing writes to it). */
  readonly jpeg: Uint8Array;
  /** Per-camera frame counter since camplex started. */
  readonly seq: number;
  /** Clock time (ms since epoch, sub-millisecond) the frame left the splitter. */
  readonly at: number;
  /**
   * Where a consumer keeps what it built from this frame to share with every viewer (the
   * socket layer's wire message). The camera never reads it.
   */
  encoded: unknown = undefined;

  constructor(jpeg: Uint8Array, seq: number, at: number) {
    this.jpeg = jpeg;
    this.seq = seq;
    this.at = at;
  }
}
