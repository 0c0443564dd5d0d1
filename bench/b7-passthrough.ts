/**
 * B7 H.264 passthrough: real RTSP H.264 cameras to one Chromium tab, three ways over the same
 * cameras and the same browser, one after the other: camplex copying the cameras' H.264 to the
 * tab (decoded there by WebCodecs), camplex as it was before (`codec: jpeg`: one ffmpeg per
 * camera decoding H.264 and encoding JPEG) and rtsp-relay (H.264 to MPEG1, JSMpeg in the page).
 * Server CPU is that of the server process and its ffmpeg children over one window, divided by
 * the frames the server sent (camplex: /metrics; rtsp-relay: frames JSMpeg decoded). A second,
 * small run at 640x360 gives the share of frames the tab draws, where software decoding in
 * headless Chromium is not the limit, and the latency from camplex to a drawn picture, for each
 * of the browser's decoders over the same cameras: WebCodecs (the page at 127.0.0.1, a secure
 * context), Media Source Extensions (the page at http://camplex.test, mapped to loopback: not a
 * secure context, so no WebCodecs) and JPEG (the same insecure page with MSE taken away, as in a
 * browser that plays no H.264: camplex transcodes the copy for it).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../support/browser.js';
import { startCamplexProcess } from '../support/camplex.js';
import { type RtspCamera, startRtspCamera } from '../support/rtsp.js';
import { relaySide } from './b6/relay.js';
import { childrenMatching, descendantsRunning } from './lib/cpu.js';
import {
  clickStreamAll,
  loadAverage,
  measureWindow,
  openDashboard,
  type Side,
} from './lib/dashboard.js';
import { percentile, round, sum } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const FPS = 15;
/**
 * What the cameras show. The tests' moving ball on black costs a transcoder almost nothing, so
 * B7 uses GStreamer's colour bars (flat areas, static: cheap to transcode, a conservative
 * baseline) and a moving zone plate (fine detail everywhere, always changing: closer to a real
 * camera's textured, noisy picture, and dearer to transcode).
 */
const PATTERNS = { bars: 'smpte', detail: 'zone-plate kx2=20 ky2=20 kt=1' } as const;
type Pattern = keyof typeof PATTERNS;
const FFMPEG = '/usr/bin/ffmpeg';
const CODEC_TIMEOUT_MS = 30_000;
/** An origin that is not a secure context, resolved to loopback by Chromium itself. */
const INSECURE_HOST = 'camplex.test';

/** What plays video in the tab: the page's decoder ladder, steered by origin and features. */
type Decoder = 'webcodecs' | 'mse' | 'jpeg';

interface Size {
  width: number;
  height: number;
}

interface CamplexSide extends Side {
  /** Frames camplex handed to the tab over the window, from /metrics. */
  sent: number;
  /** ms from camplex cutting a unit to the tab showing its picture, sorted (video only). */
  latencies: number[];
  /** ms from a JPEG reaching the tab to the tab drawing it, sorted (JPEG only). */
  arrivalToDrawn: number[];
}

interface Run {
  chromium: LaunchedChromium;
  browserPid: number;
  camera: RtspCamera;
  urls: string[];
  seconds: number;
  warmupMs: number;
}

