/**
 * A camera source for benchmarks: recorded JPEGs handed to camplex as ffmpeg's mpjpeg output
 * would be (pipe-sized reads), or recorded H.264 access units as ffmpeg's copy into fragmented
 * MP4 would be, at a steady rate, instead of running ffmpeg. Used through startCamplex's
 * `launchSource` hook by bench/lib/server.ts, bench/b9-node.ts and bench/b10-engines.ts.
 */

import type { RunningSource, SourceHandlers } from '../../src/camera/source.js';
import type { CameraConfig } from '../../src/config/schema.js';
import type { FfmpegBinary } from '../../src/ffmpeg/locate.js';
import { Fmp4Stream } from '../../support/fmp4-stream.js';

/** What startCamplex is told of ffmpeg when recordedSources stand in for every camera. */
export const UNUSED_FFMPEG: FfmpegBinary = {
  path: '/usr/bin/ffmpeg',
  origin: 'PATH',
  version: 'unused',
  rtspTimeoutFlag: '-timeout',
};

const START_CODE = Buffer.from([0, 0, 1]);

/** Whether an Annex B H.264 unit holds an IDR slice (NAL type 5): a key unit. */
function isKey(unit: Buffer): boolean {
  for (let at = unit.indexOf(START_CODE); at !== -1; at = unit.indexOf(START_CODE, at + 3)) {
    if (((unit[at + 3] ?? 0) & 0x1f) === 5) return true;
  }
  return false;
}

/** A pipe hands ffmpeg's output over in reads of at most this many bytes. */
const PIPE_READ_BYTES = 65_536;

/**
 * Calls `tick` every `periodMs`, first after `offsetMs`, on a schedule that does not drift.
 * A late tick is not caught up with a burst: the schedule restarts from now.
 */
export function startTicker(periodMs: number, offsetMs: number, tick: () => void): () => void {
  let due = performance.now() + offsetMs;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = () => {
    timer = setTimeout(
      () => {
        if (stopped) return;
        tick();
        const now = performance.now();
        due += periodMs;
        if (due < now - periodMs) due = now + periodMs;
        next();
      },
      // Whole milliseconds: Node keeps one timer list per distinct delay, and fractional
      // delays would make a new list for nearly every tick.
      Math.max(1, Math.round(due - performance.now())),
    );
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * A `launchSource` that plays each camera's mpjpeg parts (`parts`, by camera id) in a loop at
 * `fps`; `launches()` counts the sources started. With `output: 'h264'` the parts are Annex B
 * access units (from a key unit on, bench/lib/h264-frames.ts).
 */
export function recordedSources(
  parts: ReadonlyMap<string, readonly Buffer[]>,
  fps: number,
  output: 'mpjpeg' | 'h264' = 'mpjpeg',
) {
  const periodMs = 1000 / fps;
  const cameras = Math.max(1, parts.size);
  let launches = 0;
  const launch = (camera: CameraConfig, handlers: SourceHandlers): RunningSource => {
    handlers.onPlan({ output, copyJpeg: output === 'mpjpeg' });
    const frames = parts.get(camera.id) ?? [];
    let next = 0;
    // H.264 goes out as fragmented MP4, timed at the rate it is played at.
    const mp4 = output === 'h264' ? new Fmp4Stream() : undefined;
    const ticks = Math.round(90_000 / fps);
    // Cameras are not in step with each other: spread their ticks over one period.
    const offset = ((launches++ % cameras) * periodMs) / cameras;
    const stop = startTicker(periodMs, offset, () => {
      const recorded = frames[next++ % frames.length];
      if (!recorded) return;
      const part = mp4 ? Buffer.from(mp4.unit(recorded, isKey(recorded), ticks)) : recorded;
      for (let at = 0; at < part.length; at += PIPE_READ_BYTES) {
        handlers.onStdout(part.subarray(at, at + PIPE_READ_BYTES));
      }
    });
    // onExit is never called: this source does not fail by itself.
    return {
      pid: undefined,
      stop: () => {
        stop();
        return Promise.resolve();
      },
    };
  };
  return { launch, launches: () => launches };
}
