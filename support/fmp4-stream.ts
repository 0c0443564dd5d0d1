/**
 * What ffmpeg writes for a camera camplex copies, made in the test: fragmented MP4 with one
 * H.264 track on stdout, a fragment per unit, from Annex B access units, and (when asked) an AAC
 * track on its second output (a stream of its own, as ffmpeg writes it to fd 3). Unit tests feed
 * them to a Camera to play a video camera without ffmpeg.
 */
import generator, { type AudioTrack, type VideoTrack } from 'mux.js/lib/mp4/mp4-generator.js';
import { nalUnits } from '../src/browser/fmp4.js';
import { lengthPrefixed } from '../src/common/bytes.js';

/** 90 kHz ticks a frame at 15 fps. */
const FRAME_TICKS = 6000;
/** mux.js sample flags of a delta picture and of a key picture. */
export const DELTA = {
  isLeading: 0,
  dependsOn: 1,
  isDependedOn: 0,
  hasRedundancy: 0,
  paddingValue: 0,
  isNonSyncSample: 1,
  degradationPriority: 0,
};
export const KEY = { ...DELTA, dependsOn: 2, isNonSyncSample: 0 };

export class Fmp4Stream {
  private video: VideoTrack | undefined;
  private readonly audio: AudioTrack | undefined;
  private sequence = 0;
  private dts = 0;
  private audioDts = 0;
  private soundSequence = 0;
  private soundStarted = false;

  /** With `audio`, the stream has an AAC track of that rate (1024 samples a frame). */
  constructor(options: { audio?: { rate: number; channels: number } } = {}) {
    const { audio } = options;
    this.audio = audio && {
      id: 2,
      type: 'audio',
      duration: 0,
      samplerate: audio.rate,
      channelcount: audio.channels,
      samplesize: 16,
      audioobjecttype: 2,
      samplingfrequencyindex: [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
      ].indexOf(audio.rate),
      baseMediaDecodeTime: 0,
      samples: [],
    };
  }

  /**
   * The bytes for one Annex B access unit: the stream's header first (with the first key unit,
   * whose SPS and PPS configure the track), then its fragment. Nothing before a key unit.
   */
  unit(annexB: Uint8Array, key: boolean, ticks = FRAME_TICKS): Uint8Array {
    const nals = nalUnits(annexB);
    const parts: Uint8Array[] = [];
    if (!this.video) {
      const sps = nals.find((nal) => ((nal[0] ?? 0) & 0x1f) === 7);
      const pps = nals.find((nal) => ((nal[0] ?? 0) & 0x1f) === 8);
      if (!key || !sps || !pps) return new Uint8Array(0);
      this.video = {
        id: 1,
        type: 'video',
        duration: 0,
        width: 320,
        height: 180,
        sps: [sps],
        pps: [pps],
        profileIdc: sps[1] ?? 0,
        profileCompatibility: sps[2] ?? 0,
        levelIdc: sps[3] ?? 0,
        baseMediaDecodeTime: 0,
        samples: [],
      };
      parts.push(generator.initSegment([this.video]));
    }
    const data = lengthPrefixed(nals);
    const sample = {
      duration: ticks,
      size: data.length,
      flags: key ? KEY : DELTA,
      compositionTimeOffset: 0,
    };
    parts.push(
      generator.moof(++this.sequence, [
        { ...this.video, baseMediaDecodeTime: this.dts, samples: [sample] },
      ]),
      generator.mdat(data),
    );
    this.dts += ticks;
    return concat(parts);
  }

  /** The bytes of the sound output for one AAC frame (its header first, the first time). */
  sound(frame: Uint8Array): Uint8Array {
    if (!this.audio) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    if (!this.soundStarted) {
      this.soundStarted = true;
      parts.push(generator.initSegment([this.audio]));
    }
    const sample = { duration: 1024, size: frame.length };
    parts.push(
      generator.moof(++this.soundSequence, [
        { ...this.audio, baseMediaDecodeTime: this.audioDts, samples: [sample] },
      ]),
      generator.mdat(frame),
    );
    this.audioDts += 1024;
    return concat(parts);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
