import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Timeline } from './timeline.js';

const FRAME = 66_667;

describe('Timeline', () => {
  it('puts the first unit at its arrival and keeps the camera’s spacing after it', () => {
    const timeline = new Timeline();
    const t0 = 1_700_000_000_000_000;
    assert.equal(timeline.place(0, t0, true) + 0, t0);
    // Jitter in arrival changes nothing: the camera's times are kept.
    const offset = timeline.place(FRAME, t0 + FRAME + 3000, true);
    assert.equal(FRAME + offset, t0 + FRAME);
  });

  it('moves earlier when a picture arrives before the time it was given, never later', () => {
    const timeline = new Timeline();
    const t0 = 5_000_000;
    timeline.place(0, t0, true); // a first picture that came late (ffmpeg was probing)
    // The next comes 300 ms "early" against the first: its time becomes its arrival.
    assert.equal(timeline.place(400_000, t0 + 100_000, true) + 400_000, t0 + 100_000);
    // Sound ahead of its time does not pull the pictures' times.
    assert.equal(timeline.place(600_000, t0 + 150_000, false) + 600_000, t0 + 300_000);
    assert.equal(timeline.jumps, 0);
  });

  it('starts again from a unit when the camera clock jumps back or forward by more than a second', () => {
    const timeline = new Timeline();
    timeline.place(10_000_000, 1_000_000, true);
    // The camera restarted its clock: media time back to 0, arrival goes on.
    const back = timeline.place(0, 1_100_000, true);
    assert.equal(back, 1_100_000);
    // A sound frame 5 s ahead of the pictures' clock (a forward jump) restarts it too.
    const forward = timeline.place(5_200_000, 1_200_000, false);
    assert.equal(forward + 5_200_000, 1_200_000);
    assert.equal(timeline.jumps, 2);
  });

  it('keeps the offset for a unit that arrives late by less than the bound', () => {
    const timeline = new Timeline();
    const offset = timeline.place(0, 0, true);
    // Half a second of stall on the network: the times stay the camera's.
    assert.equal(timeline.place(FRAME, FRAME + 500_000, true), offset);
  });
});
