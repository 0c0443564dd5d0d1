/**
 * Reads whole H.264 / H.265 access units in Annex B (start codes, beginning with the access unit
 * delimiter) and says what each is: key (an IDR picture for H.264, an IRAP picture for H.265),
 * and whether it holds a B slice. The latest parameter sets (VPS, SPS, PPS) are kept, and a key
 * unit that lacks them gets them put in right after its delimiter (a decoder needs them, and
 * browsers refuse them before the delimiter). A "unit" without a picture (an RTSP camera may send
 * its parameter sets in a packet of their own) is not handed on, since decoders reject a chunk
 * that decodes to nothing; its parameter sets are kept for the next key unit. A unit larger than
 * `maxUnitBytes` is dropped. Also turns a container's length-prefixed sample (AVCC / HVCC) into
 * such a unit. Pure: bytes in, units out.
 */

import { concat, equal } from '../common/bytes.js';
import { readSps, type SequenceInfo, type VideoCodec } from './parameter-sets.js';

export interface AccessUnit {
  /** The whole unit, from its delimiter's start code on. */
  readonly data: Uint8Array;
  readonly key: boolean;
  /** Holds a B slice (H.264: pictures reordered; the decoder delays its output). */
  readonly bidirectional: boolean;
  /** Bytes free right before `data` in its buffer (AccessUnitOptions.headroom, or 0). */
  readonly headroom: number;
}

export interface AccessUnitOptions {
  codec: VideoCodec;
  /** Units longer than this are dropped whole. */
  maxUnitBytes: number;
  /** Called when a new SPS tells the codec string or picture size. */
  onSequence?: (info: SequenceInfo) => void;
  /**
   * Bytes to leave free in front of each unit written out of a container's sample, for a
   * consumer to put its own header there without a copy (default 0).
   */
  headroom?: number;
}

export interface AccessUnitStats {
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

const START_CODE = new Uint8Array([0, 0, 0, 1]);
/** An access unit delimiter that allows any slice type (H.264 `09 F0`, H.265 `46 01 50`). */
const DELIMITERS: Record<VideoCodec, Uint8Array> = {
  h264: new Uint8Array([0, 0, 0, 1, 0x09, 0xf0]),
  h265: new Uint8Array([0, 0, 0, 1, 0x46, 0x01, 0x50]),
};

export class AccessUnitReader {
  readonly stats: AccessUnitStats = {
    units: 0,
    dropped: { oversized: 0, 'no-delimiter': 0, 'no-picture': 0 },
    repaired: 0,
  };
  private readonly options: AccessUnitOptions;
  private readonly hevc: boolean;
  private readonly parameterSets = new Map<number, Uint8Array>();
  private lastSps: Uint8Array | undefined;

  constructor(options: AccessUnitOptions) {
    this.options = options;
    this.hevc = options.codec === 'h265';
  }

  /** The codec this reader reads. */
  get codec(): VideoCodec {
    return this.options.codec;
  }

  /**
   * Parameter sets from a container's decoder configuration (NAL units without start codes):
   * kept like in-band ones, so a key unit without its own gets them.
   */
  seed(parameterSets: readonly Uint8Array[]): void {
    for (const nal of parameterSets) {
      const type = this.typeOf(nal[0] ?? 0);
      if (!this.isParameterSet(type)) continue;
      this.parameterSets.set(type, concat([START_CODE, nal]));
      if (type === this.spsType) this.readSequence(nal);
    }
  }

  /**
   * A container's sample: NAL units each behind a big-endian length of `lengthSize` bytes,
   * read as the Annex B unit it stands for (a delimiter put in front when it has none). A
   * sample whose lengths do not add up is taken for Annex B already.
   */
  readSample(sample: Uint8Array, lengthSize: number): AccessUnit | undefined {
    const nals = nalUnitsOfSample(sample, lengthSize);
    if (!nals) return this.read(sample);
    const first = nals[0];
    const delimited = first !== undefined && this.typeOf(first[0] ?? 0) === this.delimiterType;
    const delimiter = delimited ? undefined : DELIMITERS[this.options.codec];
    let bytes = delimiter?.length ?? 0;
    for (const nal of nals) bytes += START_CODE.length + nal.length;
    // The unit and where its NAL units start, written in one pass: no search for start codes.
    // Every byte of it is written, so its memory need not be zeroed first. Memory of its own,
    // not a slice of Node's shared pool: the GOP cache keeps units for seconds, and a small
    // one would keep a whole 8 KiB slab alive with it.
    const headroom = this.options.headroom ?? 0;
    const unit = Buffer.allocUnsafeSlow(headroom + bytes).subarray(headroom);
    const found: Nal[] = [];
    let at = 0;
    if (delimiter) {
      unit.set(delimiter, 0);
      found.push({ start: 0, header: START_CODE.length, type: this.delimiterType });
      at = delimiter.length;
    }
    for (const nal of nals) {
      unit.set(START_CODE, at);
      unit.set(nal, at + START_CODE.length);
      found.push({ start: at, header: at + START_CODE.length, type: this.typeOf(nal[0] ?? 0) });
      at += START_CODE.length + nal.length;
    }
    return this.classify(unit, found, headroom);
  }

