/**
 * Cuts a multipart JPEG stream into whole JPEG frames: ffmpeg's `-f mpjpeg` output on the
 * server, camplex's own /mjpeg/<id> response in the browser. Pure: bytes in, frames out, no
 * I/O, nothing but Uint8Array, so both sides run the same code.
 *
 * Each part is `--<boundary>\r\n<headers>\r\n\r\n<JPEG>\r\n`; ffmpeg writes a Content-length
 * header per part, so a frame is taken by its length and never by searching for FF D9 (a JPEG
 * may hold a whole JPEG thumbnail in its EXIF block). Every frame is checked before it is
 * handed on (SOI at the start, EOI at the end, the CRLF right after); anything else (garbage, a
 * truncated or oversized part) is dropped, counted, and the splitter resynchronises on the next
 * boundary without losing the frames after it. The JPEG itself is never scanned.
 */

export interface SplitterOptions {
  /** The multipart boundary tag (ffmpeg's `-boundary_tag`), without the leading dashes. */
  boundary: string;
  /** Parts declaring more bytes than this are skipped without being buffered. */
  maxFrameBytes: number;
  /** Called with each whole JPEG, a view into the bytes pushed (the splitter never writes to them). */
  onFrame: (jpeg: Uint8Array) => void;
}

export type DropReason = 'corrupt' | 'oversized' | 'malformed-header';

export interface SplitterStats {
  frames: number;
  dropped: Record<DropReason, number>;
  /** Bytes outside any part (noise between frames). */
  garbageBytes: number;
}

/** Longest part header we accept; ffmpeg writes about 60 bytes. */
const MAX_HEADER_BYTES = 1024;
/** Bytes of the CRLF after each JPEG and of the CRLF CRLF that ends a part header. */
const CRLF_BYTES = 2;
const CR = 0x0d;
const LF = 0x0a;
const HEADER_END_BYTES = 4;

export class MpjpegSplitter {
  readonly stats: SplitterStats = {
    frames: 0,
    dropped: { corrupt: 0, oversized: 0, 'malformed-header': 0 },
    garbageBytes: 0,
  };

  private readonly delimiter: Uint8Array;
  private readonly maxFrameBytes: number;
  private readonly onFrame: (jpeg: Uint8Array) => void;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Bytes needed in `chunks` before parsing again (avoids re-scanning a half-received body). */
  private needed = 1;
  /** Bytes of an oversized part still to be thrown away as they arrive. */
  private skipping = 0;

  constructor(options: SplitterOptions) {
    if (!/^[\x21-\x7e]{1,70}$/.test(options.boundary)) {
      throw new TypeError('boundary must be 1-70 printable ASCII characters');
    }
    this.delimiter = ascii(`--${options.boundary}`);
    this.maxFrameBytes = options.maxFrameBytes;
    this.onFrame = options.onFrame;
  }

  /** One whole JPEG, already cut (from another node of a cluster): handed on as it is. */
  pushUnit(jpeg: Uint8Array): void {
    this.onFrame(jpeg);
  }

  /** Feeds the next chunk of ffmpeg output; calls onFrame for every frame it completes. */
  push(chunk: Uint8Array): void {
    let data = chunk;
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, data.length);
      this.skipping -= skipped;
      data = data.subarray(skipped);
      if (data.length === 0) return;
    }
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < this.needed) return;

    const buffer = this.chunks.length === 1 ? data : concat(this.chunks, this.buffered);
    let consumed = this.parse(buffer);
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, buffer.length - consumed);
      this.skipping -= skipped;
      consumed += skipped;
    }
    this.keep(buffer, consumed);
  }

  /** Keeps what `buffer` holds past `consumed` for the next push. */
  private keep(buffer: Uint8Array, consumed: number): void {
    // Usually a chunk ends on a part boundary and nothing is kept: no allocation then.
    this.chunks.length = 0;
    if (consumed < buffer.length) this.chunks.push(buffer.subarray(consumed));
    this.buffered = buffer.length - consumed;
    if (this.needed <= this.buffered) this.needed = this.buffered + 1;
  }

  /** Parses as many whole parts as `buffer` holds; returns how many bytes it used up. */
  private parse(buffer: Uint8Array): number {
    let position = 0;
    this.needed = 1;
    while (position < buffer.length) {
      // A part normally starts right where the previous one ended: compare before searching.
      const start = startsWith(buffer, position, this.delimiter)
        ? position
        : indexOf(buffer, this.delimiter, position);
      if (start === -1) {
        // Keep only a tail that may begin a delimiter split across chunks. Usually there is
        // none (a part ends in CRLF), so the next chunk is parsed in place, not concatenated.
        const keepFrom = Math.max(position, buffer.length - this.delimiterPrefixAtEnd(buffer));
        this.stats.garbageBytes += keepFrom - position;
        return keepFrom;
      }
      this.stats.garbageBytes += start - position;

      const headerEnd = indexOfHeaderEnd(buffer, start, start + MAX_HEADER_BYTES);
      if (headerEnd === -1) {
        if (buffer.length - start > MAX_HEADER_BYTES) {
          this.stats.dropped['malformed-header']++;
          position = start + 1;
          continue;
        }
        this.needed = buffer.length - start + 1;
        return start;
      }
      const length = contentLength(buffer, start, headerEnd);
      if (length === undefined) {
        this.stats.dropped['malformed-header']++;
        position = start + 1;
        continue;
      }
      const bodyStart = headerEnd + HEADER_END_BYTES;
      if (length > this.maxFrameBytes) {
        this.stats.dropped.oversized++;
        const available = buffer.length - bodyStart;
        if (available >= length) {
          position = bodyStart + length;
          continue;
        }
        this.skipping = length - available;
        return buffer.length;
      }
      const bodyEnd = bodyStart + length;
      // The CRLF that ends the part comes in the same write as the JPEG, so waiting for it
      // costs no latency.
      if (bodyEnd + CRLF_BYTES > buffer.length) {
        this.needed = bodyEnd + CRLF_BYTES - start;
        return start;
      }
      const jpeg = buffer.subarray(bodyStart, bodyEnd);
      if (isWholeJpeg(jpeg) && buffer[bodyEnd] === CR && buffer[bodyEnd + 1] === LF) {
        this.stats.frames++;
        this.onFrame(jpeg);
        position = bodyEnd + CRLF_BYTES;
      } else {
        // A part cut short: its declared length swallowed the start of the next part, so its
        // end is not a JPEG's end followed by CRLF. (One that swallowed a whole later part,
        // ending exactly on its EOI and CRLF, would pass: ffmpeg, the only writer, never
        // declares a wrong length, and scanning every JPEG for the delimiter to catch that
        // cost more than the rest of the frame path.) Resynchronise just after this delimiter
        // so the following frames survive.
        this.stats.dropped.corrupt++;
        position = start + 1;
      }
    }
    return position;
  }

  /** Length of the longest end of `buffer` that is a proper prefix of the delimiter. */
  private delimiterPrefixAtEnd(buffer: Uint8Array): number {
    // A chunk usually ends in a part's CRLF, which fails at the first byte.
    for (let length = Math.min(this.delimiter.length - 1, buffer.length); length > 0; length--) {
      if (startsWith(buffer, buffer.length - length, this.delimiter, length)) return length;
    }
    return 0;
  }
}

