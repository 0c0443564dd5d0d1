import { setTimeout as delay } from 'node:timers/promises';
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
import { round, sum } from './lib/stats.js';
import type { BenchOptions, BenchResult } from './lib/types.js';

const CAMERAS = 8;
const CAMERA_FPS = 15;
/** rtsp-relay's ffmpeg arguments always say `-r 30`. */
const RELAY_FPS = 30;
const FFMPEG = '/usr/bin/ffmpeg';

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