/** Runs B7: passthrough, transcode and rtsp-relay at full HD, then passthrough at 640x360. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const cameras = options.quick ? 2 : 4;
  const big: Size = options.quick ? { width: 1280, height: 720 } : { width: 1920, height: 1080 };
  const small: Size = { width: 640, height: 360 };
  const warmupMs = options.quick ? 2_000 : 3_000;
  const loadBefore = loadAverage();
  let chromium: LaunchedChromium | undefined;
  try {
    chromium = await launchChromium([`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`]);
    // tsx wraps named inner functions of page.evaluate callbacks in a Node-only `__name` helper.
    await chromium.context.addInitScript('globalThis.__name = (target) => target;');
    const browserPid = childrenMatching(process.pid, 'chromium')[0];
    if (browserPid === undefined) throw new Error('cannot find the Chromium process');
    const browser = chromium;
    const at = (size: Size, pattern: Pattern, work: (run: Run) => Promise<void>) =>
      withCameras(cameras, size, pattern, async (camera, urls) =>
        work({ chromium: browser, browserPid, camera, urls, seconds: options.seconds, warmupMs }),
      );
    let copy: CamplexSide | undefined;
    let transcode: CamplexSide | undefined;
    let relay: Side | undefined;
    let copyDetail: CamplexSide | undefined;
    let transcodeDetail: CamplexSide | undefined;
    let copySmall: CamplexSide | undefined;
    let mseSmall: CamplexSide | undefined;
    let jpegSmall: CamplexSide | undefined;
    await at(big, 'bars', async (run) => {
      copy = await camplexSide(run, 'h264');
      transcode = await camplexSide(run, 'jpeg');
      relay = await relaySide(
        run.chromium,
        run.urls,
        { browserPid: run.browserPid, cameraPid: run.camera.pid },
        run.seconds,
        run.warmupMs,
      );
    });
    await at(big, 'detail', async (run) => {
      copyDetail = await camplexSide(run, 'h264');
      transcodeDetail = await camplexSide(run, 'jpeg');
    });
    await at(small, 'bars', async (run) => {
      copySmall = await camplexSide(run, 'h264');
      mseSmall = await camplexSide(run, 'h264', 'mse');
      jpegSmall = await camplexSide(run, 'h264', 'jpeg');
    });
    if (!copy || !transcode || !relay || !copyDetail || !transcodeDetail || !copySmall) {
      throw new Error('a side did not run');
    }
    if (!mseSmall || !jpegSmall) throw new Error('a decoder side did not run');
    return report({
      cameras,
      big,
      small,
      copy,
      transcode,
      relay,
      copyDetail,
      transcodeDetail,
      copySmall,
      mseSmall,
      jpegSmall,
      loadBefore,
    });
  } finally {
    await chromium?.close();
  }
}

async function withCameras(
  count: number,
  size: Size,
  pattern: Pattern,
  work: (camera: RtspCamera, urls: string[]) => Promise<void>,
): Promise<void> {
  const paths = Array.from({ length: count }, (_, i) => `/cam${i + 1}`);
  const camera = await startRtspCamera({ paths, fps: FPS, pattern: PATTERNS[pattern], ...size });
  try {
    await work(
      camera,
      paths.map((path) => camera.url(path)),
    );
  } finally {
    await camera.stop();
  }
}

/**
 * camplex with every camera as `codec` (h264: copied; jpeg: transcoded by the camera's own
 * ffmpeg, as before passthrough), the dashboard streaming them all and playing them with
 * `decoder` (for h264; a `jpeg` page makes camplex transcode the copy for it).
 */
async function camplexSide(
  run: Run,
  codec: 'h264' | 'jpeg',
  decoder: Decoder = codec === 'h264' ? 'webcodecs' : 'jpeg',
): Promise<CamplexSide> {
  const config = [
    `server: { host: 127.0.0.1, port: 0, allowedHosts: [${INSECURE_HOST}] }`,
    'cameras:',
    ...run.urls.map((url, i) => `  cam${i + 1}: { url: "${url}", codec: ${codec} }`),
    '',
  ].join('\n');
  const camplex = await startCamplexProcess({ config });
  const page = await run.chromium.context.newPage();
  try {
    await recordLatencies(page);
    if (decoder === 'jpeg' && codec === 'h264') await takeAwayMse(page);
    const url = new URL(camplex.url);
    if (decoder !== 'webcodecs') url.hostname = INSECURE_HOST;
    await openDashboard(page, url.href, run.urls.length);
    const firstAllMs = await clickStreamAll(page);
    await page.waitForFunction(
      ({ count, decoder }) =>
        document.querySelectorAll(`[data-camera][data-decoder="${decoder}"]`).length === count,
      { count: run.urls.length, decoder },
      { timeout: CODEC_TIMEOUT_MS },
    );
    await delay(run.warmupMs);
    const readDrawn = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].map((tile) =>
          Number(tile.dataset.frames),
        ),
      );
    const sentBefore = await framesSent(camplex.url);
    await page.evaluate(() => {
      const recorded = globalThis as unknown as Recorded;
      recorded.latencies.length = 0;
      recorded.arrivalToDrawn.length = 0;
    });
    const measured = await measureWindow(
      {
        browserPid: run.browserPid,
        cameraPid: run.camera.pid,
        serverPid: camplex.pid,
        page,
        readDrawn,
      },
      run.seconds,
    );
    const sent = (await framesSent(camplex.url)) - sentBefore;
    const recorded = await page.evaluate(() => {
      const { latencies, arrivalToDrawn } = globalThis as unknown as Recorded;
      return { latencies, arrivalToDrawn };
    });
    return {
      ...measured,
      firstAllMs,
      sent,
      latencies: recorded.latencies.sort((a, b) => a - b),
      arrivalToDrawn: recorded.arrivalToDrawn.sort((a, b) => a - b),
      ffmpegs: descendantsRunning(camplex.pid, FFMPEG).length,
      detail: `${codec === 'h264' ? 'passthrough' : 'transcode'}, ${decoder}`,
    };
  } finally {
    await page.close();
    await camplex.stop();
  }
}

