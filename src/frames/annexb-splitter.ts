/**
 * Cuts an H.264 or H.265 Annex B byte stream (with an access unit delimiter before every
 * picture, as ffmpeg writes it with `h264_metadata=aud=insert`) into access units: one unit from
 * one delimiter to the next, each read by access-units.ts (key units, parameter sets repaired,
 * units without a picture or too large dropped). A unit larger than `maxUnitBytes` makes the
 * splitter resynchronise at the next delimiter, as it does after garbage. A unit is handed on
 * when the next delimiter arrives: raw Annex B has no lengths, so that is the first moment it
 * is known to be whole. Pure: bytes in, units out, nothing but Uint8Array.
 */

import {
  type AccessUnit,
  AccessUnitReader,
  type AccessUnitStats,
  nextStart,
} from './access-units.js';
import type { SequenceInfo, VideoCodec } from './parameter-sets.js';

export type { AccessUnit };

export interface AnnexBOptions {
  codec: VideoCodec;
  /** Units longer than this are dropped whole. */
  maxUnitBytes: number;
  onUnit: (unit: AccessUnit) => void;
  /** Called when a new SPS tells the codec string or picture size. */
  onSequence?: (info: SequenceInfo) => void;
}

export class AnnexBSplitter {
  private readonly options: AnnexBOptions;
  private readonly reader: AccessUnitReader;
  /** Bytes since the current unit's delimiter (or of noise before the first one). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(options: AnnexBOptions) {
    this.options = options;
    this.reader = new AccessUnitReader(options);
  }

  get stats(): AccessUnitStats {
    return this.reader.stats;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const base = this.pendingBytes;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Where units end: each delimiter's start code after the first byte. Only the new bytes are
    // scanned (and the three before them, where a start code or its header may have been cut
    // off), so a large unit arriving in many chunks costs one pass and one copy.
    const cuts: number[] = [];
    const cutAt = (at: number) => {
      const cut = at > 0 && this.byteAt(at - 1) === 0 ? at - 1 : at; // a 4-byte start code
      if (cut > 0 && this.reader.typeOf(this.byteAt(at + 3)) === this.reader.delimiterType)
        cuts.push(cut);
    };
    for (let at = Math.max(1, base - 3); at < base && at + 3 < this.pendingBytes; at++) {
      if (this.byteAt(at) === 0 && this.byteAt(at + 1) === 0 && this.byteAt(at + 2) === 1) {
        cutAt(at);
      }
    }
    for (let at = nextStart(chunk, 0); at !== -1; at = nextStart(chunk, at + 3)) {
      if (base + at >= 1 && at + 3 < chunk.length) cutAt(base + at);
    }
    if (cuts.length > 0) {
      const data = this.joined();
      let from = 0;
      for (const cut of cuts) {
        if (cut > from) this.finish(data.subarray(from, cut));
        from = cut;
      }
      const rest = data.subarray(from);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    if (this.pendingBytes > this.options.maxUnitBytes && !this.skipping) {
      this.reader.stats.dropped.oversized++;
      this.skipping = true; // until the next delimiter
    }
    if (this.skipping && this.pendingBytes > 3) {
      // Keep only a tail where a start code may begin.
      const tail = this.joined().slice(this.pendingBytes - 3);
      this.pending = [tail];
      this.pendingBytes = tail.length;
    }
  }

  /**
   * One whole access unit, already cut (from another node of a cluster): handled at once rather
   * than held until the next delimiter arrives.
   */
  pushUnit(unit: Uint8Array): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.skipping = false;
    this.finish(unit);
  }

  /** The pending bytes as one array (copied only when they came in several chunks). */
  private joined(): Uint8Array {
    if (this.pending.length === 1) return this.pending[0] ?? new Uint8Array(0);
    const data = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const piece of this.pending) {
      data.set(piece, at);
      at += piece.length;
    }
    this.pending = [data];
    return data;
  }

  /** The pending byte at `offset` (near the end, so pieces are searched from the last). */
  private byteAt(offset: number): number {
    let end = this.pendingBytes;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const piece = this.pending[i] as Uint8Array;
      const start = end - piece.length;
      if (offset >= start) return piece[offset - start] ?? -1;
      end = start;
    }
    return -1;
  }

  private isDelimiter(data: Uint8Array, start: number): boolean {
    const header = data[start + 3];
    return header !== undefined && this.reader.typeOf(header) === this.reader.delimiterType;
  }

  /** One candidate unit, from a delimiter to just before the next one. */
  private finish(unit: Uint8Array): void {
    if (this.skipping) {
      this.skipping = false;
      if (!this.isDelimiter(unit, unit[0] === 0 && unit[1] === 0 && unit[2] === 0 ? 1 : 0)) return;
    }
    const read = this.reader.read(unit);
    if (read) this.options.onUnit(read);
  }
}
