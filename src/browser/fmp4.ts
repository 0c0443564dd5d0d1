/**
 * Fragmented MP4 for Media Source Extensions, made from the same units the WebCodecs path
 * decodes: an init segment from a key unit's SPS and PPS, then one fragment (moof + mdat) per
 * access unit with its NAL units length-prefixed, at the camera's decode time and with its
 * composition offset (so B-frames play in presentation order); and an AAC track's init segment
 * and fragments for a second SourceBuffer. Times are the units' own, from `origin` on (MSE
 * timelines start near 0). mux.js writes the boxes; this module turns camplex's units into its
 * tracks and samples. H.264 only (no browser here plays H.265 through MSE). Pure: bytes in,
 * bytes out.
 */
import generator, {
  type AudioTrack,
  type SampleFlags,
  type VideoTrack,
} from 'mux.js/lib/mp4/mp4-generator.js';
import { concat, equal, fromHex, lengthPrefixed } from '../common/bytes.js';
import { readSps } from '../frames/parameter-sets.js';

/** Ticks per second of the video timeline (mux.js writes 90 kHz). */
export const TIMESCALE = 90_000;
/** A picture's length until the next one tells it, and the bounds of any estimate. */
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
  /** Presentation and decode time, microseconds (camplex's clock; only differences matter). */
  pts: number;
  dts: number;
}

export class Fmp4Muxer {
  private sps: Uint8Array | undefined;
  private sequence = 0;
  private lastDts: number | undefined;
  private lastDuration = DEFAULT_DURATION_US;
  /** The time (us) that is 0 on the media timeline. */
  readonly origin: number;

  constructor(origin: number) {
    this.origin = origin;
  }

  /**
   * The segments to append for `unit`: an init segment first when it is a key unit with new
   * parameter sets, then its fragment. Nothing before the first key unit with an SPS and PPS.
   */
  push(unit: Fmp4Unit): Uint8Array[] {
    const nals = nalUnits(unit.data);
    const segments: Uint8Array[] = [];
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
    const track = trackOf(this.sps, undefined, {
      baseMediaDecodeTime: ticks(unit.dts - this.origin),
      samples: [
        {
          duration: ticks(this.durationOf(unit)),
          size: data.length,
          flags: unit.key ? KEY_FLAGS : DELTA_FLAGS,
          compositionTimeOffset: Math.max(0, ticks(unit.pts - unit.dts)),
        },
      ],
    });
    segments.push(concat([generator.moof(++this.sequence, [track]), generator.mdat(data)]));
    return segments;
  }

  /** This unit's length: the last gap between decode times (the next is not known yet). */
  private durationOf(unit: Fmp4Unit): number {
    if (this.lastDts !== undefined) {
      const gap = unit.dts - this.lastDts;
      if (gap >= MIN_DURATION_US && gap <= MAX_DURATION_US) this.lastDuration = gap;
    }
    this.lastDts = unit.dts;
    return this.lastDuration;
  }
}

/** AAC frames for a Media Source's second SourceBuffer, on the same timeline as the video. */
export class AacMuxer {
  private readonly track: AudioTrack;
  private sequence = 0;
  readonly origin: number;

  /** For a stream of `rate` Hz and `channels`, its AudioSpecificConfig in `config` (hex). */
  constructor(origin: number, rate: number, channels: number, config?: string) {
    this.origin = origin;
    const asc = config ? fromHex(config) : new Uint8Array(0);
    const objectType = asc.length >= 2 ? (asc[0] as number) >> 3 : 2;
    const rates = [
      96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
    ];
    this.track = {
      id: 2,
      type: 'audio',
      duration: 0,
      samplerate: rate,
      channelcount: channels,
      samplesize: 16,
      audioobjecttype: objectType,
      samplingfrequencyindex: Math.max(0, rates.indexOf(rate)),
      baseMediaDecodeTime: 0,
      samples: [],
    };
  }

  /** The MIME type of the SourceBuffer. */
  get mime(): string {
    return `audio/mp4; codecs="mp4a.40.${this.track.audioobjecttype}"`;
  }

  initSegment(): Uint8Array {
    return generator.initSegment([this.track]);
  }

  /** One AAC frame (1024 samples) heard at `pts` (us). */
  fragment(frame: Uint8Array, pts: number): Uint8Array {
    const rate = this.track.samplerate;
    const track = {
      ...this.track,
      baseMediaDecodeTime: Math.max(0, Math.round(((pts - this.origin) * rate) / 1_000_000)),
      samples: [{ duration: 1024, size: frame.length }],
    };
    return concat([generator.moof(++this.sequence, [track]), generator.mdat(frame)]);
  }
}

/** The MIME type and codecs a SourceBuffer is created with for `codecString`. */
export function mimeOf(codecString: string): string {
  return `video/mp4; codecs="${codecString}"`;
}

/** Microseconds as 90 kHz ticks. */
function ticks(micros: number): number {
  return Math.round((micros * TIMESCALE) / 1_000_000);
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
