/** The part of mux.js camplex uses: its MP4 box writer (the package ships no types). */
declare module 'mux.js/lib/mp4/mp4-generator.js' {
  export interface SampleFlags {
    isLeading: number;
    dependsOn: number;
    isDependedOn: number;
    hasRedundancy: number;
    paddingValue: number;
    isNonSyncSample: number;
    degradationPriority: number;
  }
  export interface Sample {
    duration: number;
    size: number;
    flags: SampleFlags;
    compositionTimeOffset: number;
  }
  export interface VideoTrack {
    id: number;
    type: 'video';
    duration: number;
    width: number;
    height: number;
    sps: Uint8Array[];
    pps: Uint8Array[];
    profileIdc: number;
    profileCompatibility: number;
    levelIdc: number;
    baseMediaDecodeTime: number;
    samples: Sample[];
  }
  /** An AAC track (mux.js writes `mp4a` with an AudioSpecificConfig from these fields). */
  export interface AudioTrack {
    id: number;
    type: 'audio';
    duration: number;
    /** Also the track's timescale. */
    samplerate: number;
    channelcount: number;
    samplesize: number;
    audioobjecttype: number;
    samplingfrequencyindex: number;
    baseMediaDecodeTime: number;
    samples: Array<{ duration: number; size: number }>;
  }
  export type Track = VideoTrack | AudioTrack;
  const generator: {
    initSegment(tracks: Track[]): Uint8Array;
    moof(sequenceNumber: number, tracks: Track[]): Uint8Array;
    mdat(data: Uint8Array): Uint8Array;
  };
  export default generator;
}
