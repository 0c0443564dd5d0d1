/**
 * Puts a camera's units on camplex's clock: a unit's time is its container time plus one offset
 * shared by all the stream's tracks, so the camera's own timing (B-frame reordering, the gaps
 * between frames, where its sound lies against its pictures) is kept exactly, while times read
 * like the moment camplex received the unit (microseconds since the epoch) and stay continuous
 * across restarts of ffmpeg. The offset is set by the first unit and lowered whenever an anchoring
 * unit (video, where there is any) arrives before the time the offset gives it, so a unit's time
 * is never later than its arrival; a unit that arrives more than `maxJumpUs` later than its time
 * says the camera's clock jumped back (or stalled) and the offset is set again from it. Pure.
 */

/** More than this between a unit's time and its arrival and the camera's clock jumped. */
export const MAX_CLOCK_JUMP_US = 1_000_000;

export class Timeline {
  /** Added to container times: camplex time = container time + offset (microseconds). */
  private offset: number | undefined;
  /** How often the camera's clock jumped (the offset was set again by more than the bound). */
  jumps = 0;
  private readonly maxJumpUs: number;

  constructor(maxJumpUs = MAX_CLOCK_JUMP_US) {
    this.maxJumpUs = maxJumpUs;
  }

  /**
   * The offset for a unit of decode time `dts` (container microseconds) that arrived at
   * `arrival` (camplex microseconds); `anchors` when it may pull the offset down (video units,
   * or every unit of a stream without video: sound is often delivered in bursts ahead of its
   * time, pictures closer to it).
   */
  place(dts: number, arrival: number, anchors: boolean): number {
    const fitting = arrival - dts;
    if (this.offset === undefined) {
      this.offset = fitting;
      return fitting;
    }
    const late = fitting - this.offset; // > 0: arrived after its time; < 0: before
    if (late > this.maxJumpUs || -late > this.maxJumpUs) {
      this.jumps++;
      this.offset = fitting;
    } else if (late < 0 && anchors) {
      this.offset = fitting;
    }
    return this.offset;
  }
}
