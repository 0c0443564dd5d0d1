/**
 * Which decoder a page plays video with, found by feature detection, best first: WebCodecs
 * (secure contexts only), else Media Source Extensions (also on plain-http LAN pages, H.264
 * only), else none, and each stream is then asked for as JPEG. A stream whose exact codec string
 * the chosen decoder does not play gets JPEG too. Cameras with B-frames play on both: units carry
 * the camera's presentation and decode times, which become MSE fragments' composition offsets.
 */
import type { MediaFormat } from '../protocol/wire.js';
import { mseDecodes } from './mse-player.js';
import { decodableVideo, decodes } from './webcodecs-player.js';

export type Decoder = 'webcodecs' | 'mse' | 'jpeg';

export interface PageVideo {
  decoder: 'webcodecs' | 'mse';
  /** The video formats to ask for, besides JPEG. */
  formats: readonly MediaFormat[];
  /** Whether this decoder plays a stream of exactly `codecString` (its profile and level). */
  plays(stream: { codecString: string }): Promise<boolean>;
}

/** Constrained baseline, level 3.0: what any H.264 decoder plays. */
const BASELINE_H264 = 'avc1.42E01E';

/**
 * The decoder a page's address asks for with `?decoder=mse` or `?decoder=jpeg`: that one even
 * where a better one exists (to troubleshoot, or to see the Media Source path an iPhone takes
 * in a browser that also has WebCodecs). Anything else is the ladder's own choice.
 */
export function askedDecoder(search: string): 'mse' | 'jpeg' | undefined {
  const asked = new URLSearchParams(search).get('decoder');
  return asked === 'mse' || asked === 'jpeg' ? asked : undefined;
}

export async function pageVideo(
  asked = askedDecoder(globalThis.location?.search ?? ''),
): Promise<PageVideo | undefined> {
  if (asked === 'jpeg') return undefined;
  const webcodecs = asked === 'mse' ? [] : await decodableVideo();
  if (webcodecs.length > 0) {
    return {
      decoder: 'webcodecs',
      formats: webcodecs,
      plays: (stream) => decodes(stream.codecString),
    };
  }
  if (mseDecodes(BASELINE_H264)) {
    return {
      decoder: 'mse',
      formats: ['h264'],
      plays: async (stream) => mseDecodes(stream.codecString),
    };
  }
  return undefined;
}
