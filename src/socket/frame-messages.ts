/**
 * Builds each frame's binary WebSocket message once and shares it with every viewer: the
 * camera hands out bare frames, the wire format belongs here (protocol/wire.ts: a JPEG as is, a
 * video access unit or a sound frame behind its header). The messages are kept in the frame's
 * `encoded` slot, so every later viewer finds them with one property read; the variants some
 * viewers need (decode times, the extended layout) are built on first use. A late joiner's
 * decode-only messages are built for it and not kept: a long GOP's cache would otherwise hold
 * a second copy of itself for the rare late joiner.
 */
import type { Frame } from '../camera/frame.js';
import { audioHeader, encodeExtendedFrame, framePrefix, videoHeader } from '../protocol/wire.js';

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
    const header =
      frame.codec === 'jpeg'
        ? undefined
        : frame.codec === 'h264' || frame.codec === 'h265'
          ? videoHeader({
              codec: frame.codec,
              key: frame.key,
              decodeOnly,
              timestamp: frame.pts,
              ...(decodeTimes ? { decodeTimestamp: frame.dts } : {}),
            })
          : audioHeader({ codec: frame.codec, timestamp: frame.pts });
    const headerBytes = header?.length ?? 0;
    if (extended) {
      let payload = frame.data;
      if (header) {
        payload = new Uint8Array(headerBytes + frame.data.length);
        payload.set(header, 0);
        payload.set(frame.data, headerBytes);
      }
      return encodeExtendedFrame(prefix, frame.seq, frame.at, payload);
    }
    // One copy of the unit per variant, into memory the copies fill whole (no zeroing first).
    const message = Buffer.allocUnsafe(prefix.length + headerBytes + frame.data.length);
    message.set(prefix, 0);
    if (header) message.set(header, prefix.length);
    message.set(frame.data, prefix.length + headerBytes);
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
