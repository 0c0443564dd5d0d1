/**
 * H.264 straight through, with a real GStreamer RTSP camera: a viewer that decodes H.264 gets
 * the camera's access units as they came (key units with their parameter sets, a late joiner
 * the units since the last key unit, all but the last decode-only), while a JPEG-only viewer,
 * an MJPEG response and a snapshot are served at the same time by one transcoder fed the copied
 * stream. The camera sees ONE RTSP session throughout, counted at the camera; the transcoder
 * stops once the last JPEG consumer left (after the grace period), the copy goes on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import {
  type CameraInfo,
  decodeFrame,
  decodeVideo,
  type ServerMessage,
  type VideoUnit,
} from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const GRACE_SECONDS = 2;

interface Watcher {
  ws: WebSocket;
  units: VideoUnit[];
  jpegs: number;
  messages: ServerMessage[];
}

/** A viewer that subscribes to `stream` naming `formats`, and keeps what it gets. */
async function watch(url: string, formats?: string[], stream = 'door'): Promise<Watcher> {
  const ws = new WebSocket(url);
  const watcher: Watcher = { ws, units: [], jpegs: 0, messages: [] };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const message = JSON.parse(data.toString()) as ServerMessage;
      watcher.messages.push(message);
      if (message.type === 'hello') {
        ws.send(
          JSON.stringify({ cmd: 'subscribe', cameras: [stream], ...(formats ? { formats } : {}) }),
        );
      }
      return;
    }
    const { camera, payload } = decodeFrame(data);
    assert.equal(camera, stream, 'frames are named by the stream subscribed');
    const unit = decodeVideo(payload);
    if (unit) watcher.units.push({ ...unit, data: unit.data.slice() });
    else if (payload[0] === 0xff && payload[1] === 0xd8) watcher.jpegs++;
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return watcher;
}

/** NAL unit types of an Annex B H.264 access unit. */
function nalTypes(unit: Uint8Array): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < unit.length; i++) {
    if (unit[i] === 0 && unit[i + 1] === 0 && unit[i + 2] === 1)
      types.push((unit[i + 3] ?? 0) & 0x1f);
  }
  return types;
}

/** camplex's ffmpeg children: those pulling the camera, and JPEG transcoders reading stdin. */
function ffmpegs(root: number): { sources: number; transcoders: number } {
  const lines = descendantPids(root).map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return '';
    }
  });
  const all = lines.filter((line) => /(^|\/)ffmpeg /.test(line));
  const transcoders = all.filter((line) => line.includes('-i pipe:0')).length;
  return { sources: all.length - transcoders, transcoders };
}

/** The first part of an endless MJPEG response, then the request is dropped. */
function mjpegStart(
  url: string,
): Promise<{ contentType: string; close: () => void; jpeg: () => boolean }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const request = get(url, (res) => {
      res.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]).subarray(-65536);
      });
      resolve({
        contentType: String(res.headers['content-type']),
        close: () => request.destroy(),
        jpeg: () =>
          received.includes(Buffer.from([0xff, 0xd8])) &&
          received.includes(Buffer.from([0xff, 0xd9])),
      });
    });
    request.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
  });
}

