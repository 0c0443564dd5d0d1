/**
 * One unit of one camera as it left the splitter: a picture (a JPEG, or an H.264 / H.265 access
 * unit in Annex B) or a frame of its sound (AAC, Opus, G.711), with whether a decoder can start
 * at it, numbered and timed: when camplex received it, and where the camera put it on its own
 * clock (presentation and decode time, moved onto camplex's clock by one offset per stream, so
 * the camera's reordering and the place of its sound against its pictures are kept).
 */
import { type AudioCodec, type Codec, isAudio, type PictureCodec } from '../frames/codecs.js';

export type { AudioCodec, Codec, PictureCodec };
export { isAudio };

/**
 * Bytes a splitter leaves free in front of each unit it writes out, so the socket layer can put
 * the wire message's head (the stream name, the layout's and the payload's headers: at most 100
 * bytes) right before the unit instead of copying the unit into a message of its own.
 */
export const FRAME_HEADROOM_BYTES = 104;

export class Frame {
  /** The encoded unit (a view into ffmpeg's output; nothing writes to it). */
  readonly data: Uint8Array;
  /** Per-stream counter since camplex started, of pictures (sound frames have their own). */
  readonly seq: number;
  /** Clock time (ms since epoch, sub-millisecond) the unit left the splitter. */
  readonly at: number;
  readonly codec: Codec;
  /** A decoder can start here: every JPEG and sound frame; an IDR (H.264) or IRAP (H.265) unit. */
  readonly key: boolean;
  /** When it is shown (heard), microseconds on camplex's clock: the camera's timing kept. */
  readonly pts: number;
  /** When it is decoded, microseconds: pictures come in this order (differs with B-frames). */
  readonly dts: number;
  /** A frame of the camera's sound (read per viewer per frame: a field, not a lookup). */
  readonly audio: boolean;
  /**
   * Where a consumer keeps what it built from this frame to share with every viewer (the
   * socket layer's wire message). The camera never reads it.
   */
  encoded: unknown = undefined;
  /**
   * Bytes right before `data` in its buffer that no one else uses: a consumer may write there
   * once (the first message built in place), and sets it to 0 when it does.
   */
  headroom: number;

  /** Without times of its own (a JPEG), a unit is presented and decoded when it arrived. */
  constructor(
    data: Uint8Array,
    seq: number,
    at: number,
    codec: Codec = 'jpeg',
    key = true,
    pts = Math.round(at * 1000),
    dts = pts,
    headroom = 0,
  ) {
    this.data = data;
    this.seq = seq;
    this.at = at;
    this.codec = codec;
    this.key = key;
    this.pts = pts;
    this.dts = dts;
    this.audio = isAudio(codec);
    this.headroom = Math.min(headroom, data.byteOffset);
  }
}

/** `frame` (its number, times, codec and key) with `data` for bytes. */
export function withData(frame: Frame, data: Uint8Array): Frame {
  return new Frame(data, frame.seq, frame.at, frame.codec, frame.key, frame.pts, frame.dts);
}

/**
 * `frame` with bytes of its own: for a consumer that keeps a cached frame's bytes past the
 * moment it was handed them (a cached frame's bytes hold until the camera's next key frame).
 */
export function ownCopy(frame: Frame): Frame {
  return withData(frame, new Uint8Array(frame.data));
}
