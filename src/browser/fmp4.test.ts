import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type AccessUnit, AnnexBSplitter } from '../frames/annexb-splitter.js';
import { Fmp4Muxer, nalUnits, TIMESCALE } from './fmp4.js';

/** 2 s of testsrc2 at 320x180, 10 fps, a key unit every 10 (the splitter's fixture). */
const BASELINE = new Uint8Array(
  readFileSync(new URL('../../test/fixtures/h264-baseline.h264', import.meta.url)),
);

function unitsOf(stream: Uint8Array): AccessUnit[] {
  const units: AccessUnit[] = [];
  const splitter = new AnnexBSplitter({
    codec: 'h264',
    maxUnitBytes: 1 << 20,
    onUnit: (unit) => units.push(unit),
  });
  splitter.push(stream);
  return units;
}

interface Box {
  type: string;
  body: Uint8Array;
}

/** The boxes at the top level of `bytes` (or of a container box's body). */
function boxes(bytes: Uint8Array): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Box[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = view.getUint32(at);
    assert.ok(size >= 8 && at + size <= bytes.length, `box size ${size} at ${at}`);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    out.push({ type, body: bytes.subarray(at + 8, at + size) });
    at += size;
  }
  return out;
}

function child(box: Box | undefined, type: string): Box | undefined {
  return box ? boxes(box.body).find((b) => b.type === type) : undefined;
}

/** Units 100 ms apart, as they would arrive from a 10 fps camera. */
function timed(units: AccessUnit[]) {
  return units.map((unit, i) => ({
    data: unit.data,
    key: unit.key,
    timestamp: 1e12 + i * 100_000,
  }));
}

describe('Fmp4Muxer', () => {
  it('starts with an init segment holding the SPS and PPS, then a fragment per unit', () => {
    const muxer = new Fmp4Muxer();
    const segments = timed(unitsOf(BASELINE)).flatMap((unit) => muxer.push(unit));
    const [init, ...fragments] = segments;
    assert.deepEqual(
      boxes(init!).map((b) => b.type),
      ['ftyp', 'moov'],
    );
    // avcC: version 1, profile, compatibility, level, length size, then the SPS and PPS.
    const at = Buffer.from(init!).indexOf('avcC') + 4;
    const avcC = init!.subarray(at);
    const sps = nalUnits(unitsOf(BASELINE)[0]!.data).find((nal) => ((nal[0] ?? 0) & 0x1f) === 7)!;
    assert.deepEqual([...avcC.subarray(0, 4)], [1, sps[1], sps[2], sps[3]]);
    assert.equal(avcC[5]! & 0x1f, 1, 'one SPS');
    const spsLength = (avcC[6]! << 8) | avcC[7]!;
    assert.deepEqual([...avcC.subarray(8, 8 + spsLength)], [...sps]);
    assert.equal(avcC[8 + spsLength], 1, 'one PPS');
    assert.equal(fragments.length, 19, 'one fragment per unit');
    for (const fragment of fragments) {
      assert.deepEqual(
        boxes(fragment).map((b) => b.type),
        ['moof', 'mdat'],
      );
    }
  });

  it('writes each picture length-prefixed, without delimiters or parameter sets', () => {
    const units = unitsOf(BASELINE);
    const muxer = new Fmp4Muxer();
    const segments = timed(units).flatMap((unit) => muxer.push(unit));
    const mdat = boxes(segments[1]!)[1]!.body;
    const view = new DataView(mdat.buffer, mdat.byteOffset, mdat.byteLength);
    const types: number[] = [];
    for (let at = 0; at < mdat.length; at += 4 + view.getUint32(at)) {
      types.push((mdat[at + 4] ?? 0) & 0x1f);
    }
    const expected = nalUnits(units[0]!.data)
      .map((nal) => (nal[0] ?? 0) & 0x1f)
      .filter((type) => type !== 7 && type !== 8 && type !== 9);
    assert.deepEqual(types, expected);
    assert.ok(types.includes(5), 'the IDR slice');
  });

  it('times fragments by the gaps between units, decode-only ones one tick long', () => {
    const units = unitsOf(BASELINE).slice(0, 4);
    const muxer = new Fmp4Muxer();
    const times: number[] = [];
    const decodeTimes = units.flatMap((unit, i) => {
      const segments = muxer.push({
        data: unit.data,
        key: unit.key,
        timestamp: 5_000_000 + i * 40_000,
        decodeOnly: i === 1,
      });
      const moof = boxes(segments.at(-1)!)[0];
      const tfdt = child(child(moof, 'traf'), 'tfdt')!.body;
      const view = new DataView(tfdt.buffer, tfdt.byteOffset, tfdt.byteLength);
      times.push(Number(view.getBigUint64(4)));
      return [];
    });
    assert.deepEqual(decodeTimes, []);
    // The first unit's length is a guess (1/15 s); then 1 tick (decode-only); then 40 ms each.
    assert.deepEqual(times, [0, 6000, 6001, 6001 + (40_000 * TIMESCALE) / 1e6]);
  });

  it('waits for a key unit with parameter sets, and sends a new init segment when they change', () => {
    const units = unitsOf(BASELINE);
    const muxer = new Fmp4Muxer();
    assert.deepEqual(muxer.push({ data: units[1]!.data, key: false, timestamp: 0 }), []);
    assert.equal(muxer.push({ data: units[0]!.data, key: true, timestamp: 1 }).length, 2);
    assert.equal(
      muxer.push({ data: units[10]!.data, key: true, timestamp: 2 }).length,
      1,
      'same SPS',
    );
  });
});
