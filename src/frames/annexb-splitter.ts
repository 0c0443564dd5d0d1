/**
 * Cuts an H.264 or H.265 Annex B byte stream (ffmpeg `-f h264` / `-f hevc` with an access-unit
 * delimiter inserted before every picture) into access units: one unit from one AUD to the
 * next. Pure: bytes in, units out, nothing but Uint8Array.
 *
 * A unit is key when it holds an IDR picture (H.264) or an IRAP picture (H.265). The latest
 * parameter sets (VPS, SPS, PPS) are kept, and a key unit that lacks them gets them put in right
 * after its delimiter (a decoder needs them, and browsers refuse them before the delimiter).
 * A "unit" without a picture (RTSP cameras often send their parameter sets in a packet of their
 * own, which gets a delimiter of its own) is not handed on: decoders reject a chunk that decodes
 * to nothing. Its parameter sets are kept for the next key unit. A unit larger than
 * `maxUnitBytes` is dropped and the splitter resynchronises at the next delimiter, as it does
 * after garbage. A unit is handed on when the next delimiter arrives:
 * raw Annex B has no lengths, so that is the first moment it is known to be whole.
 */

import { concat, equal } from '../common/bytes.js';
import { readSps, type SequenceInfo, type VideoCodec } from './parameter-sets.js';

export interface AccessUnit {
  /** The whole unit, from its delimiter's start code on. */
  readonly data: Uint8Array;
  readonly key: boolean;
  /** Holds a B slice (H.264: pictures reordered; the decoder delays its output). */
  readonly bidirectional: boolean;
}

export interface AnnexBOptions {
  codec: VideoCodec;
  /** Units longer than this are dropped whole. */
  maxUnitBytes: number;
  onUnit: (unit: AccessUnit) => void;
  /** Called when a new SPS tells the codec string or picture size. */
  onSequence?: (info: SequenceInfo) => void;
}

export interface AnnexBStats {
  units: number;
  dropped: { oversized: number; 'no-delimiter': number; 'no-picture': number };
  /** Key units that came without parameter sets and got the latest ones put in. */
  repaired: number;
}

interface Nal {
  /** Offset of the start code (3 or 4 bytes) in the unit. */
  start: number;
  /** Offset of the NAL header. */
  header: number;
  type: number;
}

export class AnnexBSplitter {
  readonly stats: AnnexBStats = {
    units: 0,
    dropped: { oversized: 0, 'no-delimiter': 0, 'no-picture': 0 },
    repaired: 0,
  };
  private readonly options: AnnexBOptions;
  private readonly hevc: boolean;
  private readonly delimiterType: number;
  /** Bytes since the current unit's delimiter (or of noise before the first one). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private skipping = false;
  private readonly parameterSets = new Map<number, Uint8Array>();
  private lastSps: Uint8Array | undefined;

  constructor(options: AnnexBOptions) {
    this.options = options;
    this.hevc = options.codec === 'h265';
    this.delimiterType = this.hevc ? 35 : 9;
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
      if (cut > 0 && this.typeOf(this.byteAt(at + 3)) === this.delimiterType) cuts.push(cut);
    };
    for (let at = Math.max(1, base - 3); at < base && at + 3 < this.pendingBytes; at++) {
      if (this.byteAt(at) === 0 && this.byteAt(at + 1) === 0 && this.byteAt(at + 2) === 1) {
        cutAt(at);
      }
    }
    for (let at = this.nextStart(chunk, 0); at !== -1; at = this.nextStart(chunk, at + 3)) {
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
      this.stats.dropped.oversized++;
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

  /** Offset of the next 00 00 01 at or after `from`, or -1. */
  private nextStart(data: Uint8Array, from: number): number {
    for (
      let i = data.indexOf(0, from);
      i !== -1 && i + 2 < data.length;
      i = data.indexOf(0, i + 1)
    ) {
      if (data[i + 1] === 0 && data[i + 2] === 1) return i;
    }
    return -1;
  }

  private isDelimiter(data: Uint8Array, start: number): boolean {
    const header = data[start + 3];
    return header !== undefined && this.typeOf(header) === this.delimiterType;
  }

