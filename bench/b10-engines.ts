/**
 * B10 engines: a 16-camera wall in each browser engine (Chromium, Firefox, WebKit; driven as
 * the e2e tier drives them, support/engines.ts) at 1280x720, JPEG (10 fps, the recorded
 * demo cameras) and H.264 (15 fps, recorded 640x360 baseline, decoded by WebCodecs on
 * 127.0.0.1), each against the engine's bare-page floor in the same run: a page that does the
 * least a page can do to show the same pictures the same way (the recorded units fetched once,
 * then per tile and frame a Blob or a chunk, createImageBitmap or VideoDecoder, and the bitmap
 * handed to a `bitmaprenderer` canvas once per animation frame), with no socket, protocol,
 * acks or captions. camplex runs in this process with each camera's source replaced by its
 * recording (recorded-source.ts), so no ffmpeg or encoder takes the cores.
 *
 * Measured over `seconds` after every tile drew and 3 s of warm-up: pictures shown per tile per
 * second (the tiles' own `data-frames`), and the browser's CPU: every process under this one
 * except pulseaudio (WebKit's includes its Xvfb, which composites its window), per cent of one
 * core. Target: camplex shows at least 0.9x the floor's pictures in every engine.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../src/config/load.js';
import { startCamplex } from '../src/server.js';
import { ENGINES, type EngineName, type EnginePage, openPage } from '../support/engines.js';
import { descendantPids } from '../support/processes.js';
import { recordedFrames, toMpjpeg } from './lib/frames.js';
import { H264_FPS, recordedH264 } from './lib/h264-frames.js';
import { recordedSources, UNUSED_FFMPEG } from './lib/recorded-source.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const CAMERAS = 16;
const JPEG_FPS = 10;
const VIEWPORT = { width: 1280, height: 720 };
const WARM_UP_MS = 3000;
const DRAW_TIMEOUT_MS = 30_000;
const TARGET_SHARE = 0.9;
const TICKS_PER_SECOND = 100;

type Codec = 'jpeg' | 'h264';

interface Media {
  /** Per camera: its units, each with whether a decoder can start there. */
  units: Array<Array<{ data: Buffer; key: boolean }>>;
  fps: number;
  codecString?: string;
}

/** Each tile's pictures so far, the same expression for camplex's page and the floor's. */
const FRAMES = `[...document.querySelectorAll('[data-camera]')].map((tile) => Number(tile.dataset.frames))`;

/** The bare page: 16 tiles, each drawing its camera's recording at the camera's rate. */
const FLOOR_PAGE = `<!doctype html><meta charset="utf-8"><title>B10 floor</title>
<style>body{margin:0;background:#101214}#grid{display:grid;grid-template-columns:repeat(4,1fr);
gap:6px;padding:6px}figure{margin:0;background:#000;aspect-ratio:16/9}
canvas{width:100%;height:100%;object-fit:contain;display:block}</style><div id="grid"></div>
<script type="module">
const params = new URLSearchParams(location.search);
const codec = params.get('codec');
const fps = Number(params.get('fps'));
const codecString = params.get('codecString');
const grid = document.getElementById('grid');
async function tile(n) {
  const figure = document.createElement('figure');
  figure.dataset.camera = 'demo-' + String(n + 1).padStart(2, '0');
  figure.dataset.frames = '0';
  const canvas = document.createElement('canvas');
  figure.append(canvas);
  grid.append(figure);
  const renderer = canvas.getContext('bitmaprenderer');
  const body = new Uint8Array(await (await fetch('/media/' + n)).arrayBuffer());
  const view = new DataView(body.buffer);
  const units = [];
  for (let at = 0; at < body.length; ) {
    const length = view.getUint32(at);
    units.push({ key: body[at + 4] === 1, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  let frames = 0, ready, scheduled = false, busy = false, waiting;
  const show = (bitmap) => {
    ready?.close();
    ready = bitmap;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (!ready) return;
      if (canvas.width !== ready.width || canvas.height !== ready.height) {
        canvas.width = ready.width;
        canvas.height = ready.height;
      }
      renderer.transferFromImageBitmap(ready);
      ready = undefined;
      figure.dataset.frames = String(++frames);
    });
  };
  const next = async () => {
    if (busy || !waiting) return;
    const source = waiting;
    waiting = undefined;
    busy = true;
    try {
      const bitmap = await createImageBitmap(source);
      if (source.close) source.close();
      show(bitmap);
    } finally {
      busy = false;
      next();
    }
  };
  const take = (source) => {
    if (waiting?.close) waiting.close();
    waiting = source;
    next();
  };
  let decoder;
  if (codec === 'h264') {
    decoder = new VideoDecoder({ output: take, error: (e) => console.error(e) });
    decoder.configure({ codec: codecString, optimizeForLatency: true });
  }
  let index = 0, timestamp = 0;
  setTimeout(() => setInterval(() => {
    const unit = units[index++ % units.length];
    if (codec === 'jpeg') take(new Blob([unit.data], { type: 'image/jpeg' }));
    else decoder.decode(new EncodedVideoChunk({ type: unit.key ? 'key' : 'delta', timestamp: (timestamp += 1e6 / fps), data: unit.data }));
  }, 1000 / fps), (n * 1000) / fps / 16);
}
for (let n = 0; n < 16; n++) tile(n);
</script>`;

