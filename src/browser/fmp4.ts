/**
 * Fragmented MP4 for Media Source Extensions, made from the same Annex B access units the
 * WebCodecs path decodes: an init segment from a key unit's SPS and PPS, then one fragment
 * (moof + mdat) per unit with its NAL units length-prefixed. mux.js writes the boxes; this
 * module turns camplex's units into its track and samples. H.264 only (no browser here plays
 * H.265 through MSE). Pure: bytes in, bytes out.
 *
 * Units are timed by arrival, with no composition offsets: a fragment lasts as long as the
 * gap before the previous unit, which keeps the timeline continuous in `sequence` mode. A
 * camera with B-frames plays, with pictures shown in decode order (a visible stutter).
 */
import generator, { type SampleFlags, type VideoTrack } from 'mux.js/lib/mp4/mp4-generator.js';
import { concat, equal } from '../common/bytes.js';
import { readSps } from '../frames/parameter-sets.js';

/** Ticks per second of the MP4 timeline (mux.js writes 90 kHz). */
export const TIMESCALE = 90_000;
/** A frame's assumed length until two units have arrived, and the bounds of any estimate. */
const DEFAULT_DURATION_US = 66_667;
const MIN_DURATION_US = 1_000;
const MAX_DURATION_US = 1_000_000;

const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_AUD = 9;

const KEY_FLAGS: SampleFlags = {
  isLeading: 0,
  dependsOn: 2,
  isDependedOn: 0,
  hasRedundancy: 0,
  paddingValue: 0,
  isNonSyncSample: 0,
  degradationPriority: 0,
};
const DELTA_FLAGS: SampleFlags = { ...KEY_FLAGS, dependsOn: 1, isNonSyncSample: 1 };

export interface Fmp4Unit {
  /** One access unit in Annex B. */
  data: Uint8Array;
  key: boolean;
  /** Microseconds, arrival time. */
  timestamp: number;
  /** Decoded to reach the current picture, not shown: it gets the shortest duration. */
  decodeOnly?: boolean;
}

export class Fmp4Muxer {
  private sps: Uint8Array | undefined;
  private sequence = 0;
  private decodeTime = 0;
  private lastTimestamp: number | undefined;
  private lastDuration = DEFAULT_DURATION_US;
  /** Seconds the last fragment lasts (0 when `push` made none). */
  lastFragmentSeconds = 0;

  /**
   * The segments to append for `unit`: an init segment first when it is a key unit with new
   * parameter sets, then its fragment. Nothing before the first key unit with an SPS and PPS.
   */
  push(unit: Fmp4Unit): Uint8Array[] {
    const nals = nalUnits(unit.data);
    const segments: Uint8Array[] = [];
    this.lastFragmentSeconds = 0;
    if (unit.key) {
      const sps = nals.find((nal) => typeOf(nal) === NAL_SPS);
      const pps = nals.find((nal) => typeOf(nal) === NAL_PPS);
      if (sps && pps && !(this.sps && equal(this.sps, sps))) {
        const init = initSegment(sps, pps);
        if (init) {
          this.sps = sps;
          segments.push(init);
        }
      }
    }
    if (!this.sps) return segments; // no decoder configuration yet
    const pictures = nals.filter((nal) => {
      const type = typeOf(nal);
      return type !== NAL_AUD && type !== NAL_SPS && type !== NAL_PPS;
    });
    const data = lengthPrefixed(pictures);
    const duration = this.durationOf(unit);
    const track = trackOf(this.sps, undefined, {
      baseMediaDecodeTime: this.decodeTime,
      samples: [
        {
          duration,
          size: data.length,
          flags: unit.key ? KEY_FLAGS : DELTA_FLAGS,
          compositionTimeOffset: 0,
        },
      ],
    });
    this.sequence++;
    this.decodeTime += duration;
    this.lastFragmentSeconds = duration / TIMESCALE;
    segments.push(concat([generator.moof(this.sequence, [track]), generator.mdat(data)]));
    return segments;
  }

  /** This unit's length in ticks: the last gap between units (decode-only: one tick). */
  private durationOf(unit: Fmp4Unit): number {
    if (this.lastTimestamp !== undefined) {
      const gap = unit.timestamp - this.lastTimestamp;
      if (gap >= MIN_DURATION_US && gap <= MAX_DURATION_US) this.lastDuration = gap;
    }
    this.lastTimestamp = unit.timestamp;
    if (unit.decodeOnly) return 1;
    return Math.round((this.lastDuration * TIMESCALE) / 1_000_000);
  }
}

/** The MIME type and codecs a SourceBuffer is created with for `codecString`. */
export function mimeOf(codecString: string): string {
  return `video/mp4; codecs="${codecString}"`;
}

function initSegment(sps: Uint8Array, pps: Uint8Array): Uint8Array | undefined {
  const info = readSps('h264', sps);
  if (!info) return undefined;
  return generator.initSegment([trackOf(sps, pps, { width: info.width, height: info.height })]);
}

function trackOf(
  sps: Uint8Array,
  pps: Uint8Array | undefined,
  extra: Partial<VideoTrack>,
): VideoTrack {
  return {
    id: 1,
    type: 'video',
    duration: 0,
    width: 0,
    height: 0,
    sps: [sps],
    pps: pps ? [pps] : [],
    profileIdc: sps[1] ?? 0,
    profileCompatibility: sps[2] ?? 0,
    levelIdc: sps[3] ?? 0,
    baseMediaDecodeTime: 0,
    samples: [],
    ...extra,
  };
}

/** The NAL units of an Annex B unit, without their start codes. */
export function nalUnits(data: Uint8Array): Uint8Array[] {
  const starts: Array<[start: number, payload: number]> = [];
  for (let i = data.indexOf(0); i !== -1 && i + 2 < data.length; i = data.indexOf(0, i + 1)) {
    if (data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push([i > 0 && data[i - 1] === 0 ? i - 1 : i, i + 3]);
      i += 2;
    }
  }
  return starts.map(([, payload], n) => data.subarray(payload, starts[n + 1]?.[0] ?? data.length));
}

function typeOf(nal: Uint8Array): number {
  return (nal[0] ?? 0) & 0x1f;
}

function lengthPrefixed(nals: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(nals.reduce((sum, nal) => sum + 4 + nal.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const nal of nals) {
    view.setUint32(at, nal.length);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}