  /** One Annex B unit from its delimiter on: what it is, or undefined when it is dropped. */
  read(unit: Uint8Array): AccessUnit | undefined {
    return this.classify(unit, this.nalsOf(unit), 0);
  }

  /** Unit `unit`, whose NAL units are `nals`: what it is, or undefined when it is dropped. */
  private classify(unit: Uint8Array, nals: Nal[], headroom: number): AccessUnit | undefined {
    if (nals[0] === undefined || nals[0].type !== this.delimiterType) {
      this.stats.dropped['no-delimiter']++; // noise before the first delimiter
      return undefined;
    }
    let key = false;
    let picture = false;
    let hasSps = false;
    let bidirectional = false;
    for (let i = 0; i < nals.length; i++) {
      const nal = nals[i] as Nal;
      const end = nals[i + 1]?.start ?? unit.length;
      if (this.isParameterSet(nal.type)) {
        // A copy: a view would keep the whole unit alive (and `unit` may be a Buffer, whose
        // slice() is a view).
        this.parameterSets.set(nal.type, new Uint8Array(unit.subarray(nal.start, end)));
        if (nal.type === this.spsType) {
          hasSps = true;
          this.readSequence(unit.subarray(nal.header, end));
        }
      }
      if (this.isKeyPicture(nal.type)) key = true;
      if (this.isPicture(nal.type)) picture = true;
      if (!this.hevc && (nal.type === 1 || nal.type === 5)) {
        bidirectional ||= isBSlice(unit, nal.header + 1, end);
      }
    }
    if (!picture) {
      this.stats.dropped['no-picture']++; // its parameter sets are kept above
      return undefined;
    }
    if (key && !hasSps && this.parameterSets.size > 0) {
      const first = nals[1]?.start ?? unit.length;
      unit = concat([
        unit.subarray(0, first),
        ...this.parameterSets.values(),
        unit.subarray(first),
      ]);
      this.stats.repaired++;
      headroom = 0;
    }
    if (unit.length > this.options.maxUnitBytes) {
      this.stats.dropped.oversized++;
      return undefined;
    }
    this.stats.units++;
    return { data: unit, key, bidirectional, headroom };
  }

  /** NAL type of a NAL header's first byte. */
  typeOf(header: number): number {
    return this.hevc ? (header >> 1) & 0x3f : header & 0x1f;
  }

  /** The access unit delimiter's NAL type. */
  get delimiterType(): number {
    return this.hevc ? 35 : 9;
  }

  private get spsType(): number {
    return this.hevc ? 33 : 7;
  }

  private nalsOf(unit: Uint8Array): Nal[] {
    const nals: Nal[] = [];
    for (let at = nextStart(unit, 0); at !== -1; at = nextStart(unit, at + 3)) {
      const header = unit[at + 3];
      if (header === undefined) break;
      const start = at > 0 && unit[at - 1] === 0 ? at - 1 : at;
      nals.push({ start, header: at + 3, type: this.typeOf(header) });
    }
    return nals;
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
    this.lastSps = new Uint8Array(nal); // a copy, as above
    const info = readSps(this.options.codec, nal);
    if (info) this.options.onSequence?.(info);
  }
}

/** Offset of the next 00 00 01 in `data` at or after `from`, or -1. */
export function nextStart(data: Uint8Array, from: number): number {
  for (let i = data.indexOf(0, from); i !== -1 && i + 2 < data.length; i = data.indexOf(0, i + 1)) {
    if (data[i + 1] === 0 && data[i + 2] === 1) return i;
  }
  return -1;
}

/** The NAL units of a length-prefixed sample, or undefined when its lengths do not add up. */
function nalUnitsOfSample(sample: Uint8Array, lengthSize: number): Uint8Array[] | undefined {
  const nals: Uint8Array[] = [];
  for (let at = 0; at < sample.length; ) {
    if (at + lengthSize > sample.length) return undefined;
    let length = 0;
    for (let i = 0; i < lengthSize; i++) length = length * 256 + (sample[at + i] ?? 0);
    at += lengthSize;
    if (length === 0 || at + length > sample.length) return undefined;
    nals.push(sample.subarray(at, at + length));
    at += length;
  }
  return nals.length > 0 ? nals : undefined;
}

/**
 * True when the H.264 slice header at `from` (the bytes after the NAL header, before `end`)
 * says B: slice_type 1 or 6. Its first two Exp-Golomb codes are read bit by bit; it runs for
 * every picture, so nothing is allocated.
 */
function isBSlice(unit: Uint8Array, from: number, end: number): boolean {
  const limit = Math.min(end, from + 8) * 8; // bits past it read as 0, as a short header's
  let position = from * 8;
  let type = 0;
  for (let code = 0; code < 2; code++) {
    let zeros = 0;
    while (bitAt(unit, position++, limit) === 0 && zeros < 16) zeros++;
    let value = 0;
    for (let i = 0; i < zeros; i++) value = value * 2 + bitAt(unit, position++, limit);
    type = (1 << zeros) - 1 + value; // first_mb_in_slice, then slice_type (zeros <= 16)
  }
  return type === 1 || type === 6;
}

/** Bit `position` of `bytes` (most significant first), or 0 at or past `limit`. */
function bitAt(bytes: Uint8Array, position: number, limit: number): number {
  return position < limit ? ((bytes[position >> 3] ?? 0) >> (7 - (position & 7))) & 1 : 0;
}
