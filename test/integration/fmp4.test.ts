/**
 * The fragmented MP4 the browser's MSE path builds, read back by ffprobe: the same pictures,
 * size and codec as the units camplex cut from a camera's MP4, at the same presentation and
 * decode times (B-frames in their order), and its AAC track too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AacMuxer, Fmp4Muxer } from '../../src/browser/fmp4.js';
import { type MediaUnit, MediaUnits } from '../../src/frames/media-units.js';
import { requireTool } from '../../support/rtsp.js';

const FFPROBE = '/usr/bin/ffprobe';

/** The units of the B-frame camera's recording (H.264 main with B-frames, AAC). */
function recordedUnits(): MediaUnit[] {
  const units: MediaUnit[] = [];
  const reader = new MediaUnits({ maxUnitBytes: 1 << 20, onUnit: (unit) => units.push(unit) });
  reader.push(
    new Uint8Array(readFileSync(new URL('../fixtures/h264-bframes-aac.mp4', import.meta.url))),
  );
  return units;
}

function probe(file: string, stream: 'v' | 'a') {
  return JSON.parse(
    execFileSync(FFPROBE, [
      '-v',
      'error',
      '-select_streams',
      stream,
      '-show_entries',
      'stream=codec_name,width,height,sample_rate,channels:packet=pts,dts',
      '-of',
      'json',
      file,
    ]).toString(),
  ) as {
    streams: Array<Record<string, string | number>>;
    packets: Array<{ pts: number; dts: number }>;
  };
}

describe('fragmented MP4 for MSE', () => {
  it('is read by ffprobe as the same H.264 pictures, at the camera’s times, B-frames and all', () => {
    requireTool(FFPROBE, 'apt-get install -y ffmpeg');
    const video = recordedUnits().filter((unit) => unit.kind === 'video');
    const origin = (video[0]?.dts ?? 0) - 1_000_000;
    const muxer = new Fmp4Muxer(origin);
    const segments = video.flatMap((unit) => muxer.push(unit));
    const dir = mkdtempSync(join(tmpdir(), 'camplex-fmp4-'));
    try {
      const file = join(dir, 'video.mp4');
      writeFileSync(file, Buffer.concat(segments));
      const { streams, packets } = probe(file, 'v');
      assert.deepEqual(
        { codec: streams[0]?.codec_name, width: streams[0]?.width, height: streams[0]?.height },
        { codec: 'h264', width: 320, height: 180 },
      );
      assert.equal(packets.length, video.length, 'every picture');
      const ticks = (micros: number) => Math.round(((micros - origin) * 90_000) / 1_000_000);
      assert.deepEqual(
        packets.map((packet) => [packet.pts, packet.dts]),
        video.map((unit) => [ticks(unit.pts), ticks(unit.dts)]),
      );
      assert.ok(
        packets.some((packet, i) => i > 0 && packet.pts < (packets[i - 1]?.pts ?? 0)),
        'shown out of decode order: B-frames',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries the AAC sound as a track of its own that ffprobe reads at its times', () => {
    requireTool(FFPROBE, 'apt-get install -y ffmpeg');
    const sound = recordedUnits().filter((unit) => unit.kind === 'audio');
    const origin = (sound[0]?.pts ?? 0) - 1_000_000;
    const muxer = new AacMuxer(origin, 44_100, 1, '120856e500');
    const bytes = [
      muxer.initSegment(),
      ...sound.map((unit) => muxer.fragment(unit.data, unit.pts)),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'camplex-fmp4-'));
    try {
      const file = join(dir, 'sound.mp4');
      writeFileSync(file, Buffer.concat(bytes));
      const { streams, packets } = probe(file, 'a');
      assert.deepEqual(
        {
          codec: streams[0]?.codec_name,
          rate: streams[0]?.sample_rate,
          channels: streams[0]?.channels,
        },
        { codec: 'aac', rate: '44100', channels: 1 },
      );
      assert.equal(packets.length, sound.length);
      assert.deepEqual(
        packets.map((packet) => packet.pts),
        sound.map((unit) => Math.round(((unit.pts - origin) * 44_100) / 1_000_000)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
