/**
 * B6 end to end: 8 real RTSP cameras (one GStreamer RTSP server process with 8 mount points,
 * H.264 640x360 at 15 fps) to one Chromium tab. camplex (the real CLI: one ffmpeg per camera to
 * MJPEG, one WebSocket for the tab, the dashboard's "Stream All") against rtsp-relay (what a user
 * would otherwise pick: one ffmpeg per camera to MPEG1, one WebSocket per camera, JSMpeg in the
 * page), one after the other against the same cameras and the same browser. Over the same
 * window each side gets: server CPU (the server process and its ffmpeg children, from /proc),
 * frames drawn per second in the tab, and the whole browser's CPU.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../test/helpers/browser.js';
import { startCamplexProcess } from '../test/helpers/camplex.js';
import { type RtspCamera, startRtspCamera } from '../test/helpers/rtsp.js';
import {
  childrenMatching,
  descendantsRunning,
  ownCpuSeconds,
  treeCpuSeconds,
  writtenBytes,
} from './b6/cpu.js';
import { startRelay } from './b6/relay.js';
import type { BenchOptions, BenchResult } from './types.js';

const CAMERAS = 8;
const CAMERA_FPS = 15;
/** rtsp-relay's ffmpeg arguments always say `-r 30`. */
const RELAY_FPS = 30;
const FFMPEG = '/usr/bin/ffmpeg';
const FIRST_FRAMES_TIMEOUT_MS = 30_000;
const PAGE_READY_TIMEOUT_MS = 15_000;

export interface Side {
  /** Server process and its ffmpeg children: CPU seconds over the window. */
  serverCpu: number;
  /** The server's own process (node) alone. */
  nodeCpu: number;
  /** Bytes the server process wrote (to its sockets, essentially) over the window. */
  sentBytes: number;
  /** The whole Chromium (browser, renderer, GPU and utility processes). */
  browserCpu: number;
  /** The GStreamer RTSP server, for context: it is the same for both sides. */
  cameraCpu: number;
  wallSeconds: number;
  /** Frames drawn per camera over the window. */
  drawn: number[];
  /** Animation frames the tab ran over the window: how free its main thread was. */
  animationFrames: number;
  /** ms from the start (click or page load) until every camera drew a frame. */
  firstAllMs: number;
  ffmpegs: number;
  detail: string;
}

export interface Probes {
  serverPid: number;
  browserPid: number;
  cameraPid: number;
  page: Page;
  readDrawn: () => Promise<number[]>;
}

