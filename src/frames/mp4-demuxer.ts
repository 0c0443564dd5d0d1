/**
 * Reads fragmented ISO BMFF (MP4 and QuickTime MOV, as ffmpeg writes them with
 * `-movflags frag_every_frame+empty_moov+default_base_moof`) as it arrives on a pipe: the tracks
 * from `moov` (codec, time base, decoder configuration), then every sample of each `moof` +
 * `mdat` pair with its decode time, composition offset and sync flag, in the track's own ticks.
 * Pure: bytes in, tracks and samples out, nothing but Uint8Array.
 *
 * Edit lists are applied (`-movflags delay_moov` writes the track's start there), so every track
 * of one input lands on the same timeline.
 *
 * Robust to what a pipe can hold: boxes cut at any byte, garbage between boxes (it resynchronises
 * at the next `moof`, `moov` or `ftyp`), boxes larger than their bound (skipped without being
 * held, counted), a sample that lies outside its `mdat` (dropped, counted), a new `moov`
 * mid-stream (the tracks are replaced), and a track whose first sample comes late.
 */

import { ByteQueue } from './byte-queue.js';

/** The codecs camplex passes through; anything else is a track of kind `other`. */
export type VideoCodecName = 'h264' | 'h265';
export type AudioCodecName = 'aac' | 'opus' | 'pcma' | 'pcmu';

interface TrackBase {
  id: number;
  /** Ticks per second of the track's timestamps. */
  timescale: number;
  /**
   * Ticks added to the track's decode times to put it on the movie's timeline, from its edit
   * list: an empty edit first delays it, an edit's start in the media moves it back. Tracks
   * written to separate files by one ffmpeg meet on this timeline.
   */
  offset: number;
}

export interface VideoTrack extends TrackBase {
  kind: 'video';
  codec: VideoCodecName;
  /** Bytes of each NAL unit's length prefix in a sample (1, 2 or 4). */
  nalLengthSize: number;
  /** The parameter sets of the decoder configuration (NAL units, no start codes). */
  parameterSets: Uint8Array[];
  width: number;
  height: number;
}

export interface AudioTrack extends TrackBase {
  kind: 'audio';
  codec: AudioCodecName;
  sampleRate: number;
  channels: number;
  /** AAC: the AudioSpecificConfig; Opus: the `dOps` box's payload. */
  config?: Uint8Array;
}

export interface OtherTrack extends TrackBase {
  kind: 'other';
  /** The sample entry's four-character code, e.g. `mp4v`, `text`. */
  format: string;
}

export type Track = VideoTrack | AudioTrack | OtherTrack;

export interface Sample {
  track: Track;
  /** Decode time, in the track's ticks. */
  dts: number;
  /** Presentation time minus decode time, in ticks (0 without reordering). */
  cto: number;
  /** Ticks until the next sample, as the muxer knew it (0 when it did not). */
  duration: number;
  /** A sync sample: a decoder can start here (every audio sample). */
  key: boolean;
  /** The sample's bytes (a view into the demuxer's input). */
  data: Uint8Array;
}

export interface Mp4DemuxerOptions {
  /** A sample (and so an `mdat`) larger than this is dropped without being held. */
  maxSampleBytes: number;
  onTracks: (tracks: Track[]) => void;
  onSample: (sample: Sample) => void;
}

export interface Mp4DemuxerStats {
  samples: number;
  dropped: {
    /** Bytes that were not a box (skipped to the next box that looks like one). */
    garbage: number;
    /** Boxes larger than their bound, skipped. */
    oversized: number;
    /** Samples that lay outside the mdat after their moof, or had no moof. */
    unplaced: number;
    /** Samples of tracks camplex cannot pass on, or before any moov. */
    untracked: number;
  };
}

/** Top-level boxes a stream may hold; anything else is taken for garbage. */
const TOP_LEVEL = new Set([
  'ftyp',
  'styp',
  'moov',
  'moof',
  'mdat',
  'free',
  'skip',
  'wide',
  'sidx',
  'prft',
  'emsg',
  'uuid',
  'mfra',
  'meta',
]);
/** Where a resynchronising reader may start again. */
const RESYNC_AT = new Set(['moof', 'moov', 'ftyp', 'styp']);
/** Bounds of the boxes that are held whole before they are read. */
const MAX_MOOV_BYTES = 1 << 20;
const MAX_MOOF_BYTES = 1 << 20;

