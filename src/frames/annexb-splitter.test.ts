import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type AccessUnit, AnnexBSplitter } from './annexb-splitter.js';
import type { SequenceInfo, VideoCodec } from './parameter-sets.js';

/** 2 s of testsrc2 at 320x180, 10 fps, a key unit every 10, as ffmpeg writes for camplex. */
const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url)));
const BASELINE = fixture('h264-baseline.h264');
const BFRAMES = fixture('h264-bframes.h264');
const HEVC = fixture('h265-main.h265');

function split(codec: VideoCodec, chunks: Uint8Array[], maxUnitBytes = 1 << 20) {
  const units: AccessUnit[] = [];
  const sequences: SequenceInfo[] = [];
  const splitter = new AnnexBSplitter({
    codec,
    maxUnitBytes,
    onUnit: (unit) => units.push({ ...unit, data: unit.data.slice() }),
    onSequence: (info) => sequences.push(info),
  });
  for (const chunk of chunks) splitter.push(chunk);
  return { units, sequences, stats: splitter.stats };
}

/** `bytes` in pieces of `size` (the last may be shorter). */
function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/** Offsets of the 00 00 01 start codes in `unit`. */
function startCodes(unit: Uint8Array): number[] {
  const starts: number[] = [];
  for (let i = 0; i + 3 < unit.length; i++) {
    if (unit[i] === 0 && unit[i + 1] === 0 && unit[i + 2] === 1) starts.push(i);
  }
  return starts;
}

/** The NAL types of a unit, in order. */
function types(codec: VideoCodec, unit: Uint8Array): number[] {
  const found: number[] = [];
  for (let i = 0; i + 3 < unit.length; i++) {
    if (unit[i] === 0 && unit[i + 1] === 0 && unit[i + 2] === 1) {
      const header = unit[i + 3] ?? 0;
      found.push(codec === 'h264' ? header & 0x1f : (header >> 1) & 0x3f);
    }
  }
  return found;
}

