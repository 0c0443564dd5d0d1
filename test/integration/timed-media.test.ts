/**
 * Cameras as awkward real ones are, through real ffmpeg and GStreamer RTSP cameras: H.264 main
 * with B-frames and AAC, G.711 A-law (20 ms packets), Opus, G.711 mu-law, a key frame every
 * 10 s, and a camera whose sound stops while its pictures go on. Sound is announced and passed
 * on to viewers that name its codec, on the pictures' clock; pictures keep the camera's timing
 * (decode times apart from presentation times with B-frames); a late joiner of the 10 s GOP gets
 * it whole; and a camera's sound stopping holds nothing back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import {
  type CameraInfo,
  decodeFrame,
  decodePayload,
  type Payload,
  type ServerMessage,
} from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

interface Received {
  at: number;
  payload: Payload;
}

interface Watcher {
  ws: WebSocket;
  received: Received[];
  messages: ServerMessage[];
  close(): void;
}

/** A viewer subscribing to `stream` with `subscribe`'s fields; keeps every payload and when it came. */
async function watch(
  url: string,
  stream: string,
  fields: Record<string, unknown>,
): Promise<Watcher> {
  const ws = new WebSocket(url);
  const watcher: Watcher = { ws, received: [], messages: [], close: () => ws.close() };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const message = JSON.parse(data.toString()) as ServerMessage;
      watcher.messages.push(message);
      if (message.type === 'hello')
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras: [stream], ...fields }));
      return;
    }
    const { payload } = decodeFrame(data);
    const read = decodePayload(payload);
    watcher.received.push({ at: performance.now(), payload: { ...read, data: read.data.slice() } });
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return watcher;
}

/** What `watcher` was told last of camera `id` (in hello or a state push). */
function latestInfo(watcher: Watcher, id: string): CameraInfo | undefined {
  let info: CameraInfo | undefined;
  for (const message of watcher.messages) {
    if (message.type === 'hello') info = message.cameras.find((camera) => camera.id === id) ?? info;
    if (message.type === 'state' && message.id === id) info = message;
  }
  return info;
}

const videos = (watcher: Watcher) =>
  watcher.received.flatMap(({ payload }) => (payload.kind === 'video' ? [payload] : []));
const sounds = (watcher: Watcher) =>
  watcher.received.flatMap(({ payload }) => (payload.kind === 'audio' ? [payload] : []));

