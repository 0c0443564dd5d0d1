import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MJPEG_BOUNDARY } from '../protocol/wire.js';
import { isWholeJpeg, MpjpegSplitter } from './mpjpeg-splitter.js';

const BOUNDARY = 'camplex';
const exifJpeg = readFileSync(new URL('../../test/fixtures/exif-thumbnail.jpg', import.meta.url));

/** A tiny stand-in JPEG: SOI, some bytes, EOI. */
function fakeJpeg(seed: number, size = 40): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (seed * 31 + i * 7) & 0xff;
  return Buffer.concat([Buffer.from([0xff, 0xd8]), body, Buffer.from([0xff, 0xd9])]);
}

/** One part exactly as ffmpeg 5.1's mpjpeg muxer writes it. */
function part(jpeg: Buffer, length = jpeg.length, header = 'Content-length'): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-type: image/jpeg\r\n${header}: ${length}\r\n\r\n`),
    jpeg,
    Buffer.from('\r\n'),
  ]);
}

function split(chunks: Buffer[], maxFrameBytes = 1 << 20) {
  const frames: Buffer[] = [];
  const splitter = new MpjpegSplitter({
    boundary: BOUNDARY,
    maxFrameBytes,
    onFrame: (jpeg) => frames.push(Buffer.from(jpeg)),
  });
  for (const chunk of chunks) splitter.push(chunk);
  return { frames, stats: splitter.stats };
}

/** Deterministic PRNG so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('MpjpegSplitter', () => {
  it("reads camplex's own /mjpeg parts from plain Uint8Arrays, as the browser does", () => {
    const jpegs = [fakeJpeg(1), Uint8Array.from(exifJpeg), fakeJpeg(2, 3000)];
    const text = (value: string) => new TextEncoder().encode(value);
    const stream = jpegs.flatMap((jpeg) => [
      text(
        `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
      ),
      new Uint8Array(jpeg),
      text('\r\n'),
    ]);
    const joined = Uint8Array.from(stream.flatMap((piece) => [...piece]));
    const frames: Uint8Array[] = [];
    const splitter = new MpjpegSplitter({
      boundary: MJPEG_BOUNDARY,
      maxFrameBytes: 1 << 20,
      onFrame: (jpeg) => frames.push(jpeg.slice()),
    });
    // In the odd-sized pieces a fetch body stream hands out.
    for (let at = 0; at < joined.length; at += 1000) splitter.push(joined.subarray(at, at + 1000));
    assert.deepEqual(
      frames.map((frame) => Buffer.from(frame).toString('hex')),
      jpegs.map((jpeg) => Buffer.from(jpeg).toString('hex')),
    );
  });

  it('returns each part of one chunk as a whole frame', () => {
    const jpegs = [fakeJpeg(1), fakeJpeg(2, 100), fakeJpeg(3, 7)];
    const { frames, stats } = split([Buffer.concat(jpegs.map((j) => part(j)))]);
    assert.deepEqual(frames, jpegs);
    assert.equal(stats.frames, 3);
    assert.equal(stats.garbageBytes, 0);
  });

  it('cuts frames from each chunk in place when chunks end on part boundaries (no copy)', () => {
    const views: Uint8Array[] = [];
    const splitter = new MpjpegSplitter({
      boundary: BOUNDARY,
      maxFrameBytes: 1 << 20,
      onFrame: (jpeg) => views.push(jpeg),
    });
    // Over 4 KiB each, so no two share Buffer's allocation pool and `.buffer` tells them apart.
    const chunks = [part(fakeJpeg(1, 5000)), part(fakeJpeg(2, 5000)), part(fakeJpeg(3, 5000))];
    for (const chunk of chunks) splitter.push(chunk);
    assert.equal(views.length, 3);
    views.forEach((view, i) => {
      assert.equal(view.buffer, chunks[i]?.buffer, `frame ${i} is a view of its own chunk`);
    });
  });

  it('survives a chunk boundary at every byte of the stream', () => {
    const jpegs = [fakeJpeg(1), fakeJpeg(2, 90), fakeJpeg(3, 3)];
    const stream = Buffer.concat(jpegs.map((j) => part(j)));
    for (let cut = 1; cut < stream.length; cut++) {
      const { frames } = split([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(frames, jpegs, `cut at byte ${cut}`);
    }
  });

  it('survives the stream arriving one byte at a time', () => {
    const jpegs = [fakeJpeg(4), exifJpeg, fakeJpeg(5)];
    const stream = Buffer.concat(jpegs.map((j) => part(j)));
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    assert.deepEqual(split(bytes).frames, jpegs);
  });

  it('returns a JPEG with an EXIF thumbnail whole, not cut at the first FF D9', () => {
    assert.equal(exifJpeg.length, 18738);
    assert.equal(exifJpeg.indexOf(Buffer.from([0xff, 0xd9])), 3132);
    const { frames } = split([part(exifJpeg), part(fakeJpeg(9))]);
    assert.equal(frames.length, 2);
    assert.equal(frames[0]?.length, 18738);
    assert.ok(frames[0]?.equals(exifJpeg));
  });

  it('skips and counts garbage before, between and after parts', () => {
    const jpegs = [fakeJpeg(1), fakeJpeg(2)];
    const noise = Buffer.from('garbage\xff\xd8\xff\xd9--camplox\r\n', 'latin1');
    const stream = Buffer.concat([noise, part(jpegs[0]!), noise, part(jpegs[1]!), noise]);
    const { frames, stats } = split([stream]);
    assert.deepEqual(frames, jpegs);
    // The noise does not end in the start of a delimiter, so all three are counted at once.
    assert.equal(stats.garbageBytes, 3 * noise.length);
  });

  it('drops a truncated part and keeps the frames after it', () => {
    const good = [fakeJpeg(1), fakeJpeg(2), fakeJpeg(3)];
    const truncated = fakeJpeg(7, 200).subarray(0, 50); // declared 204 bytes, sent 50
    const stream = Buffer.concat([
      part(good[0]!),
      Buffer.from(`--${BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-length: 204\r\n\r\n`),
      truncated,
      Buffer.from('\r\n'),
      part(good[1]!),
      part(good[2]!),
    ]);
    for (let cut = 1; cut < stream.length; cut += 13) {
      const { frames, stats } = split([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(frames, good, `cut at byte ${cut}`);
      assert.equal(stats.dropped.corrupt, 1);
    }
  });

  it('drops a part whose JPEG is not followed by CRLF (its length was wrong)', () => {
    const jpeg = fakeJpeg(4);
    const shortByTwo = Buffer.concat([
      Buffer.from(
        `--${BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-length: ${jpeg.length - 2}\r\n\r\n`,
      ),
      jpeg.subarray(0, jpeg.length - 4),
      Buffer.from([0xff, 0xd9, 0xff, 0xd9, 0x0d, 0x0a]), // ends in EOI, but EOI again after
    ]);
    const { frames, stats } = split([Buffer.concat([shortByTwo, part(fakeJpeg(5))])]);
    assert.deepEqual(frames, [fakeJpeg(5)]);
    assert.equal(stats.dropped.corrupt, 1);
  });

  it('does not return a frame truncated by the end of the stream', () => {
    const stream = Buffer.concat([part(fakeJpeg(1)), part(fakeJpeg(2, 500)).subarray(0, 100)]);
    const { frames } = split([stream]);
    assert.deepEqual(frames, [fakeJpeg(1)]);
  });

  it('drops a part whose payload is not a JPEG', () => {
    const notJpeg = Buffer.from('this is not a jpeg at all');
    const { frames, stats } = split([Buffer.concat([part(notJpeg), part(fakeJpeg(1))])]);
    assert.deepEqual(frames, [fakeJpeg(1)]);
    assert.equal(stats.dropped.corrupt, 1);
  });

  it('skips an oversized part without buffering it and keeps the next frame', () => {
    const big = fakeJpeg(1, 5000);
    const small = fakeJpeg(2);
    const stream = Buffer.concat([part(big), part(small)]);
    for (const chunkSize of [1, 7, 512, 4096, stream.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += chunkSize)
        chunks.push(stream.subarray(i, i + chunkSize));
      const { frames, stats } = split(chunks, 1000);
      assert.deepEqual(frames, [small], `chunk size ${chunkSize}`);
      assert.equal(stats.dropped.oversized, 1);
    }
  });

  it('drops a part without a Content-length and keeps the next one', () => {
    const broken = Buffer.from(`--${BOUNDARY}\r\nContent-type: image/jpeg\r\n\r\n`);
    const { frames, stats } = split([Buffer.concat([broken, fakeJpeg(1), part(fakeJpeg(2))])]);
    assert.deepEqual(frames, [fakeJpeg(2)]);
    assert.equal(stats.dropped['malformed-header'], 1);
  });

  it('reads Content-length with spaces and tabs around it, and refuses malformed values', () => {
    const jpeg = fakeJpeg(6);
    const withHeader = (line: string) =>
      Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-type: image/jpeg\r\n${line}\r\n\r\n`),
        jpeg,
        Buffer.from('\r\n'),
      ]);
    const next = part(fakeJpeg(7));
    const { frames } = split([withHeader(`Content-length: \t${jpeg.length} \t`), next]);
    assert.deepEqual(frames, [jpeg, fakeJpeg(7)]);
    for (const line of [
      'Content-length: 00000000044x', // not digits only
      'Content-length: 00000000044', // 11 digits
      'Content-length: 3', // shorter than any JPEG
      'Content-length:', // no value
      'Content-length : 44', // space before the colon
    ]) {
      const { frames, stats } = split([withHeader(line), next]);
      assert.deepEqual(frames, [fakeJpeg(7)], line);
      assert.equal(stats.dropped['malformed-header'], 1, line);
    }
  });

  it('drops a part whose header does not end within 1 KiB', () => {
    const header = `--${BOUNDARY}\r\nX-Padding: ${'x'.repeat(1100)}\r\nContent-length: 44\r\n\r\n`;
    const stream = Buffer.concat([
      Buffer.from(header),
      fakeJpeg(8),
      Buffer.from('\r\n'),
      part(fakeJpeg(9)),
    ]);
    const { frames, stats } = split([stream]);
    assert.deepEqual(frames, [fakeJpeg(9)]);
    assert.equal(stats.dropped['malformed-header'], 1);
  });

  it('accepts the header name in any case', () => {
    const jpeg = fakeJpeg(3);
    const { frames } = split([
      part(jpeg, jpeg.length, 'CONTENT-LENGTH'),
      part(jpeg, jpeg.length, 'Content-Length'),
    ]);
    assert.deepEqual(frames, [jpeg, jpeg]);
  });

  it('never returns anything but the whole frames of a noisy, randomly chunked stream', () => {
    const random = prng(42);
    for (let round = 0; round < 200; round++) {
      const expected: Buffer[] = [];
      const pieces: Buffer[] = [];
      const parts = 1 + Math.floor(random() * 6);
      for (let i = 0; i < parts; i++) {
        if (random() < 0.3) {
          const noise = Buffer.alloc(Math.floor(random() * 40));
          for (let b = 0; b < noise.length; b++) noise[b] = Math.floor(random() * 256);
          pieces.push(noise);
        }
        const jpeg = fakeJpeg(round * 10 + i, Math.floor(random() * 300));
        expected.push(jpeg);
        pieces.push(part(jpeg));
      }
      const stream = Buffer.concat(pieces);
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(random() * 64);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      const { frames } = split(chunks);
      assert.deepEqual(frames, expected, `round ${round}`);
    }
  });

  it('rejects a boundary that could not appear in a multipart header', () => {
    assert.throws(
      () => new MpjpegSplitter({ boundary: 'has space', maxFrameBytes: 1, onFrame: () => {} }),
      /boundary must be 1-70 printable ASCII characters/,
    );
  });
});

describe('isWholeJpeg', () => {
  it('accepts SOI ... EOI and rejects anything shorter or different', () => {
    assert.equal(isWholeJpeg(fakeJpeg(1)), true);
    assert.equal(isWholeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), true);
    assert.equal(isWholeJpeg(Buffer.from([0xff, 0xd8, 0xd9])), false);
    assert.equal(isWholeJpeg(Buffer.from([0xff, 0xd8, 0x00, 0x00, 0xff, 0xd8])), false);
  });
});
