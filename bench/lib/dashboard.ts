/**
 * Driving a dashboard page for the browser benchmarks (B6, B7, B8): open it, click "Stream
 * All", and read pictures drawn and each process tree's CPU over one window.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { ownCpuSeconds, treeCpuSeconds, writtenBytes } from './cpu.js';

export const FIRST_FRAMES_TIMEOUT_MS = 30_000;
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

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
