/**
 * The codecs camplex moves, by name: pictures (JPEG, or the camera's own H.264 / H.265) and
 * sound (AAC, Opus, G.711 A-law and mu-law), and what a decoder needs to know of a sound.
 */
import type { VideoCodec } from './parameter-sets.js';

export type { VideoCodec };
/** What a picture is: a JPEG, or a video access unit. */
export type PictureCodec = 'jpeg' | VideoCodec;
export type AudioCodec = 'aac' | 'opus' | 'pcma' | 'pcmu';
export type Codec = PictureCodec | AudioCodec;

export const AUDIO_CODECS: readonly AudioCodec[] = ['aac', 'opus', 'pcma', 'pcmu'];

/** Whether `codec` is a sound codec (else a picture's). */
export function isAudio(codec: Codec): codec is AudioCodec {
  return AUDIO_CODECS.includes(codec as AudioCodec);
}

/** What a camera's sound is, as viewers and decoders need to know it. */
export interface AudioInfo {
  codec: AudioCodec;
  /** Samples per second the decoder outputs. */
  rate: number;
  channels: number;
  /** The codec string WebCodecs' AudioDecoder takes: `mp4a.40.2`, `opus`, `alaw`, `ulaw`. */
  codecString: string;
  /** AAC: the AudioSpecificConfig (a decoder's `description`); Opus: the dOps payload; hex. */
  config?: string;
}