// The header is read byte by byte in JS: for ~60 bytes that is cheaper than the calls into
// C++ that indexOf and toString make, which showed in the frame path's cost per frame.

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** `chunks` joined (only when a part spans chunks: large frames, or garbage). */
function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const joined = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}

/** Index of the first `needle` in `haystack` at or after `from`, or -1 (resynchronising only). */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (
    let i = haystack.indexOf(first ?? 0, from);
    i !== -1;
    i = haystack.indexOf(first ?? 0, i + 1)
  ) {
    if (startsWith(haystack, i, needle)) return i;
  }
  return -1;
}

/** True when `buffer` holds the first `length` bytes of `prefix` at `at`. */
function startsWith(
  buffer: Uint8Array,
  at: number,
  prefix: Uint8Array,
  length = prefix.length,
): boolean {
  if (at + length > buffer.length) return false;
  for (let i = 0; i < length; i++) if (buffer[at + i] !== prefix[i]) return false;
  return true;
}

/** Index of the first CRLF CRLF at or after `from` that ends before `limit`, or -1. */
function indexOfHeaderEnd(buffer: Uint8Array, from: number, limit: number): number {
  const last = Math.min(buffer.length, limit + HEADER_END_BYTES) - HEADER_END_BYTES;
  for (let i = from; i <= last; i++) {
    if (buffer[i] === CR && buffer[i + 1] === LF && buffer[i + 2] === CR && buffer[i + 3] === LF) {
      return i;
    }
  }
  return -1;
}

const CONTENT_LENGTH = ascii('content-length:');
const SPACE = 0x20;
const TAB = 0x09;

/**
 * The value of the Content-length header (any case) among the header lines in
 * `buffer[from, to)`, which starts with the delimiter line: 1-10 digits, at least 4, spaces and
 * tabs around them allowed. Undefined when there is none or it is malformed.
 */
function contentLength(buffer: Uint8Array, from: number, to: number): number | undefined {
  let line = from;
  while (line < to) {
    let end = line;
    while (end < to && !(buffer[end] === CR && buffer[end + 1] === LF)) end++;
    // The first line is the delimiter; a header line follows a CRLF.
    if (line > from && nameIs(buffer, line, end, CONTENT_LENGTH)) {
      return lengthValue(buffer, line + CONTENT_LENGTH.length, end);
    }
    line = end + 2;
  }
  return undefined;
}

/** True when `buffer[from, to)` starts with `name` (lower case), ignoring ASCII case. */
function nameIs(buffer: Uint8Array, from: number, to: number, name: Uint8Array): boolean {
  if (to - from < name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const byte = buffer[from + i] ?? 0;
    const lower = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
    if (lower !== name[i]) return false;
  }
  return true;
}

function lengthValue(buffer: Uint8Array, from: number, to: number): number | undefined {
  let at = from;
  while (at < to && (buffer[at] === SPACE || buffer[at] === TAB)) at++;
  let value = 0;
  let digits = 0;
  for (; at < to; at++, digits++) {
    const digit = (buffer[at] ?? 0) - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  while (at < to && (buffer[at] === SPACE || buffer[at] === TAB)) at++;
  if (at !== to || digits < 1 || digits > 10) return undefined;
  return value >= 4 ? value : undefined;
}

/** True when `jpeg` starts with SOI (FF D8) and ends with EOI (FF D9). */
export function isWholeJpeg(jpeg: Uint8Array): boolean {
  const n = jpeg.length;
  return (
    n >= 4 && jpeg[0] === 0xff && jpeg[1] === 0xd8 && jpeg[n - 2] === 0xff && jpeg[n - 1] === 0xd9
  );
}
