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
import { ByteQueue } from './byte-queue.js';
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
  private readonly pending = new ByteQueue();
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
    const pending = this.pending;
    const base = pending.length;
    pending.push(chunk);
    // Where units end: each delimiter's start code after the first byte. Only the new bytes are
    // scanned (and the three before them, where a start code or its header may have been cut
    // off), so a large unit arriving in many chunks costs one pass and one copy.
    const cuts: number[] = [];
    const cutAt = (at: number) => {
      const cut = at > 0 && pending.byteAt(at - 1) === 0 ? at - 1 : at; // a 4-byte start code
      if (cut > 0 && this.reader.typeOf(pending.byteAt(at + 3)) === this.reader.delimiterType)
        cuts.push(cut);
    };
    for (let at = Math.max(1, base - 3); at < base && at + 3 < pending.length; at++) {
      if (
        pending.byteAt(at) === 0 &&
        pending.byteAt(at + 1) === 0 &&
        pending.byteAt(at + 2) === 1
      ) {
        cutAt(at);
      }
    }
    for (let at = nextStart(chunk, 0); at !== -1; at = nextStart(chunk, at + 3)) {
      if (base + at >= 1 && at + 3 < chunk.length) cutAt(base + at);
    }
    if (cuts.length > 0) {
      const data = pending.joined();
      let from = 0;
      for (const cut of cuts) {
        if (cut > from) this.finish(data.subarray(from, cut));
        from = cut;
      }
      pending.take(from);
    }
    if (pending.length > this.options.maxUnitBytes && !this.skipping) {
      this.reader.stats.dropped.oversized++;
      this.skipping = true; // until the next delimiter
    }
    // Keep only a tail where a start code may begin.
    if (this.skipping) pending.keepLast(3);
  }

  /**
   * One whole access unit, already cut (from another node of a cluster): handled at once rather
   * than held until the next delimiter arrives.
   */
  pushUnit(unit: Uint8Array): void {
    this.pending.clear();
    this.skipping = false;
    this.finish(unit);
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
