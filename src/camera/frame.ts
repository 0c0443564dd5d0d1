/** One frame of one camera, encoded for the wire once and shared by every viewer. */
import { encodeExtendedFrame, encodeFrame } from '../protocol/wire.js';

export class Frame {
  /** The default binary message: `[id length][id][JPEG]`. */
  readonly message: Uint8Array;
  /** The JPEG alone (a view into `message`). */
  readonly jpeg: Uint8Array;
  /** Per-camera frame counter since camplex started. */
  readonly seq: number;
  /** Clock time (ms since epoch, sub-millisecond) the frame left the splitter. */
  readonly at: number;
  private readonly prefix: Uint8Array;
  private extendedMessage: Uint8Array | undefined;

  constructor(prefix: Uint8Array, jpeg: Uint8Array, seq: number, at: number) {
    this.prefix = prefix;
    // Not zero-filled first: the copy writes every byte, and this runs for every frame.
    this.message = encodeFrame(prefix, jpeg, Buffer.allocUnsafe);
    this.jpeg = this.message.subarray(prefix.length);
    this.seq = seq;
    this.at = at;
  }

  /** The extended-layout message, built on first use and then shared like `message`. */
  extended(): Uint8Array {
    this.extendedMessage ??= encodeExtendedFrame(this.prefix, this.seq, this.at, this.jpeg);
    return this.extendedMessage;
  }
}