interface Recorded {
  latencies: number[];
  arrivalToDrawn: number[];
}

/**
 * Notes how old each picture a tile shows is, from the tile's `camplex-picture` event: for
 * video, since camplex cut its unit from ffmpeg's output (the unit's timestamp, microseconds of
 * this same machine's clock); for JPEG, which carries no timestamp, since it reached the tab.
 */
async function recordLatencies(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const recorded: Recorded = { latencies: [], arrivalToDrawn: [] };
    Object.assign(globalThis, recorded);
    document.addEventListener(
      'camplex-picture',
      (event) => {
        const { cutAt, arrivedAt } = (event as CustomEvent<{ cutAt?: number; arrivedAt?: number }>)
          .detail;
        const now = Date.now();
        if (recorded.latencies.length + recorded.arrivalToDrawn.length > 100_000) return;
        if (cutAt !== undefined) recorded.latencies.push(now - cutAt);
        if (arrivedAt !== undefined) recorded.arrivalToDrawn.push(now - arrivedAt);
      },
      true,
    );
  });
}

/** Makes the page a browser without Media Source Extensions (nor WebCodecs, being insecure). */
async function takeAwayMse(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const scope = globalThis as { MediaSource?: unknown; ManagedMediaSource?: unknown };
    delete scope.MediaSource;
    delete scope.ManagedMediaSource;
  });
}

/** camplex_frames_sent_total over every camera. */
async function framesSent(base: string): Promise<number> {
  const response = await fetch(new URL('/metrics', base));
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  let total = 0;
  for (const line of (await response.text()).split('\n')) {
    if (line.startsWith('camplex_frames_sent_total{')) total += Number(line.split(' ').at(-1));
  }
  return total;
}

interface Sides {
  cameras: number;
  big: Size;
  small: Size;
  copy: CamplexSide;
  transcode: CamplexSide;
  relay: Side;
  copyDetail: CamplexSide;
  transcodeDetail: CamplexSide;
  copySmall: CamplexSide;
  mseSmall: CamplexSide;
  jpegSmall: CamplexSide;
  loadBefore: string;
}