describe('H.264 passthrough with one camera connection', () => {
  let camera: RtspCamera;
  /** The porch camera's two streams, served by two GStreamer cameras of different sizes. */
  let porchMain: RtspCamera;
  let porchSub: RtspCamera;
  let camplex: CamplexProcess;
  const open: WebSocket[] = [];

  before(async () => {
    camera = await startRtspCamera({ width: 640, height: 360, fps: 15 });
    porchMain = await startRtspCamera({ width: 640, height: 360, fps: 15 });
    porchSub = await startRtspCamera({ width: 320, height: 180, fps: 15 });
    camplex = await startCamplexProcess({
      config: [
        'stream:',
        `  graceSeconds: ${GRACE_SECONDS}`,
        'cameras:',
        '  door:',
        `    url: ${camera.url()}`,
        '    width: 320',
        '  porch:',
        `    url: ${porchMain.url()}`,
        `    substream: ${porchSub.url()}`,
        '    codec: h264',
      ].join('\n'),
    });
  });

  after(async () => {
    for (const ws of open) ws.terminate();
    await camplex?.stop();
    await camera?.stop();
    await porchMain?.stop();
    await porchSub?.stop();
  });

  it('sends a decoding viewer the camera H.264, key units with their parameter sets', async () => {
    const video = await watch(camplex.wsUrl, ['h264', 'jpeg']);
    open.push(video.ws);
    await waitFor(() => video.units.length >= 30, { timeoutMs: 20_000, what: '30 access units' });
    assert.equal(video.jpegs, 0);
    assert.ok(video.units.every((unit) => unit.codec === 'h264'));
    const keys = video.units.filter((unit) => unit.key);
    assert.ok(keys.length >= 1, 'a key unit');
    for (const unit of keys) assert.deepEqual(nalTypes(unit.data).slice(0, 3), [9, 7, 8]);
    for (const unit of video.units)
      assert.equal(nalTypes(unit.data)[0], 9, 'each unit starts with its delimiter');
    const live = video.messages.filter(
      (m) => m.type === 'state' && m.state === 'live',
    ) as CameraInfo[];
    const info = live.at(-1);
    assert.equal(info?.codec, 'h264');
    assert.match(info?.codecString ?? '', /^avc1\.[0-9A-F]{6}$/);
    assert.deepEqual(
      [info?.width, info?.height],
      [640, 360],
      'the camera size: width shapes JPEG only',
    );
    assert.deepEqual(
      ffmpegs(camplex.pid),
      { sources: 1, transcoders: 0 },
      'no transcoder without JPEG viewers',
    );
  });

  it('serves JPEG viewers, MJPEG and a snapshot from one transcoder, the camera seeing one session', async () => {
    camera.takeMaxSessions();
    const jpeg = await watch(camplex.wsUrl);
    open.push(jpeg.ws);
    const mjpeg = await mjpegStart(`${camplex.url}mjpeg/door`);
    try {
      assert.match(mjpeg.contentType, /^multipart\/x-mixed-replace/);
      const snapshot = await fetch(`${camplex.url}snapshot/door.jpg`);
      assert.equal(snapshot.status, 200);
      assert.equal(snapshot.headers.get('content-type'), 'image/jpeg');
      const bytes = new Uint8Array(await snapshot.arrayBuffer());
      assert.deepEqual([bytes[0], bytes[1]], [0xff, 0xd8]);
      await waitFor(() => jpeg.jpegs >= 10 && mjpeg.jpeg(), {
        timeoutMs: 15_000,
        what: 'JPEGs over the socket and MJPEG',
      });
      assert.deepEqual(ffmpegs(camplex.pid), { sources: 1, transcoders: 1 });
      assert.equal(camera.sessions(), 1);
      assert.equal(camera.takeMaxSessions(), 1, 'never a second session for JPEG');
    } finally {
      mjpeg.close();
    }
    jpeg.ws.close();
    await waitFor(() => ffmpegs(camplex.pid).transcoders === 0, {
      timeoutMs: GRACE_SECONDS * 1000 + 10_000,
      what: 'the transcoder to stop after the last JPEG consumer',
    });
    assert.equal(ffmpegs(camplex.pid).sources, 1, 'the copy goes on for the video viewer');
  });

  it('starts a late joiner at the last key unit: all but the last decode-only', async () => {
    const late = await watch(camplex.wsUrl, ['h264']);
    open.push(late.ws);
    await waitFor(() => late.units.length >= 5, {
      timeoutMs: 10_000,
      what: 'a late joiner to get units',
    });
    const [first] = late.units;
    assert.equal(first?.key, true, 'the first unit is a key unit');
    const burst = late.units.slice(0, late.units.findIndex((unit) => !unit.decodeOnly) + 1);
    assert.ok(burst.slice(0, -1).every((unit) => unit.decodeOnly));
    assert.ok(
      late.units.slice(burst.length).every((unit) => !unit.decodeOnly),
      'live units are shown',
    );
  });

  it('streams a sub-stream by its own name, without touching the main stream', async () => {
    const sub = await watch(camplex.wsUrl, ['h264'], 'porch@sub');
    open.push(sub.ws);
    await waitFor(() => sub.units.length >= 5, {
      timeoutMs: 20_000,
      what: 'units of porch@sub',
    });
    const hello = sub.messages.find((m) => m.type === 'hello');
    const porch = hello?.type === 'hello' ? hello.cameras.find((c) => c.id === 'porch') : undefined;
    assert.equal(porch?.substream?.id, 'porch@sub', 'hello announces the sub-stream');
    const live = sub.messages.filter(
      (m) => m.type === 'state' && m.id === 'porch' && m.substream?.state === 'live',
    ) as CameraInfo[];
    const info = live.at(-1);
    assert.equal(info?.state, 'idle', 'the main stream is not started for the sub-stream');
    assert.deepEqual([info?.substream?.width, info?.substream?.height], [320, 180]);
    assert.equal(porchMain.sessions(), 0);
    assert.equal(porchSub.sessions(), 1);
    const snapshot = await fetch(`${camplex.url}snapshot/porch@sub.jpg`);
    assert.equal(snapshot.status, 200);
    assert.equal(snapshot.headers.get('content-type'), 'image/jpeg');
  });
});
