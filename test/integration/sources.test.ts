/**
 * Every kind of source through real ffmpeg: an HTTP MJPEG camera (a small server that writes
 * multipart/x-mixed-replace the way cameras do, with and without Content-Length), an HTTP
 * camera sending MPEG-TS (H.264 and ADTS AAC, copied), a video file, and the demo source.
 * MJPEG cameras must come out byte for byte as they went in.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { decodeFrame, decodePayload } from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';

const exifJpeg = readFileSync(new URL('../fixtures/exif-thumbnail.jpg', import.meta.url));

/** A fake network camera: loops `frames` at ~10 fps as multipart/x-mixed-replace. */
function startMjpegCamera(frames: Buffer[], withLength: boolean): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=myboundary' });
    let n = 0;
    const timer = setInterval(() => {
      const jpeg = frames[n++ % frames.length] as Buffer;
      const length = withLength ? `Content-Length: ${jpeg.length}\r\n` : '';
      res.write(`--myboundary\r\nContent-Type: image/jpeg\r\n${length}\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    }, 100);
    req.on('close', () => clearInterval(timer));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * A camera that serves MPEG-TS over HTTP (H.264, and AAC in ADTS as TS carries it): `clip`'s
 * bytes, paced to about `seconds` of real time, then the end of the response.
 */
function startTsCamera(clip: Buffer, seconds: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp2t' });
    const ticks = seconds * 10;
    const piece = Math.ceil(clip.length / ticks);
    let at = 0;
    const timer = setInterval(() => {
      res.write(clip.subarray(at, at + piece));
      at += piece;
      if (at >= clip.length) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    req.on('close', () => clearInterval(timer));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/video.mjpg`;
}

/** Subscribes to `camera` and collects the payloads of its first `count` frames. */
async function collectFrames(wsUrl: string, camera: string, count: number): Promise<Buffer[]> {
  const ws = new WebSocket(wsUrl);
  const frames: Buffer[] = [];
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) {
      if (JSON.parse(data.toString()).type === 'hello')
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras: [camera] }));
      return;
    }
    const frame = decodeFrame(data);
    if (frame.camera === camera) frames.push(Buffer.from(frame.payload));
  });
  try {
    await waitFor(() => frames.length >= count, {
      timeoutMs: 20_000,
      what: `${count} frames of ${camera}`,
    });
  } finally {
    ws.terminate();
  }
  return frames;
}

describe('camera sources through real ffmpeg', () => {
  let withLength: Server;
  let withoutLength: Server;
  let camplex: CamplexProcess;
  let dir: string;
  let otherJpeg: Buffer;
  let tsCamera: Server;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'camplex-sources-'));
    const video = join(dir, 'clip with space.mp4');
    const made = spawnSync('ffmpeg', [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x180:rate=10',
      '-t',
      '2',
      '-pix_fmt',
      'yuv420p',
      video,
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    otherJpeg = spawnSync(
      'ffmpeg',
      [
        '-loglevel',
        'error',
        '-f',
        'lavfi',
        '-i',
        'smptebars=size=320x180',
        '-frames:v',
        '1',
        '-f',
        'mjpeg',
        '-',
      ],
      { maxBuffer: 1 << 20 },
    ).stdout;
    const ts = spawnSync(
      'ffmpeg',
      [
        ...['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '8'],
        ...['-c:v', 'libx264', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts'],
        '-',
      ],
      { maxBuffer: 16 << 20 },
    );
    assert.equal(ts.status, 0, String(ts.stderr));
    tsCamera = await startTsCamera(ts.stdout, 8);
    withLength = await startMjpegCamera([exifJpeg, otherJpeg], true);
    withoutLength = await startMjpegCamera([otherJpeg], false);
    camplex = await startCamplexProcess({
      config: [
        'cameras:',
        '  mjpeg-cam:',
        `    url: ${urlOf(withLength)}`,
        '  mjpeg-nolength:',
        `    url: ${urlOf(withoutLength)}`,
        '  mjpeg-scaled:',
        `    url: ${urlOf(withLength)}`,
        '    width: 160',
        '  clip:',
        `    url: ${pathToFileURL(video).href}`,
        '  demo:',
        '    url: demo:5',
        '  ts-aac:',
        `    url: http://127.0.0.1:${(tsCamera.address() as AddressInfo).port}/live.ts`,
        '    codec: h264',
        '    audio: aac',
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
    withLength?.closeAllConnections();
    withLength?.close();
    withoutLength?.closeAllConnections();
    withoutLength?.close();
    tsCamera?.closeAllConnections();
    tsCamera?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes an MJPEG camera through byte for byte, EXIF thumbnail and all', async () => {
    const frames = await collectFrames(camplex.wsUrl, 'mjpeg-cam', 4);
    for (const frame of frames) {
      assert.ok(
        frame.equals(exifJpeg) || frame.equals(otherJpeg),
        `frame of ${frame.length} bytes was altered`,
      );
    }
    assert.ok(
      frames.some((frame) => frame.equals(exifJpeg)),
      'the EXIF JPEG came through whole',
    );
  });

  it('reads MJPEG parts that carry no Content-Length', async () => {
    const frames = await collectFrames(camplex.wsUrl, 'mjpeg-nolength', 3);
    for (const frame of frames) assert.ok(frame.equals(otherJpeg));
  });

  it('re-encodes an MJPEG camera when a width is configured', async () => {
    const [frame] = await collectFrames(camplex.wsUrl, 'mjpeg-scaled', 1);
    assert.ok(frame);
    assert.deepEqual(jpegSize(frame), { width: 160, height: 90 });
  });

  it('plays a video file in a loop', async () => {
    const frames = await collectFrames(camplex.wsUrl, 'clip', 25); // more than the 2 s clip holds
    assert.deepEqual(jpegSize(frames[0] as Buffer), { width: 320, height: 180 });
  });

  it("copies an HTTP camera's H.264 and its AAC sound sent as ADTS (MPEG-TS)", async () => {
    const ws = new WebSocket(camplex.wsUrl);
    const kinds: string[] = [];
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        if (JSON.parse(data.toString()).type === 'hello')
          ws.send(
            JSON.stringify({ cmd: 'subscribe', cameras: ['ts-aac'], formats: ['h264', 'aac'] }),
          );
        return;
      }
      const { payload } = decodeFrame(data);
      const read = decodePayload(payload);
      if (read.kind !== 'jpeg' && read.data.length > 0) kinds.push(`${read.kind} ${read.codec}`);
    });
    try {
      await waitFor(
        () => kinds.filter((k) => k === 'audio aac').length > 20 && kinds.includes('video h264'),
        { timeoutMs: 20_000, what: 'pictures and sound of ts-aac' },
      );
    } finally {
      ws.terminate();
    }
  });

  it('generates a demo camera', async () => {
    const [frame] = await collectFrames(camplex.wsUrl, 'demo', 1);
    assert.deepEqual(jpegSize(frame as Buffer), { width: 480, height: 270 });
  });
});

/** Reads width and height from a JPEG's SOF0/SOF2 segment. */
function jpegSize(jpeg: Buffer): { width: number; height: number } {
  let at = 2;
  while (at + 9 < jpeg.length) {
    const marker = jpeg[at + 1] as number;
    const length = jpeg.readUInt16BE(at + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  throw new Error('no SOF segment');
}
