/** Camera ids are config keys that appear in URLs and on the wire: 1-64 of [A-Za-z0-9._-]. */
export const CAMERA_ID = '[A-Za-z0-9._-]{1,64}';
export const CAMERA_ID_PATTERN = new RegExp(`^${CAMERA_ID}$`);

/** A stream is a camera's main stream (`<id>`) or its sub-stream (`<id>@sub`). */
export const SUBSTREAM_SUFFIX = '@sub';
export const STREAM_NAME = `${CAMERA_ID}(?:${SUBSTREAM_SUFFIX})?`;
export const STREAM_NAME_PATTERN = new RegExp(`^${STREAM_NAME}$`);

/** The camera a stream belongs to: `front` for `front@sub`. */
export function cameraOfStream(stream: string): string {
  return stream.endsWith(SUBSTREAM_SUFFIX) ? stream.slice(0, -SUBSTREAM_SUFFIX.length) : stream;
}
