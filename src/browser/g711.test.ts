import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeG711 } from './g711.js';

/** ffmpeg's decoding (`-f alaw|mulaw -i all -f s16le`) of every byte 0..255, in order. */
const reference = (name: string) => {
  const bytes = readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url));
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
};

describe('decodeG711', () => {
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const [law, file] of [
    ['pcma', 'g711-alaw-256.s16le'],
    ['pcmu', 'g711-ulaw-256.s16le'],
  ] as const) {
    it(`decodes each of the 256 ${law} codes as ffmpeg does`, () => {
      const samples = decodeG711(law, every);
      assert.deepEqual(
        Array.from(samples, (sample) => Math.round(sample * 32768)),
        Array.from(reference(file)),
      );
      assert.ok(samples.every((sample) => sample >= -1 && sample < 1));
    });
  }
});
