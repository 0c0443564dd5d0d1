import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type AccessUnit, AnnexBSplitter } from '../frames/annexb-splitter.js';
import { AacMuxer, Fmp4Muxer, nalUnits, TIMESCALE } from './fmp4.js';

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

/** Units 100 ms apart, as a 10 fps camera times them (no reordering). */
function timed(units: AccessUnit[]) {
  return units.map((unit, i) => ({
    data: unit.data,
    key: unit.key,
    pts: 1e12 + i * 100_000,
    dts: 1e12 + i * 100_000,
  }));
}

/** The fragment's decode time, its sample's duration and composition offset, in ticks. */
function timesOf(fragment: Uint8Array): { dts: number; duration: number; cto: number } {
  const traf = child(boxes(fragment)[0], 'traf');
  const tfdt = child(traf, 'tfdt')!.body;
  const trun = child(traf, 'trun')!.body;
  const tfdtView = new DataView(tfdt.buffer, tfdt.byteOffset, tfdt.byteLength);
  const trunView = new DataView(trun.buffer, trun.byteOffset, trun.byteLength);
  // mux.js's trun: flags 0xf01 (offset, duration, size, flags, cto), one sample after the offset.
  return {
    dts: Number(tfdtView.getBigUint64(4)),
    duration: trunView.getUint32(12),
    cto: trunView.getUint32(24),
  };
}

describe('Fmp4Muxer', () => {
  it('starts with an init segment holding the SPS and PPS, then a fragment per unit', () => {
    const muxer = new Fmp4Muxer(1e12);
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
    const muxer = new Fmp4Muxer(1e12);
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

  it('puts each unit at its decode time from the origin, shown after its composition offset', () => {
    const units = unitsOf(BASELINE).slice(0, 4);
    const muxer = new Fmp4Muxer(5_000_000);
    // Decode order I P B B, shown I B B P (two B-frames), 40 ms apart.
    const shownAt = [0, 3, 1, 2];
    const times = units.map((unit, i) => {
      const dts = 5_000_000 + i * 40_000;
      const segments = muxer.push({
        data: unit.data,
        key: unit.key,
        dts,
        pts: 5_000_000 + (shownAt[i] as number) * 40_000 + 40_000,
      });
      return timesOf(segments.at(-1)!);
    });
    const frame = (40_000 * TIMESCALE) / 1e6;
    assert.deepEqual(
      times.map((time) => time.dts),
      [0, frame, 2 * frame, 3 * frame],
    );
    assert.deepEqual(
      times.map((time) => time.cto),
      [frame, 3 * frame, 0, 0],
    );
    // A unit lasts as long as the gap before it (the next is not known): the first, a guess.
    assert.deepEqual(
      times.map((time) => time.duration),
      [6000, frame, frame, frame],
    );
  });

  it('waits for a key unit with parameter sets, and sends a new init segment when they change', () => {
    const units = unitsOf(BASELINE);
    const muxer = new Fmp4Muxer(1e12);
    assert.deepEqual(muxer.push({ data: units[1]!.data, key: false, pts: 1e12, dts: 1e12 }), []);
    assert.equal(muxer.push({ data: units[0]!.data, key: true, pts: 1e12, dts: 1e12 }).length, 2);
    assert.equal(
      muxer.push({ data: units[10]!.data, key: true, pts: 2e12, dts: 2e12 }).length,
      1,
      'same SPS',
    );
  });
});

describe('AacMuxer', () => {
  it('writes an AAC track of the stream’s rate and channels, a frame a fragment at its time', () => {
    const muxer = new AacMuxer(1_000_000, 44_100, 1, '120856e500');
    assert.equal(muxer.mime, 'audio/mp4; codecs="mp4a.40.2"');
    const init = muxer.initSegment();
    assert.deepEqual(
      boxes(init).map((b) => b.type),
      ['ftyp', 'moov'],
    );
    const mdhd = Buffer.from(init).indexOf('mdhd');
    assert.equal(
      new DataView(init.buffer, init.byteOffset).getUint32(mdhd + 16),
      44_100,
      'timescale',
    );
    const esds = init.subarray(Buffer.from(init).indexOf('esds'));
    // The AudioSpecificConfig: AAC LC (2), 44.1 kHz (index 4), one channel.
    assert.ok(Buffer.from(esds).includes(Buffer.from([0x12, 0x08])));
    const fragment = muxer.fragment(new Uint8Array([1, 2, 3]), 1_000_000 + 1_000_000);
    const traf = child(boxes(fragment)[0], 'traf');
    const tfdt = child(traf, 'tfdt')!.body;
    assert.equal(Number(new DataView(tfdt.buffer, tfdt.byteOffset).getBigUint64(4)), 44_100);
    assert.deepEqual([...boxes(fragment)[1]!.body], [1, 2, 3]);
  });
});