function report(sides: Sides): BenchResult {
  const { cameras, big, small, copy, transcode, relay, copyDetail, transcodeDetail, copySmall } =
    sides;
  const { mseSmall, jpegSmall } = sides;
  const pct = (cpu: number, side: Side) => (100 * cpu) / side.wallSeconds;
  const msPerFrame = (side: Side, frames: number) => (1000 * side.serverCpu) / Math.max(1, frames);
  const drawnShare = (side: CamplexSide) => sum(side.drawn) / Math.max(1, side.sent);
  const size = (s: Size) => `${s.width}x${s.height}`;
  const copyMs = msPerFrame(copy, copy.sent);
  const transcodeMs = msPerFrame(transcode, transcode.sent);
  const relayMs = msPerFrame(relay, sum(relay.drawn));
  const copyDetailMs = msPerFrame(copyDetail, copyDetail.sent);
  const transcodeDetailMs = msPerFrame(transcodeDetail, transcodeDetail.sent);
  const figures: BenchFigure[] = [
    {
      name: `server CPU per frame sent, passthrough vs transcode, ${cameras} x ${size(big)} bars`,
      unit: 'ms',
      value: round(copyMs, 3),
      baseline: round(transcodeMs, 3),
      ratio: round(copyMs / transcodeMs, 3),
      target: '<= 0.05 x transcode',
      met: copyMs <= 0.05 * transcodeMs,
    },
    {
      name: `same, moving zone plate (detail everywhere)`,
      unit: 'ms',
      value: round(copyDetailMs, 3),
      baseline: round(transcodeDetailMs, 3),
      ratio: round(copyDetailMs / transcodeDetailMs, 3),
      target: '<= 0.05 x transcode',
      met: copyDetailMs <= 0.05 * transcodeDetailMs,
    },
    {
      name: `server CPU per frame, passthrough vs rtsp-relay (per frame JSMpeg decoded)`,
      unit: 'ms',
      value: round(copyMs, 3),
      baseline: round(relayMs, 3),
      ratio: round(copyMs / relayMs, 3),
    },
    {
      name: `server CPU per camera, passthrough vs transcode, ${size(big)}`,
      unit: '% of a core',
      value: round(pct(copy.serverCpu, copy) / cameras, 2),
      baseline: round(pct(transcode.serverCpu, transcode) / cameras, 2),
      ratio: round(
        copy.serverCpu / copy.wallSeconds / (transcode.serverCpu / transcode.wallSeconds),
        3,
      ),
    },
    {
      name: `browser CPU, whole Chromium, passthrough vs transcode, ${size(big)}`,
      unit: '% of a core',
      value: round(pct(copy.browserCpu, copy), 1),
      baseline: round(pct(transcode.browserCpu, transcode), 1),
      ratio: round(
        copy.browserCpu / copy.wallSeconds / (transcode.browserCpu / transcode.wallSeconds),
        2,
      ),
    },
    {
      name: `share of frames sent that the tab drew, passthrough, ${cameras} x ${size(small)}`,
      unit: 'share',
      value: round(drawnShare(copySmall), 3),
      target: '>= 0.9',
      met: drawnShare(copySmall) >= 0.9,
    },
    {
      name: `share of frames sent that the tab drew, passthrough vs transcode, ${size(big)}`,
      unit: 'share',
      value: round(drawnShare(copy), 3),
      baseline: round(drawnShare(transcode), 3),
      ratio: round(drawnShare(copy) / Math.max(0.001, drawnShare(transcode)), 2),
    },
    {
      name: `camplex to shown picture, median, MSE vs WebCodecs, ${size(small)}`,
      unit: 'ms',
      value: round(percentile(mseSmall.latencies, 0.5), 1),
      baseline: round(percentile(copySmall.latencies, 0.5), 1),
      ratio: round(percentile(mseSmall.latencies, 0.5) / percentile(copySmall.latencies, 0.5), 2),
      target: '<= WebCodecs + 300 ms',
      met: percentile(mseSmall.latencies, 0.5) <= percentile(copySmall.latencies, 0.5) + 300,
    },
    {
      name: `camplex to shown picture, p99, MSE, ${size(small)}`,
      unit: 'ms',
      value: round(percentile(mseSmall.latencies, 0.99), 1),
      baseline: round(percentile(copySmall.latencies, 0.99), 1),
      target: '< 1000 ms',
      met: percentile(mseSmall.latencies, 0.99) < 1000,
    },
    {
      name: `server CPU per frame sent, MSE vs WebCodecs page, ${size(small)}`,
      unit: 'ms',
      value: round(msPerFrame(mseSmall, mseSmall.sent), 3),
      baseline: round(msPerFrame(copySmall, copySmall.sent), 3),
      ratio: round(msPerFrame(mseSmall, mseSmall.sent) / msPerFrame(copySmall, copySmall.sent), 2),
    },
    {
      name: `server CPU per frame sent, JPEG page (transcoded copy) vs WebCodecs page, ${size(small)}`,
      unit: 'ms',
      value: round(msPerFrame(jpegSmall, jpegSmall.sent), 3),
      baseline: round(msPerFrame(copySmall, copySmall.sent), 3),
      ratio: round(
        msPerFrame(jpegSmall, jpegSmall.sent) / msPerFrame(copySmall, copySmall.sent),
        2,
      ),
    },
    {
      name: `share of frames sent that the tab showed, MSE vs WebCodecs, ${size(small)}`,
      unit: 'share',
      value: round(drawnShare(mseSmall), 3),
      baseline: round(drawnShare(copySmall), 3),
      ratio: round(drawnShare(mseSmall) / Math.max(0.001, drawnShare(copySmall)), 2),
    },
  ];
  return {
    id: 'B7',
    title: `H.264 passthrough: ${cameras} RTSP cameras to one Chromium tab (baselines: transcode, rtsp-relay)`,
    figures,
    notes: [
      `One GStreamer RTSP server process with ${cameras} mount points (H.264 baseline at ` +
        `${FPS} fps, x264 ultrafast, a key frame a second): ${size(big)} colour bars ` +
        `(${PATTERNS.bars}) for the three sides, ${size(big)} moving zone plate ` +
        `(${PATTERNS.detail}) for passthrough and transcode again, then ${size(small)} bars ` +
        `for passthrough played by WebCodecs, by MSE and as JPEG; each side measured over ` +
        `${round(copy.wallSeconds, 1)} s after every tile drew and a warm-up, in the same ` +
        'Chromium (one tab at a time).',
      `Frames sent over the window: passthrough ${copy.sent}, transcode ${transcode.sent}; ` +
        `drawn: ${sum(copy.drawn)} / ${sum(transcode.drawn)}; rtsp-relay frames decoded: ` +
        `${sum(relay.drawn)}. ffmpeg processes: ${copy.ffmpegs} / ${transcode.ffmpegs} / ` +
        `${relay.ffmpegs}. Zone plate: sent ${copyDetail.sent} / ${transcodeDetail.sent}, ` +
        `server CPU ${round(pct(copyDetail.serverCpu, copyDetail), 1)} (node ` +
        `${round(pct(copyDetail.nodeCpu, copyDetail), 1)}) / ` +
        `${round(pct(transcodeDetail.serverCpu, transcodeDetail), 1)} (node ` +
        `${round(pct(transcodeDetail.nodeCpu, transcodeDetail), 1)}) % of a core.`,
      `Server CPU (process + ffmpeg children, % of a core): passthrough ` +
        `${round(pct(copy.serverCpu, copy), 1)} (node ${round(pct(copy.nodeCpu, copy), 1)}), ` +
        `transcode ${round(pct(transcode.serverCpu, transcode), 1)} (node ` +
        `${round(pct(transcode.nodeCpu, transcode), 1)}), rtsp-relay ` +
        `${round(pct(relay.serverCpu, relay), 1)}. The RTSP cameras used ` +
        `${round(pct(copy.cameraCpu, copy), 0)}% of a core (not counted).`,
      `Latency camplex -> drawn at ${size(small)}: median ` +
        `${round(percentile(copySmall.latencies, 0.5), 1)} ms, p95 ` +
        `${round(percentile(copySmall.latencies, 0.95), 1)} ms over ${copySmall.latencies.length} ` +
        `pictures; at ${size(big)}: median ${round(percentile(copy.latencies, 0.5), 1)} ms, p95 ` +
        `${round(percentile(copy.latencies, 0.95), 1)} ms. Headless Chromium decodes H.264 in ` +
        'software here (no GPU).',
      `Decoders at ${size(small)} (ms, median / p95 / p99): camplex -> shown, WebCodecs ` +
        `${percentiles(copySmall.latencies)}, MSE ${percentiles(mseSmall.latencies)}; JPEG (camplex ` +
        'transcodes the copy; a JPEG carries no timestamp, so from its arrival in the tab to ' +
        `drawn, which leaves out the transcoder's own delay) ${percentiles(jpegSmall.arrivalToDrawn)}. ` +
        `Server CPU % of a core: WebCodecs ${round(pct(copySmall.serverCpu, copySmall), 1)}, MSE ` +
        `${round(pct(mseSmall.serverCpu, mseSmall), 1)}, JPEG ` +
        `${round(pct(jpegSmall.serverCpu, jpegSmall), 1)}; frames sent ${copySmall.sent} / ` +
        `${mseSmall.sent} / ${jpegSmall.sent}, shown ${sum(copySmall.drawn)} / ` +
        `${sum(mseSmall.drawn)} / ${sum(jpegSmall.drawn)}; ffmpeg processes ` +
        `${copySmall.ffmpegs} / ${mseSmall.ffmpegs} / ${jpegSmall.ffmpegs}.`,
      `2 cores shared by cameras, servers and the browser; load average before: ${sides.loadBefore}.`,
    ],
  };
}

/** `median / p95 / p99 (n)` of sorted milliseconds. */
function percentiles(sorted: readonly number[]): string {
  const at = (q: number) => round(percentile(sorted, q), 1);
  return `${at(0.5)} / ${at(0.95)} / ${at(0.99)} (${sorted.length})`;
}
