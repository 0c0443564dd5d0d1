import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { VideoUnit } from '../protocol/wire.js';
import { WebCodecsPlayer } from './webcodecs-player.js';

/**
 * A VideoDecoder that holds what it is given until the test lets it decode: the queue a page
 * builds while its main thread is busy, or while the decoder cannot keep up.
 */
class HeldDecoder {
  static made: HeldDecoder[] = [];
  state = 'unconfigured';
  readonly queue: Array<{ type: string; timestamp: number }> = [];
  private readonly output: (frame: { timestamp: number; close(): void }) => void;
  constructor(init: { output: (frame: { timestamp: number; close(): void }) => void }) {
    this.output = init.output;
    HeldDecoder.made.push(this);
  }
  get decodeQueueSize(): number {
    return this.queue.length;
  }
  configure(): void {
    this.state = 'configured';
  }
  decode(chunk: { type: string; timestamp: number }): void {
    this.queue.push(chunk);
  }
  close(): void {
    this.state = 'closed';
  }
  /** Decodes everything queued, in order; returns the frames closed unseen. */
  drain(): number {
    let closed = 0;
    for (const chunk of this.queue.splice(0)) {
      this.output({ timestamp: chunk.timestamp, close: () => closed++ });
    }
    return closed;
  }
}

const globals = globalThis as Record<string, unknown>;
const saved = { VideoDecoder: globals.VideoDecoder, EncodedVideoChunk: globals.EncodedVideoChunk };

describe('WebCodecsPlayer', () => {
  before(() => {
    globals.VideoDecoder = HeldDecoder;
    globals.EncodedVideoChunk = class {
      constructor(init: object) {
        Object.assign(this, init);
      }
    };
  });
  after(() => Object.assign(globals, saved));
  beforeEach(() => {
    HeldDecoder.made = [];
  });

  let n = 0;
  const unit = (key: boolean, decodeOnly = false): VideoUnit => {
    const timestamp = ++n * 66_667;
    return {
      codec: 'h264',
      key,
      decodeOnly,
      timestamp,
      decodeTimestamp: timestamp,
      data: new Uint8Array(8),
    };
  };

  function setup() {
    const shown: number[] = [];
    const clock = { ms: 0 };
    const player = new WebCodecsPlayer(
      (frame) => {
        shown.push(frame.timestamp);
        frame.close();
      },
      (reason) => assert.fail(`gave up: ${reason}`),
      () => clock.ms,
    );
    return { player, shown, clock, push: (u: VideoUnit) => player.push(u, 'avc1.42E01E') };
  }

  it('decodes the burst a stalled page receives at once, showing only what is not behind', () => {
    const { push, shown, clock } = setup();
    push(unit(true));
    const decoder = HeldDecoder.made[0];
    assert.ok(decoder);
    decoder.drain();
    // A 6 s stall at 15 fps: 90 live units arrive back to back, none decoded yet.
    clock.ms += 6000;
    const burst = Array.from({ length: 90 }, () => unit(false));
    for (const u of burst) push(u);
    assert.equal(decoder.queue.length, 90, 'nothing of the burst dropped');
    shown.length = 0;
    decoder.drain();
    assert.deepEqual(
      shown,
      burst.slice(0, 17).map((u) => u.timestamp),
      'the first units shown, the rest decoded unseen',
    );
    // The decoder caught up: the next unit is shown, no key unit needed.
    const next = unit(false);
    push(next);
    decoder.drain();
    assert.equal(shown.at(-1), next.timestamp);
  });

  it('drops deltas until the next key unit when the decoder falls behind on a steady stream', () => {
    const { push, shown, clock } = setup();
    push(unit(true));
    const decoder = HeldDecoder.made[0];
    assert.ok(decoder);
    // Units at 15 fps into a decoder that decodes nothing: 16 queued, and the next is dropped.
    for (let i = 0; i < 40; i++) {
      clock.ms += 66;
      push(unit(false));
    }
    assert.equal(decoder.queue.length, 17, 'the key unit and 16 deltas');
    decoder.drain();
    clock.ms += 66;
    push(unit(false));
    assert.equal(decoder.queue.length, 0, 'a delta after the drop waits for a key unit');
    const key = unit(true);
    clock.ms += 66;
    push(key);
    decoder.drain();
    assert.equal(shown.at(-1), key.timestamp);
  });

  it('drops deltas at once past a hard bound of queued units', () => {
    const { push } = setup();
    push(unit(true));
    const decoder = HeldDecoder.made[0];
    assert.ok(decoder);
    for (let i = 0; i < 700; i++) push(unit(false));
    assert.equal(decoder.queue.length, 601, 'the key unit and 600 deltas');
  });

  it('never drops a catch-up the server marked decode-only, however long', () => {
    const { push, shown } = setup();
    const catchUp = [unit(true, true), ...Array.from({ length: 149 }, () => unit(false, true))];
    for (const u of catchUp) push(u);
    const newest = unit(false);
    push(newest);
    const decoder = HeldDecoder.made[0];
    assert.ok(decoder);
    assert.equal(decoder.queue.length, 151, 'a 10 s GOP of catch-up and the newest unit');
    assert.equal(decoder.drain(), 151, 'every picture closed, the catch-up unseen');
    assert.deepEqual(shown, [newest.timestamp]);
  });
});
