/**
 * The JPEG transcoder of a video stream: a second ffmpeg that reads the stream's copied access
 * units on stdin and writes JPEGs, so viewers that cannot decode video (and /mjpeg, snapshots)
 * are served without a second connection to the camera. It starts from the frames since the
 * last key frame, then takes every new one; if it cannot keep up, it skips to the next key frame
 * rather than let its input queue grow.
 */

import type { RunningSource, SourceHandlers } from '../camera/source.js';
import type { CameraConfig } from '../config/schema.js';
import { transcoderArgs } from './args.js';
import type { FfmpegChild, FfmpegHandlers } from './process.js';

/** What the transcoder needs to know of a frame of the stream it reads. */
export interface EncodedFrame {
  readonly data: Uint8Array;
  readonly key: boolean;
}

export interface TranscoderInput {
  camera: CameraConfig;
  /** What the stream sends now. */
  codec: () => 'h264' | 'h265' | undefined;
  /** The frames since the last key frame: where decoding can begin. */
  backlog: () => readonly EncodedFrame[];
  /** Calls `listener` with each new frame until the returned function is called. */
  tap: (listener: (frame: EncodedFrame) => void) => () => void;
  /** Starts ffmpeg with `args` reading stdin. */
  start: (args: string[], handlers: FfmpegHandlers) => FfmpegChild;
}

/** Input bytes queued for ffmpeg before the transcoder skips to the next key frame. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** A `launch` for a Camera that runs the transcoder of the stream `input` describes. */
export function transcoderLauncher(input: TranscoderInput) {
  return (handlers: SourceHandlers): RunningSource => {
    const codec = input.codec() ?? 'h264';
    handlers.onPlan({ output: 'mpjpeg', copyJpeg: false });
    let untap = () => {};
    const child = input.start(transcoderArgs(input.camera, codec), {
      ...handlers,
      onExit: (exit) => {
        untap();
        handlers.onExit(exit);
      },
    });
    const stdin = child.stdin;
    let waitingForKey = false;
    const feed = (frame: EncodedFrame) => {
      if (!stdin || stdin.destroyed) return;
      if (stdin.writableLength > MAX_QUEUED_BYTES) waitingForKey = true;
      if (waitingForKey && !frame.key) return; // never a delta after a gap
      waitingForKey = false;
      stdin.write(frame.data);
    };
    for (const frame of input.backlog()) feed(frame);
    untap = input.tap(feed);
    return {
      pid: child.pid,
      async stop(killAfterMs) {
        untap();
        stdin?.end();
        await child.stop(killAfterMs);
      },
    };
  };
}
