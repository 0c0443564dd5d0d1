/**
 * Builds each frame's binary WebSocket message once and shares it with every viewer: the
 * camera hands out bare JPEGs, the wire format belongs here. Only the latest frame of each
 * camera is kept: a viewer's waiting frame is always its camera's latest (a newer one replaces
 * it), so every viewer asks for the same one.
 */
import type { Frame } from '../camera/frame.js';
import { encodeExtendedFrame, encodeFrame, framePrefix } from '../protocol/wire.js';

interface Built {
  frame: Frame;
  message: Uint8Array;
  extended: Uint8Array | undefined;
}

export class FrameMessages {
  private readonly prefixes = new Map<string, Uint8Array>();
  private readonly latest = new Map<string, Built>();

  /** The message of `frame` of camera `id` in the default layout, or the extended one. */
  messageOf(id: string, frame: Frame, extended: boolean): Uint8Array {
    let built = this.latest.get(id);
    if (built?.frame !== frame) {
      const prefix = this.prefixOf(id);
      // One copy of the JPEG per frame, into memory the copy fills whole (no zeroing first).
      built = {
        frame,
        message: encodeFrame(prefix, frame.jpeg, Buffer.allocUnsafe),
        extended: undefined,
      };
      this.latest.set(id, built);
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
