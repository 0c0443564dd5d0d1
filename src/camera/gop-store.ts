/**
 * A camera's pictures since its last key frame, kept for new viewers and for viewers that
 * missed some. Their bytes are copied into one buffer the camera keeps and writes over from each
 * key frame: a cached picture lives for a whole GOP, long enough to outlive the young
 * generation, and one buffer of its own per picture would die in the old generation, where
 * only a full collection frees it (measured with 32 cameras into one viewer: one full
 * collection every 1-2 s, a third of node's CPU). The live frame, which viewers and
 * transcoders hold on to, stays young; the copy is a memcpy.
 *
 * So a cached frame's bytes hold until the camera's next key frame. A consumer that keeps them
 * past the moment it is called (a transcoder's backlog, written to ffmpeg as the pipe drains;
 * a cluster's cache answer, sent as the bus has room) takes its own copy (`ownCopy`); one that
 * builds its messages at once (a late joiner's burst, a recovery) does not need to.
 *
 * A JPEG camera keeps its latest frame alone, as is: it is replaced at the next frame.
 */
import { type Frame, withData } from './frame.js';

/** The buffer starts this big and doubles when a GOP does not fit. */
const FIRST_CAPACITY = 256 * 1024;

export class GopStore {
  private kept: Frame[] = [];
  private keptBytes = 0;
  private buffer: Uint8Array | undefined;
  /** Where the next copy goes in `buffer`. */
  private used = 0;

  /**
   * A GOP is kept while it stays within `maxBytes` and spans at most `maxMs` from its key
   * frame; the buffer never grows past `maxBytes`.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly maxMs: number,
  ) {}

  /** From the last key frame on, oldest first. */
  get frames(): readonly Frame[] {
    return this.kept;
  }

  /** Bytes of the frames kept. */
  get bytes(): number {
    return this.keptBytes;
  }

  /**
   * Memory the store holds: its buffer and the smaller ones a growth mid-GOP left the GOP's
   * first frames in (all go at the next key frame), or a JPEG frame's bytes (not the read it
   * is a view of, which its neighbours share). At least `bytes`; read when metrics are scraped.
   */
  get memoryBytes(): number {
    const held = new Set<ArrayBufferLike>();
    let total = 0;
    if (this.buffer) held.add(this.buffer.buffer);
    for (const frame of this.kept) {
      if (frame.codec === 'jpeg') total += frame.data.length;
      else held.add(frame.data.buffer);
    }
    for (const memory of held) total += memory.byteLength;
    return total;
  }

  /**
   * Keeps `frame`: a key frame starts afresh; a frame that would take the store past its bounds
   * empties it (never trims off the key) until the next key.
   */
  keep(frame: Frame): void {
    if (frame.key) {
      // A buffer far larger than the GOP it last held goes (a camera whose GOPs shrank).
      if (
        this.buffer &&
        this.buffer.length > FIRST_CAPACITY &&
        this.buffer.length > 4 * this.keptBytes
      )
        this.buffer = undefined;
      this.used = 0;
      this.kept = [];
      this.keptBytes = 0;
    } else if (this.kept[0] === undefined) {
      return; // waiting for a key frame
    }
    const first = this.kept[0] ?? frame;
    const spanMs = (frame.dts - first.dts) / 1000;
    if (this.keptBytes + frame.data.length > this.maxBytes || spanMs > this.maxMs) {
      this.clear();
      return;
    }
    this.kept.push(frame.codec === 'jpeg' ? frame : this.copyIn(frame));
    this.keptBytes += frame.data.length;
  }

  /** Forgets every frame and the buffer (the camera stopped, its codec changed, or it overflowed). */
  clear(): void {
    this.kept = [];
    this.keptBytes = 0;
    this.buffer = undefined;
    this.used = 0;
  }

  private copyIn(frame: Frame): Frame {
    const { data } = frame;
    let buffer = this.buffer;
    if (buffer === undefined || this.used + data.length > buffer.length) {
      // Frames already kept stay in the old buffer; it goes once they do. The new one is sized
      // for the whole GOP so far (the next GOP starts at its beginning), within the bound.
      const doubled = 2 * (buffer?.length ?? FIRST_CAPACITY / 2);
      const capacity = Math.max(Math.min(doubled, this.maxBytes), this.used + data.length);
      buffer = new Uint8Array(capacity);
      this.buffer = buffer;
      this.used = 0;
    }
    const view = buffer.subarray(this.used, this.used + data.length);
    view.set(data);
    this.used += data.length;
    return withData(frame, view);
  }
}
