import { SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { CameraConfig } from './schema.js';

/**
 * Every stream of the configured cameras, in config order: `<id>`, and `<id>@sub` for a
 * sub-stream. What is not about the picture (PTZ) is left out, so changing it restarts no stream.
 */
export function streamsOf(cameras: readonly CameraConfig[]): CameraConfig[] {
  return cameras.flatMap((camera) => {
    const { substream, ptz: _ptz, ...main } = camera;
    if (substream === undefined) return [main];
    // The sub-stream is a stream of its own: what it sends is probed, not the main one's.
    const { codec: _codec, audio: _audio, ...rest } = main;
    return [main, { ...rest, id: camera.id + SUBSTREAM_SUFFIX, url: substream }];
  });
}