/** trun flags (ISO/IEC 14496-12, 8.8.8). */
const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_FLAGS = 0x4;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_CTO = 0x800;
/** tfhd flags (8.8.7). */
const TFHD_BASE_OFFSET = 0x1;
const TFHD_DESCRIPTION = 0x2;
const TFHD_DURATION = 0x8;
const TFHD_SIZE = 0x10;
const TFHD_FLAGS = 0x20;
const TFHD_BASE_IS_MOOF = 0x20000;
/** sample_is_non_sync_sample in sample flags. */
const NON_SYNC = 0x10000;

const TRAF = codeOf('traf');
const TFHD = codeOf('tfhd');
const TFDT = codeOf('tfdt');
const TRUN = codeOf('trun');

/** A sample a moof announced, placed by its absolute position in the stream. */
interface Placed {
  track: Track;
  at: number;
  size: number;
  dts: number;
  cto: number;
  duration: number;
  key: boolean;
}

interface TrackDefaults {
  duration: number;
  size: number;
  flags: number;
}

export class Mp4Demuxer {
  readonly stats: Mp4DemuxerStats = {
    samples: 0,
    dropped: { garbage: 0, oversized: 0, unplaced: 0, untracked: 0 },
  };
  private readonly options: Mp4DemuxerOptions;
  private readonly pending = new ByteQueue();
  /** Stream offset of the first pending byte. */
  private position = 0;
  /** Bytes still to be skipped of a box too large to hold. */
  private skipping = 0;
  private tracks = new Map<number, Track>();
  private readonly defaults = new Map<number, TrackDefaults>();
  /** Where each track's next sample starts when a traf gives no decode time. */
  private readonly nextDts = new Map<number, number>();
  /** The samples of the last moof, waiting for the mdat that holds them. */
  private placed: Placed[] = [];
  /** Scratch of the moof being read, reused: the traf's header, its runs, where samples are. */
  private readonly tfhd = { track: 0, flags: 0, base: -1, duration: 0, size: 0, sampleFlags: 0 };
  private readonly runs: number[] = [];
  private readonly cursor = { dataAt: 0, dts: 0 };