/** `[u32 length][u8 key][bytes]` per unit: one camera's recording for the floor page. */
function mediaBody(units: ReadonlyArray<{ data: Buffer; key: boolean }>): Buffer {
  const parts: Buffer[] = [];
  for (const unit of units) {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(unit.data.length, 0);
    head.writeUInt8(unit.key ? 1 : 0, 4);
    parts.push(head, unit.data);
  }
  return Buffer.concat(parts);
}

async function startFloorServer(media: Media): Promise<{ url: string; server: Server }> {
  const bodies = media.units.map(mediaBody);
  const server = createServer((request, response) => {
    const match = /^\/media\/(\d+)$/.exec(request.url ?? '');
    const body = match ? bodies[Number(match[1])] : undefined;
    if (body) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(body);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(FLOOR_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server };
}

/** CPU seconds of every process under this one, but pulseaudio, by pid. */
function browserCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of descendantPids(process.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      if (name === 'pulseaudio') continue;
      const fields = stat.slice(close + 2).split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
    } catch {
      // gone meanwhile
    }
  }
  return cpu;
}

interface Run {
  /** Pictures per tile per second: mean over the tiles, and the slowest tile's. */
  perTile: number;
  slowest: number;
  /** Per cent of one core. */
  cpu: number;
}

async function measure(page: EnginePage, seconds: number): Promise<Run> {
  await page.waitFor(`(${FRAMES}).length === ${CAMERAS} && (${FRAMES}).every((n) => n > 5)`, {
    timeoutMs: DRAW_TIMEOUT_MS,
    what: `every tile drawing in ${page.engine}`,
  });
  await delay(WARM_UP_MS);
  const cpuBefore = browserCpu();
  const before = await page.evaluate<number[]>(FRAMES);
  const startedAt = performance.now();
  await delay(seconds * 1000);
  const after = await page.evaluate<number[]>(FRAMES);
  const elapsed = (performance.now() - startedAt) / 1000;
  const cpuAfter = browserCpu();
  let cpuSeconds = 0;
  for (const [pid, end] of cpuAfter) cpuSeconds += end - (cpuBefore.get(pid) ?? end);
  const rates = after.map((n, i) => (n - (before[i] ?? 0)) / elapsed);
  return {
    perTile: rates.reduce((a, b) => a + b, 0) / rates.length,
    slowest: Math.min(...rates),
    cpu: (100 * cpuSeconds) / elapsed,
  };
}