  private typeOf(header: number): number {
    return this.hevc ? (header >> 1) & 0x3f : header & 0x1f;
  }

  /** One candidate unit, from a delimiter to just before the next one. */
  private finish(unit: Uint8Array): void {
    if (this.skipping) {
      this.skipping = false;
      if (!this.isDelimiter(unit, unit[0] === 0 && unit[1] === 0 && unit[2] === 0 ? 1 : 0)) return;
    }
    const nals = this.nalsOf(unit);
    if (nals[0] === undefined || !this.isDelimiterType(nals[0].type)) {
      this.stats.dropped['no-delimiter']++; // noise before the first delimiter
      return;
    }
    let key = false;
    let picture = false;
    let hasSps = false;
    let bidirectional = false;
    for (const [i, nal] of nals.entries()) {
      const end = nals[i + 1]?.start ?? unit.length;
      if (this.isParameterSet(nal.type)) {
        const bytes = unit.slice(nal.start, end);
        this.parameterSets.set(nal.type, bytes);
        if (nal.type === (this.hevc ? 33 : 7)) {
          hasSps = true;
          this.readSequence(unit.subarray(nal.header, end));
        }
      }
      if (this.isKeyPicture(nal.type)) key = true;
      if (this.isPicture(nal.type)) picture = true;
      if (!this.hevc && (nal.type === 1 || nal.type === 5)) {
        bidirectional ||= isBSlice(unit.subarray(nal.header + 1, Math.min(end, nal.header + 9)));
      }
    }
    if (!picture) {
      this.stats.dropped['no-picture']++; // its parameter sets are kept above
      return;
    }
    if (key && !hasSps && this.parameterSets.size > 0) {
      const first = nals[1]?.start ?? unit.length;
      unit = concat([
        unit.subarray(0, first),
        ...this.parameterSets.values(),
        unit.subarray(first),
      ]);
      this.stats.repaired++;
    }
    if (unit.length > this.options.maxUnitBytes) {
      this.stats.dropped.oversized++;
      return;
    }
    this.stats.units++;
    this.options.onUnit({ data: unit, key, bidirectional });
  }

  private nalsOf(unit: Uint8Array): Nal[] {
    const nals: Nal[] = [];
    for (let at = this.nextStart(unit, 0); at !== -1; at = this.nextStart(unit, at + 3)) {
      const header = unit[at + 3];
      if (header === undefined) break;
      const start = at > 0 && unit[at - 1] === 0 ? at - 1 : at;
      nals.push({ start, header: at + 3, type: this.typeOf(header) });
    }
    return nals;
  }

  private isDelimiterType(type: number): boolean {
    return type === (this.hevc ? 35 : 9);
  }

  private isParameterSet(type: number): boolean {
    return this.hevc ? type >= 32 && type <= 34 : type === 7 || type === 8;
  }

  /** A slice (VCL NAL unit): H.264 types 1-5, H.265 types 0-31. */
  private isPicture(type: number): boolean {
    return this.hevc ? type <= 31 : type >= 1 && type <= 5;
  }

  private isKeyPicture(type: number): boolean {
    return this.hevc ? type >= 16 && type <= 21 : type === 5;
  }

  private readSequence(nal: Uint8Array): void {
    if (this.lastSps && equal(this.lastSps, nal)) return;
    this.lastSps = nal.slice();
    const info = readSps(this.options.codec, nal);
    if (info) this.options.onSequence?.(info);
  }
}

/** True when an H.264 slice header (bytes after the NAL header) says B: slice_type 1 or 6. */
function isBSlice(header: Uint8Array): boolean {
  let position = 0;
  const bit = () => ((header[position >> 3] ?? 0) >> (7 - (position++ & 7))) & 1;
  const ue = () => {
    let zeros = 0;
    while (bit() === 0 && zeros < 16) zeros++;
    let value = 0;
    for (let i = 0; i < zeros; i++) value = value * 2 + bit();
    return 2 ** zeros - 1 + value;
  };
  ue(); // first_mb_in_slice
  const type = ue();
  return type === 1 || type === 6;
}