  constructor(options: Mp4DemuxerOptions) {
    this.options = options;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, chunk.length);
      this.skipping -= skipped;
      this.position += skipped;
      chunk = chunk.subarray(skipped);
      if (chunk.length === 0) return;
    }
    this.pending.push(chunk);
    this.readBoxes();
  }

  private readBoxes(): void {
    for (;;) {
      if (this.pending.length < 8) return;
      const head = this.pending.peek(16);
      const view = new DataView(head.buffer, head.byteOffset, head.length);
      let size = view.getUint32(0);
      const type = fourCC(head, 4);
      let headerBytes = 8;
      if (size === 1) {
        if (head.length < 16) return;
        size = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
        headerBytes = 16;
      }
      if (!TOP_LEVEL.has(type) || size < headerBytes) {
        this.resync();
        continue;
      }
      const bound = this.boundOf(type);
      if (size > bound) {
        this.stats.dropped.oversized++;
        if (type === 'mdat') this.dropPlaced();
        this.skip(size);
        continue;
      }
      if (this.pending.length < size) return; // the box is not whole yet
      const box = this.take(size);
      this.onBox(type, box, box.subarray(headerBytes), this.position - size);
    }
  }

  private boundOf(type: string): number {
    if (type === 'moov') return MAX_MOOV_BYTES;
    if (type === 'moof') return MAX_MOOF_BYTES;
    if (type === 'mdat') return this.options.maxSampleBytes + 16;
    return MAX_MOOF_BYTES; // free, sidx, ...: small in a live stream
  }

  private onBox(type: string, box: Uint8Array, body: Uint8Array, at: number): void {
    if (type === 'moov') {
      this.readMovie(body);
    } else if (type === 'moof') {
      this.dropPlaced();
      this.placed = this.readFragment(body, at);
    } else if (type === 'mdat') {
      this.emitSamples(body, at + (box.length - body.length));
    }
  }

  /** Samples of the last moof that lie in this mdat go out; the rest count as unplaced. */
  private emitSamples(data: Uint8Array, dataAt: number): void {
    const placed = this.placed;
    this.placed = [];
    for (const sample of placed) {
      const from = sample.at - dataAt;
      if (from < 0 || from + sample.size > data.length) {
        this.stats.dropped.unplaced++;
        continue;
      }
      if (sample.track.kind === 'other') {
        this.stats.dropped.untracked++;
        continue;
      }
      if (sample.size > this.options.maxSampleBytes) {
        this.stats.dropped.oversized++;
        continue;
      }
      this.stats.samples++;
      this.options.onSample({
        track: sample.track,
        dts: sample.dts,
        cto: sample.cto,
        duration: sample.duration,
        key: sample.key,
        data: data.subarray(from, from + sample.size),
      });
    }
  }

  private dropPlaced(): void {
    this.stats.dropped.unplaced += this.placed.length;
    this.placed = [];
  }

  /** Drops bytes up to the next box header that looks like a place to start again. */
  private resync(): void {
    const data = this.pending.joined();
    let at = 1;
    for (; at + 8 <= data.length; at++) {
      const size =
        ((data[at] ?? 0) << 24) |
        ((data[at + 1] ?? 0) << 16) |
        ((data[at + 2] ?? 0) << 8) |
        (data[at + 3] ?? 0);
      if (size >>> 0 >= 8 && RESYNC_AT.has(fourCC(data, at + 4))) break;
    }
    // Without a header in sight, keep the last 7 bytes: one may begin there.
    const drop = at + 8 <= data.length ? at : Math.max(1, data.length - 7);
    this.stats.dropped.garbage += drop;
    this.dropPlaced();
    this.take(drop);
  }

  // --- moov ---

  private readMovie(body: Uint8Array): void {
    const tracks = new Map<number, Track>();
    this.defaults.clear();
    this.nextDts.clear();
    this.placed = [];
    const mvhd = child(body, 'mvhd');
    const movieTimescale =
      mvhd && mvhd.length >= 24 ? viewOf(mvhd).getUint32(mvhd[0] === 1 ? 20 : 12) : 1000;
    for (const box of children(body)) {
      if (box.type === 'trak') {
        const track = readTrack(box.body, movieTimescale || 1000);
        if (track) tracks.set(track.id, track);
      } else if (box.type === 'mvex') {
        for (const trex of children(box.body)) {
          if (trex.type !== 'trex' || trex.body.length < 24) continue;
          const view = viewOf(trex.body);
          this.defaults.set(view.getUint32(4), {
            duration: view.getUint32(12),
            size: view.getUint32(16),
            flags: view.getUint32(20),
          });
        }
      }
    }
    this.tracks = tracks;
    this.options.onTracks([...tracks.values()]);
  }

  // --- moof ---

  /**
   * The samples a moof announces, read in place through one DataView of it: no list of boxes,
   * no object per field or run (this runs for every picture).
   */
  private readFragment(body: Uint8Array, moofAt: number): Placed[] {
    const placed: Placed[] = [];
    const view = viewOf(body);
    let previousEnd = moofAt; // where a traf without a base offset starts (the first: the moof)
    for (let at = 0; at + 8 <= body.length; ) {
      const size = boxSize(view, at, body.length);
      if (size === 0) break;
      if (view.getUint32(at + 4) === TRAF) {
        previousEnd = this.readTraf(
          view,
          at + headerOf(view, at),
          at + size,
          moofAt,
          previousEnd,
          placed,
        );
      }
      at += size;
    }
    return placed;
  }

  /** One traf's samples into `placed`; returns where its last sample ends. */
  private readTraf(
    view: DataView,
    from: number,
    to: number,
    moofAt: number,
    previousEnd: number,
    placed: Placed[],
  ): number {
    let tfhdAt = -1;
    let tfhdEnd = 0;
    let tfdtAt = -1;
    let tfdtEnd = 0;
    const runs = this.runs; // start and end of each trun's body, pairwise
    runs.length = 0;
    for (let at = from; at + 8 <= to; ) {
      const size = boxSize(view, at, to);
      if (size === 0) break;
      const type = view.getUint32(at + 4);
      const body = at + headerOf(view, at);
      if (type === TFHD) {
        tfhdAt = body;
        tfhdEnd = at + size;
      } else if (type === TFDT) {
        tfdtAt = body;
        tfdtEnd = at + size;
      } else if (type === TRUN) {
        runs.push(body, at + size);
      }
      at += size;
    }
    const tfhd = this.tfhd;
    if (tfhdAt < 0 || !this.readTfhd(view, tfhdAt, tfhdEnd)) return previousEnd;
    const track = this.tracks.get(tfhd.track);
    const base = tfhd.base >= 0 ? tfhd.base : tfhd.flags & TFHD_BASE_IS_MOOF ? moofAt : previousEnd;
    const cursor = this.cursor;
    cursor.dts =
      (tfdtAt >= 0 ? readTfdt(view, tfdtAt, tfdtEnd) : undefined) ??
      this.nextDts.get(tfhd.track) ??
      0;
    cursor.dataAt = base;
    for (let r = 0; r < runs.length; r += 2) {
      if (!this.readTrun(view, runs[r] as number, runs[r + 1] as number, track, base, placed))
        break;
    }
    this.nextDts.set(tfhd.track, cursor.dts);
    return cursor.dataAt;
  }

  /** The tfhd in `view` from `at` to `end` into `this.tfhd`; false when it is too short. */
  private readTfhd(view: DataView, at: number, end: number): boolean {
    if (end - at < 8) return false;
    const tfhd = this.tfhd;
    const flags = view.getUint32(at) & 0xffffff;
    tfhd.flags = flags;
    tfhd.track = view.getUint32(at + 4);
    const trex = this.defaults.get(tfhd.track);
    tfhd.duration = trex?.duration ?? 0;
    tfhd.size = trex?.size ?? 0;
    tfhd.sampleFlags = trex?.flags ?? 0;
    tfhd.base = -1;
    let field = at + 8;
    // Each optional field in order; a body too short for the fields its flags name is refused.
    if (flags & TFHD_BASE_OFFSET) {
      if (field + 8 > end) return false;
      tfhd.base = view.getUint32(field) * 2 ** 32 + view.getUint32(field + 4);
      field += 8;
    }
    if (flags & TFHD_DESCRIPTION) field += 4;
    if (flags & TFHD_DURATION) {
      if (field + 4 > end) return false;
      tfhd.duration = view.getUint32(field);
      field += 4;
    }
    if (flags & TFHD_SIZE) {
      if (field + 4 > end) return false;
      tfhd.size = view.getUint32(field);
      field += 4;
    }
    if (flags & TFHD_FLAGS) {
      if (field + 4 > end) return false;
      tfhd.sampleFlags = view.getUint32(field);
    }
    return true;
  }

  /**
   * One trun's samples into `placed`, from `this.cursor` on (advanced past them); false when
   * the run is shorter than its flags say (then nothing of it is placed).
   */
  private readTrun(
    view: DataView,
    from: number,
    end: number,
    track: Track | undefined,
    base: number,
    placed: Placed[],
  ): boolean {
    if (end - from < 8) return false;
    const tfhd = this.tfhd;
    const cursor = this.cursor;
    const flags = view.getUint32(from) & 0xffffff;
    const count = view.getUint32(from + 4);
    let at = from + 8;
    let dataOffset: number | undefined;
    let firstFlags: number | undefined;
    if (flags & TRUN_DATA_OFFSET) {
      if (at + 4 > end) return false;
      dataOffset = view.getInt32(at);
      at += 4;
    }
    if (flags & TRUN_FIRST_FLAGS) {
      if (at + 4 > end) return false;
      firstFlags = view.getUint32(at);
      at += 4;
    }
    const perSample =
      4 *
      ((flags & TRUN_DURATION ? 1 : 0) +
        (flags & TRUN_SIZE ? 1 : 0) +
        (flags & TRUN_FLAGS ? 1 : 0) +
        (flags & TRUN_CTO ? 1 : 0));
    if (at + perSample * count > end) return false;
    if (dataOffset !== undefined) cursor.dataAt = base + dataOffset;
    for (let i = 0; i < count; i++) {
      let duration = tfhd.duration;
      if (flags & TRUN_DURATION) {
        duration = view.getUint32(at);
        at += 4;
      }
      let size = tfhd.size;
      if (flags & TRUN_SIZE) {
        size = view.getUint32(at);
        at += 4;
      }
      let sampleFlags = i === 0 && firstFlags !== undefined ? firstFlags : tfhd.sampleFlags;
      if (flags & TRUN_FLAGS) {
        sampleFlags = view.getUint32(at);
        at += 4;
      }
      // Version 0 is unsigned by the letter, but muxers write negative offsets there too.
      let cto = 0;
      if (flags & TRUN_CTO) {
        cto = view.getInt32(at);
        at += 4;
      }
      if (!track) {
        this.stats.dropped.untracked++;
      } else {
        placed.push({
          track,
          at: cursor.dataAt,
          size,
          dts: cursor.dts + track.offset,
          cto,
          duration,
          key: track.kind === 'audio' || (sampleFlags & NON_SYNC) === 0,
        });
      }
      cursor.dataAt += size;
      cursor.dts += duration;
    }
    return true;
  }

  // --- the pending bytes ---

  /** Removes and returns the first `count` pending bytes. */
  private take(count: number): Uint8Array {
    this.position += count;
    return this.pending.take(count);
  }

  /** Skips a box of `size` bytes, the part not yet here as it arrives. */
  private skip(size: number): void {
    const now = Math.min(size, this.pending.length);
    this.take(now);
    this.skipping = size - now;
  }
}

