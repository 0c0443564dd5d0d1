import { SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { CameraConfig } from './schema.js';

/** Every stream of the configured cameras, in config order: `<id>`, and `<id>@sub` for a sub-stream. */
export function streamsOf(cameras: readonly CameraConfig[]): CameraConfig[] {
  return cameras.flatMap((camera) => {
    const { substream, ...main } = camera;
    if (substream === undefined) return [main];
    const { codec: _codec, ...rest } = main;
    return [main, { ...rest, id: camera.id + SUBSTREAM_SUFFIX, url: substream }];
  });
}