/** Runs B6: camplex and rtsp-relay, 8 RTSP cameras each into one Chromium tab. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const warmupMs = options.quick ? 2_000 : 3_000;
  const loadBefore = loadAverage();
  let rtsp: RtspCamera | undefined;
  let chromium: LaunchedChromium | undefined;
  try {
    const paths = Array.from({ length: CAMERAS }, (_, i) => `/cam${i + 1}`);
    rtsp = await startRtspCamera({ paths, fps: CAMERA_FPS });
    const camera = rtsp;
    const urls = paths.map((path) => camera.url(path));
    chromium = await launchChromium();
    // tsx compiles the functions handed to page.evaluate with esbuild's keepNames, which wraps
    // named inner functions in a `__name(...)` helper that only exists in Node.
    await chromium.context.addInitScript('globalThis.__name = (target) => target;');
    const browserPid = childrenMatching(process.pid, 'chromium')[0];
    if (browserPid === undefined) throw new Error('cannot find the Chromium process');
    const ids = { browserPid, cameraPid: rtsp.pid };

    const ours = await camplexSide(chromium, urls, ids, options.seconds, warmupMs);
    const theirs = await relaySide(chromium, urls, ids, options.seconds, warmupMs);
    return report(ours, theirs, options.seconds, loadBefore);
  } finally {
    await chromium?.close();
    await rtsp?.stop();
  }
}

async function camplexSide(
  chromium: LaunchedChromium,
  urls: string[],
  ids: { browserPid: number; cameraPid: number },
  seconds: number,
  warmupMs: number,
): Promise<Side> {
  const config = [
    'server: { host: 127.0.0.1, port: 0 }',
    'cameras:',
    ...urls.map((url, i) => `  cam${i + 1}: { url: "${url}" }`),
    '',
  ].join('\n');
  const camplex = await startCamplexProcess({ config });
  const page = await chromium.context.newPage();
  try {
    await openDashboard(page, camplex.url, CAMERAS);
    const firstAllMs = await clickStreamAll(page);
    await delay(warmupMs);
    const readDrawn = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].map((tile) =>
          Number(tile.dataset.frames),
        ),
      );
    const measured = await measureWindow(
      { ...ids, serverPid: camplex.pid, page, readDrawn },
      seconds,
    );
    const ffmpegs = descendantsRunning(camplex.pid, FFMPEG).length;
    return {
      ...measured,
      firstAllMs,
      ffmpegs,
      detail:
        'camplex: ffmpeg H.264 -> MJPEG (q 7) at the camera rate, one WebSocket, tiles ' +
        'decoded with createImageBitmap and drawn at most once per animation frame',
    };
  } finally {
    await page.close();
    await camplex.stop();
  }
}

export async function relaySide(
  chromium: LaunchedChromium,
  urls: string[],
  ids: { browserPid: number; cameraPid: number },
  seconds: number,
  warmupMs: number,
): Promise<Side> {
  const relay = await startRelay(urls);
  const page = await chromium.context.newPage();
  try {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto(relay.url);
    // performance.now() counts from the navigation: the page opening every stream by itself.
    const firstAll = await page.waitForFunction(
      () => {
        const decoded = (window as unknown as { decoded?: number[] }).decoded;
        return decoded?.every((n) => n > 0) ? performance.now() : 0;
      },
      undefined,
      { timeout: FIRST_FRAMES_TIMEOUT_MS, polling: 'raf' },
    );
    const firstAllMs = Number(await firstAll.jsonValue());
    await delay(warmupMs);
    const readDrawn = () =>
      page.evaluate(() => [...((window as unknown as { decoded: number[] }).decoded ?? [])]);
    const measured = await measureWindow(
      { ...ids, serverPid: relay.pid, page, readDrawn },
      seconds,
    );
    const ffmpegs = relay.ffmpegs().length;
    const renderers = await page.evaluate(() =>
      [...new Set((window as unknown as { renderers: string[] }).renderers)].join('/'),
    );
    return {
      ...measured,
      firstAllMs,
      ffmpegs,
      detail:
        `rtsp-relay: ffmpeg H.264 -> MPEG1 in MPEG-TS at -r ${RELAY_FPS}, one WebSocket ` +
        `per camera, JSMpeg (WASM decoder, ${renderers} renderer) counting onVideoDecode. ` +
        "JSMpeg decodes on the tab's main thread, at most one frame per camera per animation " +
        "frame, so a busy main thread caps every camera at the tab's animation-frame rate",
    };
  } finally {
    await page.close();
    await relay.stop();
  }
}

/** Opens camplex's dashboard with every one of `count` tiles on screen and the socket up. */
export async function openDashboard(page: Page, url: string, count: number): Promise<void> {
  await page.setViewportSize({ width: 1600, height: 1000 });
  await page.goto(url);
  await page.waitForFunction(
    (tiles) =>
      document.querySelectorAll('[data-camera]').length === tiles &&
      document.querySelector<HTMLElement>('#status')?.dataset.connection === 'up',
    count,
    { timeout: PAGE_READY_TIMEOUT_MS },
  );
}

/** Clicks "Stream All" from page script; ms (performance.now()) until every tile drew. */
export async function clickStreamAll(page: Page): Promise<number> {
  return page.evaluate(
    (timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        const tiles = [...document.querySelectorAll<HTMLElement>('[data-camera]')];
        const clickedAt = performance.now();
        document.querySelector<HTMLButtonElement>('#stream-all')?.click();
        const check = () => {
          const elapsed = performance.now() - clickedAt;
          if (tiles.every((tile) => Number(tile.dataset.frames) > 0)) resolve(elapsed);
          else if (elapsed > timeoutMs) reject(new Error(`not every tile drew in ${timeoutMs} ms`));
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }),
    FIRST_FRAMES_TIMEOUT_MS,
  );
}