// --- boxes inside moov and moof ---

interface Box {
  type: string;
  body: Uint8Array;
}

/** The boxes inside `body`, in order; a box that runs past the end ends the list. */
export function children(body: Uint8Array): Box[] {
  const boxes: Box[] = [];
  const view = viewOf(body);
  for (let at = 0; at + 8 <= body.length; ) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > body.length) break;
      size = view.getUint32(at + 8) * 2 ** 32 + view.getUint32(at + 12);
      header = 16;
    } else if (size === 0) {
      size = body.length - at;
    }
    if (size < header || at + size > body.length) break;
    boxes.push({ type: fourCC(body, at + 4), body: body.subarray(at + header, at + size) });
    at += size;
  }
  return boxes;
}

function child(body: Uint8Array, ...path: string[]): Uint8Array | undefined {
  let current: Uint8Array | undefined = body;
  for (const type of path) {
    current = current && children(current).find((box) => box.type === type)?.body;
  }
  return current;
}

function readTrack(trak: Uint8Array, movieTimescale: number): Track | undefined {
  const tkhd = child(trak, 'tkhd');
  const mdhd = child(trak, 'mdia', 'mdhd');
  const stsd = child(trak, 'mdia', 'minf', 'stbl', 'stsd');
  if (!tkhd || !mdhd || !stsd || tkhd.length < 24 || mdhd.length < 24 || stsd.length < 16) {
    return undefined;
  }
  const tkhdView = viewOf(tkhd);
  const id = tkhdView.getUint32(tkhd[0] === 1 ? 20 : 12);
  const mdhdView = viewOf(mdhd);
  const timescale = mdhdView.getUint32(mdhd[0] === 1 ? 20 : 12);
  if (timescale === 0) return undefined;
  const offset = editOffset(child(trak, 'edts', 'elst'), movieTimescale, timescale);
  // stsd: version/flags, entry count, then the first sample entry (a box).
  const entry = children(stsd.subarray(8))[0];
  if (!entry) return undefined;
  try {
    return (
      readVideoEntry(id, timescale, offset, entry) ??
      readAudioEntry(id, timescale, offset, entry) ?? {
        id,
        timescale,
        offset,
        kind: 'other',
        format: entry.type,
      }
    );
  } catch {
    return { id, timescale, offset, kind: 'other', format: entry.type };
  }
}