describe('AnnexBSplitter', () => {
  it('cuts H.264 into one unit per picture, key units with their parameter sets', () => {
    const { units, sequences } = split('h264', [BASELINE]);
    // The last picture has no delimiter after it yet: it is handed on with the next one.
    assert.equal(units.length, 19);
    assert.deepEqual(
      units.map((unit) => unit.key),
      units.map((_, i) => i % 10 === 0),
    );
    assert.deepEqual(types('h264', units[0]!.data).slice(0, 3), [9, 7, 8]);
    assert.equal(types('h264', units[1]!.data)[0], 9);
    assert.deepEqual(sequences, [{ codecString: 'avc1.42C00B', width: 320, height: 180 }]);
    assert.ok(units.every((unit) => !unit.bidirectional));
  });

  it('gives the same units whatever the chunking, down to one byte at a time', () => {
    const whole = split('h264', [BASELINE]).units.map((unit) =>
      Buffer.from(unit.data).toString('hex'),
    );
    for (const size of [1, 3, 7, 100, 4096]) {
      const chunked = split('h264', pieces(BASELINE, size)).units;
      assert.deepEqual(
        chunked.map((unit) => Buffer.from(unit.data).toString('hex')),
        whole,
        `pieces of ${size}`,
      );
    }
  });

  it('cuts H.265 at its delimiters, IRAP units key, with the codec string of Main', () => {
    const { units, sequences } = split('h265', pieces(HEVC, 777));
    assert.ok(units.length >= 18, `${units.length} units`);
    assert.equal(units[0]?.key, true);
    assert.deepEqual(types('h265', units[0]!.data).slice(0, 4), [35, 32, 33, 34]);
    assert.equal(units.filter((unit) => unit.key).length, 2);
    assert.deepEqual(sequences, [{ codecString: 'hvc1.1.6.L60.90', width: 320, height: 180 }]);
  });

  it('reads a High profile SPS and tells B slices', () => {
    const { units, sequences } = split('h264', [BFRAMES]);
    assert.deepEqual(sequences, [{ codecString: 'avc1.64000C', width: 320, height: 180 }]);
    assert.ok(
      units.some((unit) => unit.bidirectional),
      'a unit with a B slice',
    );
    assert.equal(units[0]?.bidirectional, false, 'the IDR is not one');
  });

  it('puts the latest parameter sets into a key unit that lacks them, after its delimiter', () => {
    const original = split('h264', [BASELINE]).units;
    const second = original[10]!.data;
    // The second key unit without its SPS and PPS: its delimiter, then straight to the picture.
    const [, sps, , picture] = startCodes(second) as [number, number, number, number];
    const stripped = new Uint8Array([
      ...second.subarray(0, sps - 1),
      ...second.subarray(picture - 1),
    ]);
    assert.deepEqual(types('h264', second).slice(0, 4), [9, 7, 8, 5]);
    assert.deepEqual(types('h264', stripped).slice(0, 2), [9, 5]);
    const stream = new Uint8Array([...original[0]!.data, ...stripped, ...original[11]!.data]);
    const { units, stats } = split('h264', [stream]);
    assert.equal(stats.repaired, 1);
    assert.deepEqual(types('h264', units[1]!.data).slice(0, 3), [9, 7, 8]);
    assert.equal(units[1]?.key, true);
  });

  it('hands on no unit without a picture: parameter sets sent on their own go to the next key', () => {
    // What ffmpeg makes of an RTSP camera that repeats SPS and PPS in packets of their own
    // (GStreamer's config-interval): a delimiter, SPS, PPS, then the key unit with its own.
    const original = split('h264', [BASELINE]).units;
    const second = original[10]!.data;
    const starts = startCodes(second);
    const [, , , picture] = starts as [number, number, number, number];
    const setsOnly = second.subarray(0, picture - 1); // AUD, SPS, PPS
    const keyAlone = new Uint8Array([
      ...second.subarray(0, starts[1]! - 1),
      ...second.subarray(picture - 1),
    ]);
    assert.deepEqual(types('h264', setsOnly), [9, 7, 8]);
    const stream = new Uint8Array([
      ...original[0]!.data,
      ...setsOnly,
      ...keyAlone,
      ...original[11]!.data,
      ...original[12]!.data,
    ]);
    const { units, stats } = split('h264', [stream]);
    assert.equal(stats.dropped['no-picture'], 1);
    assert.deepEqual(
      units.map((unit) => types('h264', unit.data).filter((type) => type !== 6)), // no SEI
      [
        [9, 7, 8, 5],
        [9, 7, 8, 5],
        [9, 1],
      ],
      'every unit holds a picture; the key unit got the parameter sets',
    );
    assert.equal(units[1]?.key, true);
  });

  it('skips garbage before the first delimiter and between units', () => {
    const units = split('h264', [BASELINE]).units;
    const noise = new Uint8Array([1, 2, 3, 0, 0, 1, 0x65, 9, 9, 9]);
    const { units: again, stats } = split('h264', [noise, BASELINE]);
    assert.equal(stats.dropped['no-delimiter'], 1);
    assert.deepEqual(again[0]?.data, units[0]?.data);
  });

  it('drops a unit over the size limit whole and resynchronises at the next delimiter', () => {
    const { units: whole } = split('h264', [BASELINE]);
    const limit =
      Math.max(...whole.filter((unit) => !unit.key).map((unit) => unit.data.length)) + 1;
    assert.ok(whole.filter((unit) => unit.key).every((unit) => unit.data.length > limit));
    const { units, stats } = split('h264', pieces(BASELINE, 500), limit);
    assert.equal(stats.dropped.oversized, 2, 'both key units');
    assert.equal(units.length, 17);
    assert.deepEqual(units[0]?.data, whole[1]?.data);
  });
});
