/**
 * Builds each frame's binary WebSocket message once and shares it with every viewer: the
 * camera hands out bare frames, the wire format belongs here (protocol/wire.ts: a JPEG as is, a
 * video access unit or a sound frame behind its header). The messages are kept in the frame's
 * `encoded` slot, so every later viewer finds them with one property read; the first is written
 * around the unit itself when its splitter left room in front (Frame.headroom); the variants some
 * viewers need (decode times, the extended layout) are built on first use. A late joiner's
 * decode-only messages are built for it and not kept: a long GOP's cache would otherwise hold
 * a second copy of itself for the rare late joiner.
 */
import type { Frame } from '../camera/frame.js';
import {
  AUDIO_HEADER_BYTES,
  EXTENDED_HEAD_BYTES,
  framePrefix,
  TIMED_VIDEO_HEADER_BYTES,
  VIDEO_HEADER_BYTES,
  writeAudioHeader,
  writeExtendedHead,
  writeVideoHeader,
} from '../protocol/wire.js';

/** How a viewer wants a frame's message. */
export interface MessageKind {
  /** The extended layout (sequence number and send time). */
  extended: boolean;
  /** Video: part of a catch-up, to be decoded and not shown. */
  decodeOnly: boolean;
  /** Video: the timed header, with the decode time. */
  decodeTimes: boolean;
}

/** The variants of one frame's message, by MessageKind's bits. */
type Built = Array<Uint8Array | undefined>;

export class FrameMessages {
  private readonly prefixes = new Map<string, Uint8Array>();

  /** The message of `frame` of stream `id`, in the plain layout: what most viewers get. */
  messageOf(id: string, frame: Frame): Uint8Array {
    let built = frame.encoded as Built | undefined;
    if (built === undefined) {
      built = [];
      frame.encoded = built;
    }
    let message = built[0];
    if (message === undefined) {
      message = this.build(id, frame, false, false, false);
      built[0] = message;
    }
    return message;
  }

  /** The message of `frame` of stream `id` as `kind` says (the bits only matter for video). */
  variantOf(id: string, frame: Frame, kind: MessageKind): Uint8Array {
    const video = frame.codec === 'h264' || frame.codec === 'h265';
    const decodeOnly = video && kind.decodeOnly;
    const decodeTimes = video && kind.decodeTimes;
    const index = (kind.extended ? 1 : 0) | (decodeOnly ? 2 : 0) | (decodeTimes ? 4 : 0);
    if (index === 0) return this.messageOf(id, frame);
    if (decodeOnly) return this.build(id, frame, kind.extended, true, decodeTimes);
    let built = frame.encoded as Built | undefined;
    if (built === undefined) {
      built = [];
      frame.encoded = built;
    }
    let message = built[index];
    if (message === undefined) {
      message = this.build(id, frame, kind.extended, decodeOnly, decodeTimes);
      built[index] = message;
    }
    return message;
  }

  private build(
    id: string,
    frame: Frame,
    extended: boolean,
    decodeOnly: boolean,
    decodeTimes: boolean,
  ): Uint8Array {
    const prefix = this.prefixOf(id);
    const { codec, data } = frame;
    const video = codec === 'h264' || codec === 'h265';
    const headerBytes =
      codec === 'jpeg'
        ? 0
        : video
          ? decodeTimes
            ? TIMED_VIDEO_HEADER_BYTES
            : VIDEO_HEADER_BYTES
          : AUDIO_HEADER_BYTES;
    const head = prefix.length + (extended ? EXTENDED_HEAD_BYTES : 0) + headerBytes;
    let message: Buffer;
    if (frame.headroom >= head) {
      // The first message of a unit the splitter left room for goes around it: no copy.
      frame.headroom = 0;
      message = Buffer.from(data.buffer, data.byteOffset - head, head + data.length);
    } else {
      // Into memory the copies fill whole: no zeroing first.
      message = Buffer.allocUnsafe(head + data.length);
      message.set(data, head);
    }
    message.set(prefix, 0);
    let at = prefix.length;
    if (extended) at = writeExtendedHead(message, at, frame.seq, frame.at);
    if (video) {
      writeVideoHeader(message, at, {
        codec,
        key: frame.key,
        decodeOnly,
        timestamp: frame.pts,
        decodeTimestamp: decodeTimes ? frame.dts : undefined,
      });
    } else if (codec !== 'jpeg') {
      writeAudioHeader(message, at, { codec, timestamp: frame.pts });
    }
    return message;
  }

  private prefixOf(id: string): Uint8Array {
    let prefix = this.prefixes.get(id);
    if (!prefix) {
      prefix = framePrefix(id);
      this.prefixes.set(id, prefix);
    }
    return prefix;
  }
}
