/** Byte-array helpers shared by the server's splitters and the browser's muxer. */

export function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * `pieces`, each behind its length as 32 bits big-endian (how MP4 stores NAL units and how a
 * batch carries frame messages), written into a new array of `lead + ...` bytes from `lead` on:
 * the first `lead` bytes are the caller's. `allocate` may hand out memory that is not zeroed.
 */
export function lengthPrefixed(
  pieces: readonly Uint8Array[],
  lead = 0,
  allocate: (bytes: number) => Uint8Array = (bytes) => new Uint8Array(bytes),
): Uint8Array {
  let bytes = lead;
  for (const piece of pieces) bytes += 4 + piece.length;
  const out = allocate(bytes);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = lead;
  for (const piece of pieces) {
    view.setUint32(at, piece.length);
    out.set(piece, at + 4);
    at += 4 + piece.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** `bytes` as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** The bytes a hex string spells (pairs of hex digits; anything else ends it). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const byte = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    if (Number.isNaN(byte)) return out.subarray(0, i);
    out[i] = byte;
  }
  return out;
}
