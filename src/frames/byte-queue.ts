/**
 * Bytes that arrive in chunks (pipe reads) and are read as whole units: kept as the chunks
 * they came in and copied into one array only when a read spans several, so a unit that came
 * in one chunk is never copied. Shared by the readers of ffmpeg's output (Annex B, MP4).
 */
export class ByteQueue {
  private pieces: Uint8Array[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(chunk: Uint8Array): void {
    this.pieces.push(chunk);
    this.bytes += chunk.length;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }

  /** Every byte as one array (copied only when they came in several chunks). */
  joined(): Uint8Array {
    if (this.pieces.length === 1) return this.pieces[0] as Uint8Array;
    const data = new Uint8Array(this.bytes);
    let at = 0;
    for (const piece of this.pieces) {
      data.set(piece, at);
      at += piece.length;
    }
    this.pieces = [data];
    return data;
  }

  /** Up to `count` of the first bytes (copied only when they span chunks). */
  peek(count: number): Uint8Array {
    const first = this.pieces[0] ?? new Uint8Array(0);
    if (first.length >= count || this.pieces.length <= 1) return first.subarray(0, count);
    return this.joined().subarray(0, count);
  }

  /** Removes and returns the first `count` bytes. */
  take(count: number): Uint8Array {
    const data = this.joined();
    const rest = data.subarray(count);
    this.pieces = rest.length > 0 ? [rest] : [];
    this.bytes = rest.length;
    return data.subarray(0, count);
  }

  /** Keeps only the last `count` bytes, copied, so the rest can be freed. */
  keepLast(count: number): void {
    if (this.bytes <= count) return;
    const tail = this.joined().slice(this.bytes - count);
    this.pieces = [tail];
    this.bytes = tail.length;
  }

  /** The byte at `offset`, or -1 past the end (pieces are searched from the last: near the end). */
  byteAt(offset: number): number {
    let end = this.bytes;
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const piece = this.pieces[i] as Uint8Array;
      const start = end - piece.length;
      if (offset >= start) return piece[offset - start] ?? -1;
      end = start;
    }
    return -1;
  }
}
