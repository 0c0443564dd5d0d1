/**
 * A camera's timed units from ffmpeg's fragmented MP4 / MOV: the first video track's samples as
 * Annex B access units (access-units.ts: a delimiter in front, parameter sets on every key unit),
 * the first audio track camplex passes through (AAC, Opus, G.711 A-law or mu-law) as its codec's
 * frames, each with its presentation and decode time in microseconds of the container's clock.
 * Tracks of other codecs are left out. Pure: bytes in, units out.
 */
import { toHex } from '../common/bytes.js';
import { AccessUnitReader, type AccessUnitStats } from './access-units.js';
import type { AudioInfo } from './codecs.js';
import {
  type AudioCodecName,
  type AudioTrack,
  Mp4Demuxer,
  type Mp4DemuxerStats,
  readAudioSpecificConfig,
  type Sample,
  type Track,
  type VideoCodecName,
  type VideoTrack,
} from './mp4-demuxer.js';
import type { SequenceInfo } from './parameter-sets.js';

export type { AudioCodecName, AudioInfo, VideoCodecName };

export interface MediaUnit {
  kind: 'video' | 'audio';
  codec: VideoCodecName | AudioCodecName;
  /** A decoder can start here (every audio unit). */
  key: boolean;
  /** Presentation and decode time, microseconds of the container's clock. */
  pts: number;
  dts: number;
  /** Video: one access unit in Annex B; audio: one frame of its codec. */
  data: Uint8Array;
  /** Video: holds a B slice (pictures are reordered). */
  bidirectional?: boolean;
  /** Bytes free right before `data` in its buffer (MediaUnitsOptions.headroom for video). */
  headroom?: number;
}

export interface MediaUnitsOptions {
  /** A unit larger than this is dropped. */
  maxUnitBytes: number;
  /** Only this kind of unit (a stream whose pictures and sound come apart), else both. */
  only?: 'video' | 'audio';
  onUnit: (unit: MediaUnit) => void;
  /** The tracks are known (or changed): the video codec, and the sound if there is one. */
  onTracks?: (video: VideoCodecName | undefined, audio: AudioInfo | undefined) => void;
  /** A new SPS told the video's codec string or picture size. */
  onSequence?: (info: SequenceInfo) => void;
  /** Bytes to leave free in front of each video unit for a consumer's header (default 0). */
  headroom?: number;
}

export class MediaUnits {
  private readonly options: MediaUnitsOptions;
  private readonly demuxer: Mp4Demuxer;
  private video: VideoTrack | undefined;
  private audio: AudioTrack | undefined;
  private reader: AccessUnitReader | undefined;

  constructor(options: MediaUnitsOptions) {
    this.options = options;
    this.demuxer = new Mp4Demuxer({
      maxSampleBytes: options.maxUnitBytes,
      onTracks: (tracks) => this.onTracks(tracks),
      onSample: (sample) => this.onSample(sample),
    });
  }

  get stats(): { container: Mp4DemuxerStats; video: AccessUnitStats | undefined } {
    return { container: this.demuxer.stats, video: this.reader?.stats };
  }

  push(chunk: Uint8Array): void {
    this.demuxer.push(chunk);
  }

  private onTracks(tracks: Track[]): void {
    const { only } = this.options;
    this.video =
      only === 'audio'
        ? undefined
        : tracks.find((track): track is VideoTrack => track.kind === 'video');
    this.audio =
      only === 'video'
        ? undefined
        : tracks.find((track): track is AudioTrack => track.kind === 'audio');
    this.reader = undefined;
    if (this.video) {
      this.reader = new AccessUnitReader({
        codec: this.video.codec,
        maxUnitBytes: this.options.maxUnitBytes,
        headroom: this.options.headroom ?? 0,
        ...(this.options.onSequence ? { onSequence: this.options.onSequence } : {}),
      });
      this.reader.seed(this.video.parameterSets);
    }
    this.options.onTracks?.(this.video?.codec, this.audio && audioInfo(this.audio));
  }

  private onSample(sample: Sample): void {
    const { track } = sample;
    const micros = 1_000_000 / track.timescale;
    const dts = sample.dts * micros;
    const pts = (sample.dts + sample.cto) * micros;
    if (track === this.video && this.reader) {
      const unit = this.reader.readSample(sample.data, this.video.nalLengthSize);
      if (!unit) return;
      this.options.onUnit({
        kind: 'video',
        codec: this.video.codec,
        key: unit.key,
        pts,
        dts,
        data: unit.data,
        bidirectional: unit.bidirectional,
        headroom: unit.headroom,
      });
    } else if (track === this.audio) {
      this.options.onUnit({
        kind: 'audio',
        codec: track.codec,
        key: true,
        pts,
        dts,
        data: sample.data,
      });
    }
  }
}

const AUDIO_CODEC_STRINGS: Record<AudioCodecName, string> = {
  aac: 'mp4a.40.2',
  opus: 'opus',
  pcma: 'alaw',
  pcmu: 'ulaw',
};

function audioInfo(track: AudioTrack): AudioInfo {
  let codecString = AUDIO_CODEC_STRINGS[track.codec];
  if (track.codec === 'aac' && track.config) {
    const aac = readAudioSpecificConfig(track.config);
    if (aac) codecString = `mp4a.40.${aac.objectType}`;
  }
  return {
    codec: track.codec,
    rate: track.sampleRate,
    channels: track.channels,
    codecString,
    ...(track.config ? { config: toHex(track.config) } : {}),
  };
}
