/**
 * Reads camplex's own /mjpeg/<id> response (multipart/x-mixed-replace with a Content-Length per
 * part) from a fetch body stream and hands on each JPEG.
 */

const HEADER_END = [13, 10, 13, 10];
const MAX_HEADER_BYTES = 1024;

export async function readMultipartJpegs(
  body: ReadableStream<Uint8Array>,
  onJpeg: (jpeg: Uint8Array) => void,
): Promise<void> {
  const reader = body.getReader();
  let buffer: Uint8Array = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer = concat(buffer, value);
    for (;;) {
      const headerEnd = indexOf(buffer, HEADER_END);
      if (headerEnd === -1) {
        if (buffer.length > MAX_HEADER_BYTES) throw new Error('multipart header too long');
        break;
      }
      const header = new TextDecoder().decode(buffer.subarray(0, headerEnd));
      const length = Number(/content-length:\s*(\d+)/i.exec(header)?.[1]);
      if (!Number.isInteger(length)) throw new Error('multipart part without Content-Length');
      const start = headerEnd + HEADER_END.length;
      if (buffer.length < start + length) break;
      onJpeg(buffer.slice(start, start + length));
      buffer = buffer.subarray(start + length);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}

function indexOf(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
