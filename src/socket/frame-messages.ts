/**
 * Builds each frame's binary WebSocket message once and shares it with every viewer: the
 * camera hands out bare JPEGs, the wire format belongs here. The message is kept in the frame's
 * `encoded` slot, so every later viewer finds it with one property read.
 */
import type { Frame } from '../camera/frame.js';
import { encodeExtendedFrame, encodeFrame, framePrefix } from '../protocol/wire.js';

interface Built {
  message: Uint8Array;
  extended: Uint8Array | undefined;
}

export class FrameMessages {
  private readonly prefixes = new Map<string, Uint8Array>();

  /** The message of `frame` of camera `id` in the default layout, or the extended one. */
  messageOf(id: string, frame: Frame, extended: boolean): Uint8Array {
    let built = frame.encoded as Built | undefined;
    if (built === undefined) {
      // One copy of the JPEG per frame, into memory the copy fills whole (no zeroing first).
      const message = encodeFrame(this.prefixOf(id), frame.jpeg, Buffer.allocUnsafe);
      built = { message, extended: undefined };
      frame.encoded = built;
    }
    if (!extended) return built.message;
    built.extended ??= encodeExtendedFrame(this.prefixOf(id), frame.seq, frame.at, frame.jpeg);
    return built.extended;
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
