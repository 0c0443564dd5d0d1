/**
 * The fragmented MP4 the browser's MSE path builds, read back by ffprobe: the same pictures,
 * size and codec as the Annex B units it was made from.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Fmp4Muxer } from '../../src/browser/fmp4.js';
import { AnnexBSplitter } from '../../src/frames/annexb-splitter.js';
import { requireTool } from '../helpers/rtsp.js';

const FFPROBE = '/usr/bin/ffprobe';

describe('fragmented MP4 for MSE', () => {
  it('is read by ffprobe as the same H.264 pictures', () => {
    requireTool(FFPROBE, 'apt-get install -y ffmpeg');
    const stream = readFileSync(new URL('../fixtures/h264-baseline.h264', import.meta.url));
    const muxer = new Fmp4Muxer();
    const segments: Uint8Array[] = [];
    let n = 0;
    const splitter = new AnnexBSplitter({
      codec: 'h264',
      maxUnitBytes: 1 << 20,
      onUnit: (unit) =>
        segments.push(...muxer.push({ data: unit.data, key: unit.key, timestamp: n++ * 100_000 })),
    });
    splitter.push(new Uint8Array(stream));
    const dir = mkdtempSync(join(tmpdir(), 'camplex-fmp4-'));
    try {
      const file = join(dir, 'out.mp4');
      writeFileSync(file, Buffer.concat(segments));
      const probe = JSON.parse(
        execFileSync(FFPROBE, [
          '-v',
          'error',
          '-count_frames',
          '-select_streams',
          'v',
          '-show_entries',
          'stream=codec_name,width,height,nb_read_frames,avg_frame_rate',
          '-of',
          'json',
          file,
        ]).toString(),
      ) as { streams: Array<Record<string, string | number>> };
      const [video] = probe.streams;
      assert.deepEqual(
        {
          codec: video?.codec_name,
          width: video?.width,
          height: video?.height,
          frames: Number(video?.nb_read_frames),
        },
        // The splitter hands on a unit when the next one starts: 19 of the fixture's 20.
        { codec: 'h264', width: 320, height: 180, frames: 19 },
      );
      // Timed by the 100 ms between units (the first unit's length is a guess of 1/15 s).
      const [num, den] = String(video?.avg_frame_rate).split('/').map(Number);
      const fps = (num ?? 0) / (den ?? 1);
      assert.ok(fps > 9.9 && fps < 10.3, `${fps} frames/s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
