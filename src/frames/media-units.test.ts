import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type AudioInfo, type MediaUnit, MediaUnits } from './media-units.js';
import type { SequenceInfo } from './parameter-sets.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url)));

function read(name: string) {
  const units: MediaUnit[] = [];
  const tracks: Array<{ video: string | undefined; audio: AudioInfo | undefined }> = [];
  const sequences: SequenceInfo[] = [];
  const reader = new MediaUnits({
    maxUnitBytes: 1 << 20,
    onUnit: (unit) => units.push(unit),
    onTracks: (video, audio) => tracks.push({ video, audio }),
    onSequence: (info) => sequences.push(info),
  });
  const bytes = fixture(name);
  for (let at = 0; at < bytes.length; at += 500) reader.push(bytes.subarray(at, at + 500));
  return { units, tracks, sequences, video: units.filter((unit) => unit.kind === 'video') };
}

/** NAL types of an Annex B unit, in order. */
function nalTypes(unit: Uint8Array, hevc = false): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < unit.length; i++) {
    if (unit[i] === 0 && unit[i + 1] === 0 && unit[i + 2] === 1) {
      const header = unit[i + 3] ?? 0;
      types.push(hevc ? (header >> 1) & 0x3f : header & 0x1f);
      i += 3;
    }
  }
  return types;
}

describe('MediaUnits', () => {
  it('turns video samples into Annex B access units: a delimiter first, parameter sets on key units', () => {
    const { video, sequences } = read('h264-pcma.mov');
    assert.equal(video.length, 10);
    assert.deepEqual(nalTypes(video[0]?.data as Uint8Array).slice(0, 3), [9, 7, 8]);
    assert.ok(video.slice(1).every((unit) => nalTypes(unit.data)[0] === 9 && !unit.key));
    assert.deepEqual(sequences, [{ codecString: 'avc1.42C00B', width: 320, height: 180 }]);
  });

  it('puts a delimiter and the configuration parameter sets in H.265 units that have neither', () => {
    const { video, sequences } = read('h265-pcmu.mov');
    const first = nalTypes(video[0]?.data as Uint8Array, true);
    assert.deepEqual(first.slice(0, 4), [35, 32, 33, 34], 'AUD, VPS, SPS, PPS');
    assert.equal(video[0]?.key, true);
    assert.equal(sequences[0]?.width, 320);
  });

  it('keeps the camera timing: decode and presentation times in microseconds, B-frames reordered', () => {
    const { video } = read('h264-bframes-aac.mp4');
    assert.ok(video.some((unit) => unit.bidirectional));
    assert.ok(video.some((unit) => unit.pts > unit.dts));
    // Decode times after the first rise by 100 ms (10 fps); presentation times do not always rise.
    const dts = video.slice(1).map((unit) => unit.dts);
    assert.ok(dts.slice(1).every((time, i) => Math.abs(time - (dts[i] ?? 0) - 100_000) < 1));
    const pts = video.map((unit) => unit.pts);
    assert.ok(pts.some((time, i) => i > 0 && time < (pts[i - 1] ?? 0)));
  });

  it('tells every B picture by its slice header: decode order I P B B P B B P B B I P', () => {
    // ffprobe -show_frames lists the fixture in presentation order: I B B P B B P B B P I P.
    const { video } = read('h264-bframes-aac.mp4');
    const kinds = video.map((unit) => (unit.key ? 'I' : unit.bidirectional ? 'B' : 'P'));
    assert.equal(kinds.join(''), 'IPBBPBBPBBIP');
  });

  it('leaves the room asked for free in front of each video unit, in memory of its own', () => {
    const units: MediaUnit[] = [];
    const reader = new MediaUnits({
      maxUnitBytes: 1 << 20,
      headroom: 104,
      onUnit: (unit) => units.push(unit),
    });
    reader.push(fixture('h264-pcma.mov'));
    const video = units.filter((unit) => unit.kind === 'video');
    assert.equal(video.length, 10);
    for (const unit of video) {
      assert.equal(unit.headroom, 104);
      // Its own memory, exactly room and unit: no shared pool slab kept alive by the GOP cache.
      assert.equal(unit.data.byteOffset, 104);
      assert.equal(unit.data.buffer.byteLength, 104 + unit.data.length);
    }
    // No two units overlap, room included.
    const spans = video
      .map((unit) => ({
        buffer: unit.data.buffer,
        from: unit.data.byteOffset - 104,
        to: unit.data.byteOffset + unit.data.length,
      }))
      .sort((a, b) => a.from - b.from);
    for (const [i, span] of spans.entries()) {
      for (const other of spans.slice(i + 1)) {
        assert.ok(span.buffer !== other.buffer || span.to <= other.from, 'overlapping units');
      }
    }
  });

  it('passes each kind of sound on as its own frames, and says what it is', () => {
    const cases: Array<[string, Partial<AudioInfo>]> = [
      [
        'h264-bframes-aac.mp4',
        { codec: 'aac', rate: 44100, channels: 1, codecString: 'mp4a.40.2' },
      ],
      ['h264-pcma.mov', { codec: 'pcma', rate: 8000, channels: 1, codecString: 'alaw' }],
      ['h264-opus.mp4', { codec: 'opus', rate: 48000, channels: 2, codecString: 'opus' }],
      ['h265-pcmu.mov', { codec: 'pcmu', rate: 8000, channels: 1, codecString: 'ulaw' }],
    ];
    for (const [name, expected] of cases) {
      const { units, tracks } = read(name);
      const { config: _config, ...audio } = tracks[0]?.audio ?? ({} as AudioInfo);
      assert.deepEqual(audio, expected, name);
      const sound = units.filter((unit) => unit.kind === 'audio');
      assert.ok(sound.length > 5, name);
      assert.ok(
        sound.every((unit) => unit.codec === expected.codec && unit.key && unit.pts === unit.dts),
      );
    }
    // G.711 is one byte a sample: 20 ms packets at 8 kHz.
    const { units } = read('h264-pcma.mov');
    assert.ok(
      units.filter((unit) => unit.kind === 'audio').every((unit) => unit.data.length === 160),
    );
  });
});