async function streamAll(page: EnginePage): Promise<void> {
  await page.waitFor(`document.querySelectorAll('[data-camera]').length === ${CAMERAS}`, {
    timeoutMs: DRAW_TIMEOUT_MS,
    what: `the tiles in ${page.engine}`,
  });
  if (await page.evaluate<boolean>(`!document.querySelector('#stream-all').disabled`)) {
    await page.click('#stream-all');
  }
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 5 : options.seconds;
  const log = (line: string) => process.stderr.write(`B10 ${line}\n`);
  const jpeg = await recordedFrames();
  const h264 = await recordedH264();
  const media: Record<Codec, Media> = {
    jpeg: {
      units: jpeg.map((camera) => camera.frames.map((data) => ({ data, key: true }))),
      fps: JPEG_FPS,
    },
    h264: {
      units: h264.map((camera) => camera.units),
      fps: H264_FPS,
      codecString: h264[0]?.codecString,
    },
  };
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  const quiet = pino({ level: 'warn', base: { name: 'camplex-b10' } }, pino.destination(2));
  for (const codec of ['jpeg', 'h264'] as const) {
    const { fps } = media[codec];
    const config = parseConfig('', 'B10', { demo: CAMERAS, port: 0 });
    const parts = new Map<string, Buffer[]>();
    config.cameras.forEach((camera, index) => {
      const units = media[codec].units[index % media[codec].units.length] ?? [];
      parts.set(
        camera.id,
        units.map((unit) => (codec === 'jpeg' ? toMpjpeg(unit.data) : unit.data)),
      );
    });
    const camplex = await startCamplex({
      config,
      ffmpeg: UNUSED_FFMPEG,
      log: quiet,
      publicDir: fileURLToPath(new URL('../dist/public/', import.meta.url)),
      launchSource: recordedSources(parts, fps, codec === 'jpeg' ? 'mpjpeg' : 'h264').launch,
    });
    const floor = await startFloorServer(media[codec]);
    const floorUrl = `${floor.url}?codec=${codec}&fps=${fps}&codecString=${media[codec].codecString ?? ''}`;
    try {
      for (const engine of ENGINES) {
        const runs: Partial<Record<'camplex' | 'floor', Run>> = {};
        for (const side of ['camplex', 'floor'] as const) {
          const page = await openPage(engine, { viewport: VIEWPORT });
          try {
            if (side === 'camplex') {
              await page.goto(`http://127.0.0.1:${camplex.port}/`);
              await streamAll(page);
            } else {
              await page.goto(floorUrl);
            }
            runs[side] = await measure(page, seconds);
            if (side === 'camplex' && codec === 'h264') {
              const decoders = await page.evaluate<string[]>(
                `[...document.querySelectorAll('[data-camera]')].map((t) => t.dataset.decoder)`,
              );
              notes.push(`${engine} H.264 tiles drawn by ${[...new Set(decoders)].join(', ')}`);
            }
          } finally {
            await page.close();
          }
          log(`${engine} ${codec} ${side}: ${JSON.stringify(runs[side])}`);
        }
        figures.push(...figuresOf(engine, codec, fps, runs as Record<'camplex' | 'floor', Run>));
      }
    } finally {
      await camplex.close();
      await new Promise((resolve) => floor.server.close(resolve));
    }
  }
  notes.push(
    `16 tiles at ${VIEWPORT.width}x${VIEWPORT.height}; JPEG ${JPEG_FPS} fps (recorded demo cameras), ` +
      `H.264 ${H264_FPS} fps (recorded 640x360 constrained baseline, 1 s GOP, ~1 Mbit/s); ` +
      `${seconds} s after every tile drew and ${WARM_UP_MS / 1000} s of warm-up; one fresh browser per run.`,
    'CPU: every process under the bench process but pulseaudio (the browser, its helpers, and for WebKit its Xvfb), % of one core.',
  );
  return {
    id: 'B10',
    title: "Engines: a 16-camera wall in Chromium, Firefox and WebKit against each one's bare page",
    figures,
    notes,
  };
}

function figuresOf(
  engine: EngineName,
  codec: Codec,
  fps: number,
  runs: Record<'camplex' | 'floor', Run>,
): BenchFigure[] {
  const what = `${engine}, 16 ${codec === 'jpeg' ? 'JPEG' : 'H.264'} tiles at ${fps} fps`;
  const ratio = runs.camplex.perTile / runs.floor.perTile;
  return [
    {
      name: `pictures/s per tile, ${what} (slowest tile ${round(runs.camplex.slowest)} vs ${round(runs.floor.slowest)})`,
      value: round(runs.camplex.perTile),
      unit: 'fps',
      baseline: round(runs.floor.perTile),
      ratio: round(ratio, 2),
      target: `>= ${TARGET_SHARE} x bare page`,
      met: ratio >= TARGET_SHARE,
    },
    {
      name: `browser CPU, ${what}`,
      value: round(runs.camplex.cpu),
      unit: '% core',
      baseline: round(runs.floor.cpu),
      ratio: round(runs.camplex.cpu / runs.floor.cpu, 2),
    },
  ];
}