/**
 * Where an edit list puts a track (ISO/IEC 14496-12, 8.6.6), in its ticks: leading empty edits
 * (media time -1) delay it by their duration (in the movie's ticks), the first real edit starts
 * it at its media time. Without an edit list: 0.
 */
function editOffset(
  elst: Uint8Array | undefined,
  movieTimescale: number,
  timescale: number,
): number {
  if (!elst || elst.length < 8) return 0;
  const view = viewOf(elst);
  const wide = elst[0] === 1;
  const count = view.getUint32(4);
  const entryBytes = wide ? 20 : 12;
  let empty = 0;
  for (let i = 0, at = 8; i < count && at + entryBytes <= elst.length; i++, at += entryBytes) {
    const duration = wide
      ? view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4)
      : view.getUint32(at);
    const mediaTime = wide ? Number(view.getBigInt64(at + 8)) : view.getInt32(at + 4);
    if (mediaTime === -1) {
      empty += duration;
      continue;
    }
    return Math.round((empty * timescale) / movieTimescale) - mediaTime;
  }
  return Math.round((empty * timescale) / movieTimescale);
}

/** Bytes of a visual sample entry before its child boxes (ISO/IEC 14496-12, 12.1.3). */
const VISUAL_ENTRY_BYTES = 78;

function readVideoEntry(
  id: number,
  timescale: number,
  offset: number,
  entry: Box,
): VideoTrack | undefined {
  const codec =
    entry.type === 'avc1' || entry.type === 'avc3'
      ? 'h264'
      : entry.type === 'hvc1' || entry.type === 'hev1'
        ? 'h265'
        : undefined;
  if (!codec || entry.body.length < VISUAL_ENTRY_BYTES) return undefined;
  const view = viewOf(entry.body);
  const width = view.getUint16(24);
  const height = view.getUint16(26);
  const boxes = children(entry.body.subarray(VISUAL_ENTRY_BYTES));
  const config = boxes.find((box) => box.type === (codec === 'h264' ? 'avcC' : 'hvcC'))?.body;
  const { nalLengthSize, parameterSets } = config
    ? codec === 'h264'
      ? readAvcC(config)
      : readHvcC(config)
    : { nalLengthSize: 4, parameterSets: [] };
  return {
    id,
    timescale,
    offset,
    kind: 'video',
    codec,
    nalLengthSize,
    parameterSets,
    width,
    height,
  };
}

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3). */
function readAvcC(config: Uint8Array): { nalLengthSize: number; parameterSets: Uint8Array[] } {
  const view = viewOf(config);
  const nalLengthSize = ((config[4] ?? 3) & 3) + 1;
  const parameterSets: Uint8Array[] = [];
  let at = 5;
  for (const countMask of [0x1f, 0xff]) {
    const count = (config[at++] ?? 0) & countMask;
    for (let i = 0; i < count && at + 2 <= config.length; i++) {
      const length = view.getUint16(at);
      if (at + 2 + length > config.length) break;
      parameterSets.push(config.slice(at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  return { nalLengthSize, parameterSets };
}

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15, 8.3.3). */
function readHvcC(config: Uint8Array): { nalLengthSize: number; parameterSets: Uint8Array[] } {
  const view = viewOf(config);
  const nalLengthSize = ((config[21] ?? 3) & 3) + 1;
  const parameterSets: Uint8Array[] = [];
  const arrays = config[22] ?? 0;
  let at = 23;
  for (let a = 0; a < arrays && at + 3 <= config.length; a++) {
    const count = view.getUint16(at + 1);
    at += 3;
    for (let i = 0; i < count && at + 2 <= config.length; i++) {
      const length = view.getUint16(at);
      if (at + 2 + length > config.length) return { nalLengthSize, parameterSets };
      parameterSets.push(config.slice(at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  return { nalLengthSize, parameterSets };
}

/** Bytes of an audio sample entry before its child boxes, by its version (0 MP4, 1-2 QuickTime). */
const AUDIO_ENTRY_BYTES: Record<number, number> = { 0: 28, 1: 44, 2: 64 };
const AUDIO_FORMATS: Record<string, AudioCodecName> = {
  mp4a: 'aac',
  Opus: 'opus',
  alaw: 'pcma',
  ulaw: 'pcmu',
};

function readAudioEntry(
  id: number,
  timescale: number,
  offset: number,
  entry: Box,
): AudioTrack | undefined {
  const codec = AUDIO_FORMATS[entry.type];
  if (!codec || entry.body.length < 28) return undefined;
  const view = viewOf(entry.body);
  const version = view.getUint16(8);
  const entryBytes = AUDIO_ENTRY_BYTES[version];
  if (entryBytes === undefined || entry.body.length < entryBytes) return undefined;
  let channels = view.getUint16(16);
  let sampleRate = view.getUint32(24) / 65536;
  if (version === 2) {
    sampleRate = view.getFloat64(32);
    channels = view.getUint32(40);
  }
  const boxes = children(entry.body.subarray(entryBytes));
  if (codec === 'aac') {
    // QuickTime puts the esds inside a `wave` box.
    const esds =
      boxes.find((box) => box.type === 'esds')?.body ??
      child(boxes.find((box) => box.type === 'wave')?.body ?? new Uint8Array(0), 'esds');
    const config = esds && audioSpecificConfig(esds);
    if (!config) return undefined;
    const facts = readAudioSpecificConfig(config);
    return {
      id,
      timescale,
      offset,
      kind: 'audio',
      codec,
      sampleRate: facts?.sampleRate ?? sampleRate,
      channels: facts?.channels || channels,
      config,
    };
  }
  if (codec === 'opus') {
    const dOps = boxes.find((box) => box.type === 'dOps')?.body;
    // Opus always decodes at 48 kHz whatever rate it was made from.
    return {
      id,
      timescale,
      offset,
      kind: 'audio',
      codec,
      sampleRate: 48_000,
      channels: dOps?.[1] ?? channels,
      ...(dOps ? { config: dOps.slice() } : {}),
    };
  }
  return {
    id,
    timescale,
    offset,
    kind: 'audio',
    codec,
    sampleRate: sampleRate || timescale,
    channels,
  };
}

/** The DecoderSpecificInfo of an esds box: AAC's AudioSpecificConfig (ISO/IEC 14496-1, 7.2.6). */
function audioSpecificConfig(esds: Uint8Array): Uint8Array | undefined {
  // version/flags, then descriptors: ES (3) > DecoderConfig (4) > DecoderSpecificInfo (5).
  let at = 4;
  const descriptor = () => {
    const tag = esds[at++];
    let length = 0;
    for (let i = 0; i < 4; i++) {
      const byte = esds[at++] ?? 0;
      length = (length << 7) | (byte & 0x7f);
      if ((byte & 0x80) === 0) break;
    }
    return { tag, length };
  };
  const es = descriptor();
  if (es.tag !== 3) return undefined;
  const esFlags = esds[at + 2] ?? 0;
  at += 3; // ES_ID, flags
  if (esFlags & 0x80) at += 2; // dependsOn_ES_ID
  if (esFlags & 0x40) at += 1 + (esds[at] ?? 0); // URL
  if (esFlags & 0x20) at += 2; // OCR_ES_Id
  const decoderConfig = descriptor();
  if (decoderConfig.tag !== 4) return undefined;
  at += 13; // objectTypeIndication, streamType, buffer size, bitrates
  const info = descriptor();
  if (info.tag !== 5 || info.length === 0 || at + info.length > esds.length) return undefined;
  return esds.slice(at, at + info.length);
}

const AAC_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/** What an AudioSpecificConfig says: its object type, rate and channels (ISO/IEC 14496-3, 1.6.2.1). */
export function readAudioSpecificConfig(
  config: Uint8Array,
): { objectType: number; sampleRate: number; channels: number } | undefined {
  let position = 0;
  const bits = (count: number) => {
    let value = 0;
    for (let i = 0; i < count; i++) {
      const byte = config[position >> 3];
      if (byte === undefined) throw new RangeError('AudioSpecificConfig ended early');
      value = value * 2 + ((byte >> (7 - (position++ & 7))) & 1);
    }
    return value;
  };
  try {
    let objectType = bits(5);
    if (objectType === 31) objectType = 32 + bits(6);
    const index = bits(4);
    const sampleRate = index === 15 ? bits(24) : AAC_RATES[index];
    const channels = bits(4);
    if (sampleRate === undefined) return undefined;
    return { objectType, sampleRate, channels };
  } catch {
    return undefined;
  }
}

function readTfdt(view: DataView, at: number, end: number): number | undefined {
  if (view.getUint8(at) === 1) {
    return end - at >= 12 ? view.getUint32(at + 4) * 2 ** 32 + view.getUint32(at + 8) : undefined;
  }
  return end - at >= 8 ? view.getUint32(at + 4) : undefined;
}

/** The size of the box at `at`, its header included, or 0 when it does not fit before `end`. */
function boxSize(view: DataView, at: number, end: number): number {
  let size = view.getUint32(at);
  let header = 8;
  if (size === 1) {
    if (at + 16 > end) return 0;
    size = view.getUint32(at + 8) * 2 ** 32 + view.getUint32(at + 12);
    header = 16;
  } else if (size === 0) {
    size = end - at;
  }
  return size < header || at + size > end ? 0 : size;
}

/** The header size of the box at `at`: 16 with a 64-bit size, else 8. */
function headerOf(view: DataView, at: number): number {
  return view.getUint32(at) === 1 ? 16 : 8;
}

/** A four-character code as the 32-bit number it is on the wire. */
function codeOf(fourCC: string): number {
  return (
    ((fourCC.charCodeAt(0) << 24) |
      (fourCC.charCodeAt(1) << 16) |
      (fourCC.charCodeAt(2) << 8) |
      fourCC.charCodeAt(3)) >>>
    0
  );
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function fourCC(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(
    bytes[at] ?? 0,
    bytes[at + 1] ?? 0,
    bytes[at + 2] ?? 0,
    bytes[at + 3] ?? 0,
  );
}