describe('cameras with sound, B-frames and long GOPs, through real ffmpeg', () => {
  const cameras: Record<string, RtspCamera> = {};
  let camplex: CamplexProcess;

  before(async () => {
    const started = await Promise.all([
      startRtspCamera({ bframes: 2, audio: 'aac' }),
      startRtspCamera({ audio: 'pcma' }),
      startRtspCamera({ audio: 'opus' }),
      // A key frame every 10 s at 4 Mbit/s (snow does not compress): what the cache holds.
      startRtspCamera({ audio: 'pcmu', keyInterval: 150, bitrate: 4000, pattern: 'snow' }),
      // Its sound stops 6 s after it starts playing (the first viewer), its pictures go on.
      startRtspCamera({ audio: 'pcma', audioStopsAfter: 6 }),
    ]);
    [cameras.aac, cameras.pcma, cameras.opus, cameras.pcmu, cameras.silenced] = started;
    camplex = await startCamplexProcess({
      config: [
        'cameras:',
        ...Object.entries(cameras).map(([id, camera]) => `  ${id}: { url: "${camera.url()}" }`),
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
    await Promise.all(Object.values(cameras).map((camera) => camera.stop()));
  });

  /** The camera's info as the state pushes tell it, once it says `audio`. */
  async function infoOf(watcher: Watcher, id: string): Promise<CameraInfo> {
    let info: CameraInfo | undefined;
    await waitFor(
      () => {
        for (const message of watcher.messages) {
          if (message.type === 'state' && message.id === id && message.audio) info = message;
        }
        return info !== undefined;
      },
      { timeoutMs: 20_000, what: `${id} announcing its sound` },
    );
    return info as CameraInfo;
  }

  it('announces each camera’s sound: codec, rate, channels and the decoder’s configuration', async () => {
    const watchers = await Promise.all(
      ['aac', 'pcma', 'opus', 'pcmu'].map((id) => watch(camplex.wsUrl, id, { formats: ['h264'] })),
    );
    try {
      const [aac, pcma, opus, pcmu] = await Promise.all(
        watchers.map((watcher, i) => infoOf(watcher, ['aac', 'pcma', 'opus', 'pcmu'][i] as string)),
      );
      assert.deepEqual(aac?.audio, {
        codec: 'aac',
        rate: 44_100,
        channels: 1,
        codecString: 'mp4a.40.2',
        config: '120856e500',
      });
      assert.deepEqual(pcma?.audio, {
        codec: 'pcma',
        rate: 8000,
        channels: 1,
        codecString: 'alaw',
      });
      assert.deepEqual(opus?.audio?.codecString, 'opus');
      assert.equal(opus?.audio?.channels, 2);
      assert.deepEqual(pcmu?.audio, {
        codec: 'pcmu',
        rate: 8000,
        channels: 1,
        codecString: 'ulaw',
      });
      // None of them named a sound codec: no sound, and version 1's video layout.
      await waitFor(() => watchers.every((watcher) => watcher.received.length > 0), {
        timeoutMs: 20_000,
        what: 'a picture of each (the 10 s GOP camera waits for its key frame)',
      });
      for (const watcher of watchers) {
        assert.deepEqual(sounds(watcher), []);
        assert.ok(
          watcher.received.every(
            ({ payload }) =>
              payload.kind === 'video' && payload.decodeTimestamp === payload.timestamp,
          ),
        );
      }
    } finally {
      for (const watcher of watchers) watcher.close();
    }
  });

  it('passes the sound on to a viewer that names its codec, on the pictures’ clock', async () => {
    const watcher = await watch(camplex.wsUrl, 'aac', {
      formats: ['h264', 'aac'],
      decodeTimes: true,
    });
    try {
      await waitFor(() => sounds(watcher).length > 80 && videos(watcher).length > 45, {
        timeoutMs: 20_000,
        what: 'two seconds of pictures and sound',
      });
      assert.equal(latestInfo(watcher, 'aac')?.bframes, true, 'announced: B-frames');
      const heard = sounds(watcher);
      assert.ok(heard.every((frame) => frame.codec === 'aac' && frame.data.length > 0));
      // AAC frames are 1024 samples at 44.1 kHz: 23.2 ms apart on the camera's clock.
      const gaps = heard.slice(1).map((frame, i) => frame.timestamp - (heard[i]?.timestamp ?? 0));
      const median = [...gaps].sort((a, b) => a - b)[gaps.length >> 1] ?? 0;
      assert.ok(Math.abs(median - 23_220) < 100, `sound frames ${median} us apart`);
      // B-frames: pictures are decoded in one order and shown in another, 66.7 ms apart.
      const shown = videos(watcher);
      assert.ok(
        shown.some((unit) => unit.timestamp > unit.decodeTimestamp),
        `presentation after decoding: ${shown.map((unit) => unit.timestamp - unit.decodeTimestamp).join(' ')}`,
      );
      const decoded = shown.slice(-30).map((unit) => unit.decodeTimestamp);
      assert.ok(
        decoded.every((time, i) => i === 0 || time > (decoded[i - 1] ?? 0)),
        'decode order rises',
      );
      // Sound and pictures of one moment arrive together: their times agree within a few frames.
      const lastSound = heard.at(-1)?.timestamp ?? 0;
      const lastPicture = Math.max(...shown.slice(-5).map((unit) => unit.timestamp));
      assert.ok(
        Math.abs(lastSound - lastPicture) < 300_000,
        `sound ${lastSound} vs pictures ${lastPicture}`,
      );
    } finally {
      watcher.close();
    }
  });

  it('passes G.711 and Opus frames on as the cameras send them', async () => {
    const [pcma, opus] = await Promise.all([
      watch(camplex.wsUrl, 'pcma', { formats: ['h264', 'pcma'] }),
      watch(camplex.wsUrl, 'opus', { formats: ['h264', 'opus'] }),
    ]);
    try {
      await waitFor(() => sounds(pcma).length > 20 && sounds(opus).length > 20, {
        timeoutMs: 20_000,
        what: 'G.711 and Opus frames',
      });
      // 20 ms of A-law at 8 kHz: 160 one-byte samples a frame, on the camera's 20 ms grid. A
      // frame may be missing (sound waiting behind a full socket is dropped oldest first, and a
      // loaded machine makes the client slow), never retimed or cut differently. The test
      // camera's live packetizer may stamp a frame one sample (125 us) off its grid (seen once
      // in CI: one gap of 19,875 us); camplex passes its times on, in whole samples.
      const alaw = sounds(pcma).slice(0, 20);
      assert.ok(alaw.every((frame) => frame.codec === 'pcma' && frame.data.length === 160));
      const gaps = alaw.slice(1).map((frame, i) => frame.timestamp - (alaw[i]?.timestamp ?? 0));
      const onGrid = (gap: number) =>
        gap > 0 && gap % 125 === 0 && Math.abs(gap - Math.round(gap / 20_000) * 20_000) <= 125;
      assert.ok(
        gaps.every(onGrid) && gaps.some((gap) => Math.abs(gap - 20_000) < 100),
        `A-law frames ${gaps.join(', ')} µs apart; first at ${alaw[0]?.timestamp}`,
      );
      assert.ok(sounds(opus).every((frame) => frame.codec === 'opus'));
    } finally {
      pcma.close();
      opus.close();
    }
  });

  it('keeps the pictures going, unheld, when a camera’s sound stops', async () => {
    const watcher = await watch(camplex.wsUrl, 'silenced', { formats: ['h264', 'pcma'] });
    try {
      await waitFor(() => sounds(watcher).length > 0, { timeoutMs: 20_000, what: 'its sound' });
      await cameras.silenced?.audioStopped;
      const stoppedAt = performance.now();
      await waitFor(() => performance.now() - stoppedAt > 3000, { timeoutMs: 5000, what: '3 s' });
      const after = watcher.received.filter(
        ({ at, payload }) => at > stoppedAt && payload.kind === 'video',
      );
      // 15 fps for 3 s: about 45 pictures, none held back (ffmpeg's default would hold them 10 s).
      assert.ok(after.length > 35, `${after.length} pictures in the 3 s after the sound stopped`);
      const gaps = after.slice(1).map(({ at }, i) => at - (after[i]?.at ?? 0));
      assert.ok(Math.max(...gaps) < 500, `longest gap between pictures ${Math.max(...gaps)} ms`);
    } finally {
      watcher.close();
    }
  });

  it('gives a late joiner of a 10 s GOP every unit since the key unit at once, decode-only but the last', async () => {
    const first = await watch(camplex.wsUrl, 'pcmu', { formats: ['h264'] });
    try {
      // Well into the GOP: a first key unit, then 3 s of deltas.
      await waitFor(() => videos(first).length > 0, {
        timeoutMs: 20_000,
        what: 'the first key unit',
      });
      const keyAt = performance.now();
      await waitFor(() => performance.now() - keyAt > 3000, { timeoutMs: 5000, what: '3 s' });
      const late = await watch(camplex.wsUrl, 'pcmu', { formats: ['h264'] });
      try {
        await waitFor(() => videos(late).some((unit) => !unit.decodeOnly), {
          timeoutMs: 2000,
          what: 'the late joiner’s current picture',
        });
        const burst = videos(late);
        const current = burst.findIndex((unit) => !unit.decodeOnly);
        assert.equal(burst[0]?.key, true, 'it starts at the key unit');
        assert.ok(current >= 40, `${current} decode-only units before the current picture`);
        const span = late.received[current]?.at ?? 0;
        assert.ok(span - (late.received[0]?.at ?? 0) < 1000, 'all of it at once');
        // What the camera keeps for late joiners: the GOP so far, about 4 Mbit/s x its length
        // (x264 overshoots its rate a little), never more than the bound (32 MiB, 30 s).
        const metrics = await (await fetch(`${camplex.url}metrics`)).text();
        const cached = Number(/^camplex_cache_bytes\{camera="pcmu"\} (\d+)$/m.exec(metrics)?.[1]);
        const seconds = (performance.now() - keyAt) / 1000;
        assert.ok(
          cached > 1_000_000,
          `${cached} bytes cached after ${seconds.toFixed(1)} s of GOP`,
        );
        assert.ok(
          cached < seconds * 600_000,
          `${cached} bytes for ${seconds.toFixed(1)} s at 4 Mbit/s`,
        );
        // The memory holding them: a buffer grown by doubling to fit a whole GOP (10 s at under
        // 600 KB/s, as above), and the smaller ones a growth leaves until the next key frame:
        // at least what is kept, under 4 x the largest GOP.
        const memory = Number(
          /^camplex_cache_memory_bytes\{camera="pcmu"\} (\d+)$/m.exec(metrics)?.[1],
        );
        assert.ok(
          memory >= cached && memory <= 4 * 10 * 600_000,
          `${memory} bytes of memory for ${cached} bytes cached`,
        );
      } finally {
        late.close();
      }
    } finally {
      first.close();
    }
  });
});
