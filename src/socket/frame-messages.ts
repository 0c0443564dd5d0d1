/**
 * Builds each frame's binary WebSocket message once and shares it with every viewer: the
 * camera hands out bare frames, the wire format belongs here (protocol/wire.ts: a JPEG as is,
 * a video access unit behind its 10-byte header). The messages are kept in the frame's
 * `encoded` slot, so every later viewer finds them with one property read; the variants a
 * late joiner needs (decode-only, extended layout) are built on first use.
 */
import type { Frame } from '../camera/frame.js';
import { encodeExtendedFrame, encodeFrame, framePrefix, videoHeader } from '../protocol/wire.js';

interface Built {
  message: Uint8Array;
  extended?: Uint8Array;
  decodeOnly?: Uint8Array;
  extendedDecodeOnly?: Uint8Array;
}

export class FrameMessages {
  private readonly prefixes = new Map<string, Uint8Array>();

  /**
   * The message of `frame` of stream `id`, in the default layout or the extended one, marked
   * decode-only for a late joiner's catch-up when `decodeOnly` (video only).
   */
  messageOf(id: string, frame: Frame, extended: boolean, decodeOnly = false): Uint8Array {
    let built = frame.encoded as Built | undefined;
    if (built === undefined) {
      built = { message: this.build(id, frame, false, false) };
      frame.encoded = built;
    }
    if (!extended && !decodeOnly) return built.message;
    if (!extended) {
      built.decodeOnly ??= this.build(id, frame, false, true);
      return built.decodeOnly;
    }
    if (!decodeOnly) {
      built.extended ??= this.build(id, frame, true, false);
      return built.extended;
    }
    built.extendedDecodeOnly ??= this.build(id, frame, true, true);
    return built.extendedDecodeOnly;
  }

  private build(id: string, frame: Frame, extended: boolean, decodeOnly: boolean): Uint8Array {
    const prefix = this.prefixOf(id);
    if (frame.codec === 'jpeg') {
      if (extended) return encodeExtendedFrame(prefix, frame.seq, frame.at, frame.data);
      // One copy of the picture per frame, into memory the copy fills whole (no zeroing first).
      return encodeFrame(prefix, frame.data, Buffer.allocUnsafe);
    }
    const header = videoHeader({
      codec: frame.codec,
      key: frame.key,
      decodeOnly,
      timestamp: frame.timestamp,
    });
    if (extended) {
      const payload = new Uint8Array(header.length + frame.data.length);
      payload.set(header, 0);
      payload.set(frame.data, header.length);
      return encodeExtendedFrame(prefix, frame.seq, frame.at, payload);
    }
    const message = Buffer.allocUnsafe(prefix.length + header.length + frame.data.length);
    message.set(prefix, 0);
    message.set(header, prefix.length);
    message.set(frame.data, prefix.length + header.length);
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
