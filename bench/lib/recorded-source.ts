/**
 * A camera source for benchmarks: recorded JPEGs handed to camplex as ffmpeg's mpjpeg output
 * would be (pipe-sized reads), or recorded H.264 access units as ffmpeg's copy into fragmented
 * MP4 would be, at a steady rate, instead of running ffmpeg. Used through startCamplex's
 * `launchSource` hook by bench/lib/server.ts, bench/b9-node.ts and bench/b10-engines.ts.
 */

import type { RunningSource, SourceHandlers } from '../../src/camera/source.js';
import type { CameraConfig } from '../../src/config/schema.js';
import type { FfmpegBinary } from '../../src/ffmpeg/locate.js';
import { children } from '../../src/frames/mp4-demuxer.js';
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

/**
 * A recording as ffmpeg's copy into fragmented MP4 would write it: the header, then one
 * fragment (moof and mdat) per unit, each built once. Played, a fragment is copied into memory
 * of its own, as a pipe read hands over fresh memory, and given its sequence number and decode
 * time; so the source costs a copy per frame and no muxing (which would load the process being
 * measured with garbage ffmpeg makes elsewhere).
 */
class RecordedFmp4 {
  readonly header: Uint8Array;
  private readonly fragments: Array<{ bytes: Uint8Array; sequenceAt: number; timeAt: number }>;

  constructor(units: readonly Buffer[], ticks: number) {
    const stream = new Fmp4Stream();
    let header: Uint8Array = new Uint8Array(0);
    this.fragments = [];
    for (const [i, unit] of units.entries()) {
      const bytes = stream.unit(unit, isKey(unit), ticks);
      const moofAt = indexOfBox(bytes, 'moof');
      if (i === 0) header = bytes.slice(0, moofAt);
      const fragment = bytes.slice(moofAt);
      // Boxes are views into `fragment`: a field's place is its body's offset in there.
      const offsetOf = (body: Uint8Array) => body.byteOffset - fragment.byteOffset;
      let sequenceAt = -1;
      let timeAt = -1;
      for (const box of children(children(fragment)[0]?.body ?? new Uint8Array(0))) {
        if (box.type === 'mfhd') sequenceAt = offsetOf(box.body) + 4;
        if (box.type !== 'traf') continue;
        for (const inner of children(box.body)) {
          // tfdt version 1: a 64-bit decode time after version and flags.
          if (inner.type === 'tfdt' && inner.body[0] === 1) timeAt = offsetOf(inner.body) + 4;
        }
      }
      if (sequenceAt < 0 || timeAt < 0) throw new Error('recorded fragment without mfhd or tfdt');
      this.fragments.push({ bytes: fragment, sequenceAt, timeAt });
    }
    this.header = header;
  }

  get length(): number {
    return this.fragments.length;
  }

  /** Fragment `index` as the `sequence`-th of the stream, decoded at `time` (90 kHz). */
  play(index: number, sequence: number, time: number): Buffer {
    const fragment = this.fragments[index % this.fragments.length];
    if (!fragment) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(fragment.bytes.length);
    out.set(fragment.bytes);
    out.writeUInt32BE(sequence >>> 0, fragment.sequenceAt);
    out.writeUInt32BE(Math.floor(time / 2 ** 32), fragment.timeAt);
    out.writeUInt32BE(time % 2 ** 32, fragment.timeAt + 4);
    return out;
  }
}

/** Offset of the first top-level box of `type` in `bytes`. */
function indexOfBox(bytes: Uint8Array, type: string): number {
  let at = 0;
  for (const box of children(bytes)) {
    if (box.type === type) return at;
    at = box.body.byteOffset - bytes.byteOffset + box.body.length;
  }
  throw new Error(`no ${type} box`);
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
  // Each camera's fragments, built on its first start (a restart plays them again).
  const built = new Map<string, RecordedFmp4>();
  const recordedFmp4 = (id: string, units: readonly Buffer[], ticks: number) => {
    let mp4 = built.get(id);
    if (!mp4) {
      mp4 = new RecordedFmp4(units, ticks);
      built.set(id, mp4);
    }
    return mp4;
  };
  const launch = (camera: CameraConfig, handlers: SourceHandlers): RunningSource => {
    handlers.onPlan({ output, copyJpeg: output === 'mpjpeg' });
    const frames = parts.get(camera.id) ?? [];
    let next = 0;
    // H.264 goes out as fragmented MP4, timed at the rate it is played at.
    const ticks = Math.round(90_000 / fps);
    const mp4 = output === 'h264' ? recordedFmp4(camera.id, frames, ticks) : undefined;
    // Cameras are not in step with each other: spread their ticks over one period.
    const offset = ((launches++ % cameras) * periodMs) / cameras;
    let started = false;
    const stop = startTicker(periodMs, offset, () => {
      let part: Uint8Array | undefined;
      if (mp4) {
        if (mp4.length === 0) return;
        if (!started) handlers.onStdout(mp4.header);
        started = true;
        part = mp4.play(next, next + 1, next * ticks);
        next++;
      } else {
        part = frames[next++ % frames.length];
      }
      if (!part) return;
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
