import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { causeOf } from './process.js';

describe('causeOf (what an ffmpeg exit is explained by)', () => {
  it('is the last line of stderr', () => {
    assert.equal(
      causeOf(
        '[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized\nrtsp://x: Server returned 401\n',
      ),
      'rtsp://x: Server returned 401',
    );
  });

  it('skips the lines ffmpeg ends with after the real cause', () => {
    const stderr = [
      "[mp4 @ 0x557d7b6df5c0] Malformed AAC bitstream detected: use the audio bitstream filter 'aac_adtstoasc' to fix it",
      'av_interleaved_write_frame(): Operation not permitted',
      'Error writing trailer of pipe:1: Operation not permitted',
      'Conversion failed!',
      '',
    ].join('\n');
    assert.match(causeOf(stderr), /Malformed AAC bitstream detected/);
  });

  it("skips them in ffmpeg 6's form too, with the muxer named in front", () => {
    const stderr = [
      "[mp4 @ 0x55] Malformed AAC bitstream detected: use the audio bitstream filter 'aac_adtstoasc'",
      '[out#1/mp4 @ 0x56] Error muxing a packet',
      '[out#1/mp4 @ 0x56] Error writing trailer: Operation not permitted',
      'Conversion failed!',
    ].join('\n');
    assert.match(causeOf(stderr), /Malformed AAC bitstream detected/);
  });

  it('keeps an aftermath line when nothing came before it, and is empty for no output', () => {
    assert.equal(causeOf('Conversion failed!\n'), 'Conversion failed!');
    assert.equal(causeOf(''), '');
  });
});