/** Frames drawn and CPU of each process tree over `seconds`, read at both ends of one window. */
export async function measureWindow(
  probes: Probes,
  seconds: number,
): Promise<Omit<Side, 'firstAllMs' | 'ffmpegs' | 'detail'>> {
  const read = async () => ({
    drawn: await probes.readDrawn(),
    server: treeCpuSeconds(probes.serverPid),
    node: ownCpuSeconds(probes.serverPid),
    sent: writtenBytes(probes.serverPid),
    browser: treeCpuSeconds(probes.browserPid),
    camera: treeCpuSeconds(probes.cameraPid),
    at: performance.now(),
  });
  await probes.page.evaluate(() => {
    const counter = globalThis as unknown as { animationFrames: number };
    counter.animationFrames = 0;
    const tick = () => {
      counter.animationFrames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const animationFrames = () =>
    probes.page.evaluate(
      () => (globalThis as unknown as { animationFrames: number }).animationFrames,
    );
  const frames0 = await animationFrames();
  const start = await read();
  await delay(seconds * 1000);
  const end = await read();
  const frames1 = await animationFrames();
  return {
    serverCpu: end.server - start.server,
    nodeCpu: end.node - start.node,
    sentBytes: end.sent - start.sent,
    browserCpu: end.browser - start.browser,
    cameraCpu: end.camera - start.camera,
    wallSeconds: (end.at - start.at) / 1000,
    drawn: end.drawn.map((n, i) => n - (start.drawn[i] ?? 0)),
    animationFrames: frames1 - frames0,
  };
}

function report(ours: Side, theirs: Side, seconds: number, loadBefore: string): BenchResult {
  const pct = (cpu: number, side: Side) => (100 * cpu) / side.wallSeconds;
  const fps = (side: Side) => sum(side.drawn) / side.wallSeconds;
  const perCamera = (side: Side) => pct(side.serverCpu, side) / CAMERAS;
  const msPerFrame = (side: Side) => (1000 * side.serverCpu) / Math.max(1, sum(side.drawn));
  const figure = (name: string, unit: string, value: number, baseline: number, digits = 1) => ({
    name,
    unit,
    value: round(value, digits),
    baseline: round(baseline, digits),
    ratio: round(value / baseline, 2),
  });
  const perCameraFps = (side: Side) =>
    side.drawn.map((n) => round(n / side.wallSeconds, 1)).join(', ');
  return {
    id: 'B6',
    title: `End to end: ${CAMERAS} RTSP cameras to one Chromium tab (baseline: rtsp-relay)`,
    figures: [
      figure(
        `server CPU per camera (process + ffmpeg children), ${CAMERAS} cameras`,
        '% of a core',
        perCamera(ours),
        perCamera(theirs),
      ),
      figure(
        `frames drawn per second in the tab, ${CAMERAS} cameras`,
        'frames/s',
        fps(ours),
        fps(theirs),
      ),
      figure('server CPU per frame drawn', 'ms', msPerFrame(ours), msPerFrame(theirs), 2),
      figure(
        'browser CPU, whole Chromium',
        '% of a core',
        pct(ours.browserCpu, ours),
        pct(theirs.browserCpu, theirs),
      ),
      figure(
        'sent to the tab (server write() bytes)',
        'Mbit/s',
        (8 * ours.sentBytes) / ours.wallSeconds / 1e6,
        (8 * theirs.sentBytes) / theirs.wallSeconds / 1e6,
        2,
      ),
      figure(
        'animation frames per second in the tab (main thread free to run them)',
        'frames/s',
        ours.animationFrames / ours.wallSeconds,
        theirs.animationFrames / theirs.wallSeconds,
      ),
      figure(
        `cold start: every camera drawn (camplex from the click, rtsp-relay from page load)`,
        'ms',
        ours.firstAllMs,
        theirs.firstAllMs,
        0,
      ),
    ],
    notes: [
      `One GStreamer RTSP server process with ${CAMERAS} mount points (H.264 baseline ` +
        `640x360 at ${CAMERA_FPS} fps, x264 ultrafast), pulled over RTSP/TCP by both; ` +
        `camplex first, then rtsp-relay, each measured over ${seconds} s after the last ` +
        'camera drew and a short warm-up, in the same Chromium (one tab at a time).',
      `${ours.detail}; ${ours.ffmpegs} ffmpeg processes; per-camera frames/s: ` +
        `${perCameraFps(ours)}.`,
      `${theirs.detail}; ${theirs.ffmpegs} ffmpeg processes (Debian's ${FFMPEG} through ` +
        `ffmpeg-static's FFMPEG_BIN); per-camera frames/s: ${perCameraFps(theirs)}. Its ` +
        `-r ${RELAY_FPS} adds no duplicates (ffmpeg writes MPEG-TS at a variable rate; ` +
        `ffprobe counts ~${CAMERA_FPS} frames/s in its output), so both sides carry the ` +
        `cameras' ${CAMERA_FPS} fps; more than that per camera means JSMpeg catching up on ` +
        "a backlog. rtsp-relay leaves MPEG1 at ffmpeg's default bit rate (200 kbit/s " +
        'target); camplex sent ' +
        `${round(ours.sentBytes / Math.max(1, sum(ours.drawn)) / 1024, 1)} KiB per frame ` +
        '(MJPEG q 7 of a simple test pattern). Most of the server CPU difference is the ' +
        'encoder: MJPEG codes every frame whole, MPEG1 mostly codes differences.',
      'Server CPU is utime+stime (+cutime+cstime) of the server and its descendants from ' +
        '/proc, before and after the window. Of it, the node process itself: camplex ' +
        `${round(pct(ours.nodeCpu, ours), 1)}%, rtsp-relay ` +
        `${round(pct(theirs.nodeCpu, theirs), 1)}% ` +
        'of a core; the rest is the 8 ffmpeg (H.264 decode + MJPEG or MPEG1 encode). ' +
        `The RTSP server used ${round((100 * ours.cameraCpu) / ours.wallSeconds, 0)}% / ` +
        `${round((100 * theirs.cameraCpu) / theirs.wallSeconds, 0)}% of a core in the ` +
        'two windows (not counted).',
      '2 cores, no GPU (Chromium draws in software), shared by cameras, servers and the ' +
        `browser: figures are limited by CPU contention; load average before: ${loadBefore}.`,
    ],
  };
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
