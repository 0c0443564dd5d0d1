/**
 * B13, timed audio and video in Chromium: how soon a picture comes whatever a camera's key-frame
 * interval, and how close its sound plays to its pictures. GStreamer RTSP cameras at 640x360,
 * 15 fps, ~1.5 Mbit/s: one with a key frame every second (and G.711), one every 10 s (and AAC).
 *
 * - late join: a page opened while the cameras run (a first page keeps them warm), from the
 *   navigation to the camera's first picture; on 127.0.0.1 (WebCodecs) and on a plain-http name
 *   (Media Source Extensions). Before timed units the 10 s GOP took 5.8 s and 4.1 s: the players'
 *   queue bounds threw the catch-up away and waited for the next key frame.
 * - after a drop: the page's main thread is held for 2 s (acks stop, the server drops units for
 *   it), then the time from its release to the first picture cut after it.
 * - A/V offset: the focused camera unmuted, how far each sound frame is scheduled from the moment
 *   its picture shows (`data-av-offset`, the mean of each second), over the run.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../support/camplex.js';
import { type RtspCamera, startRtspCamera } from '../support/rtsp.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const INSECURE_HOST = 'camplex-bench.test';
const PAINT_TARGET_MS = 1000;
const OFFSET_TARGET_MS = 80;
const HOLD_MS = 2000;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};

/** ms from navigation to `camera`'s first picture on a fresh page (streaming is remembered on). */
async function lateJoin(chromium: LaunchedChromium, url: string, camera: string): Promise<number> {
  const page = await chromium.context.newPage();
  try {
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction(
      (id) =>
        Number(document.querySelector<HTMLElement>(`.tile[data-camera="${id}"]`)?.dataset.frames) >
        0,
      camera,
      { timeout: 15_000 },
    );
    return Date.now() - started;
  } finally {
    await page.close();
  }
}

/** ms from releasing a 2 s hold of the page to the first picture of `camera` cut after it. */
async function afterDrop(page: Page, camera: string): Promise<number> {
  return page.evaluate(
    ({ id, hold }) =>
      new Promise<number>((resolve) => {
        const tile = document.querySelector(`.tile[data-camera="${id}"]`);
        const end = performance.now() + hold;
        while (performance.now() < end) {
          // the main thread is held: no message, no ack, no picture
        }
        const releasedAt = Date.now();
        const timeout = setTimeout(() => resolve(Number.NaN), 15_000);
        tile?.addEventListener('camplex-picture', function shown(event) {
          const { cutAt } = (event as CustomEvent<{ cutAt?: number }>).detail;
          if (cutAt === undefined || cutAt < releasedAt - 100) return;
          tile.removeEventListener('camplex-picture', shown);
          clearTimeout(timeout);
          resolve(Date.now() - releasedAt);
        });
      }),
    { id: camera, hold: HOLD_MS },
  );
}

/** Unmutes `camera` on `page` and reads its A/V offsets each second for `seconds`. */
async function offsets(page: Page, camera: string, seconds: number): Promise<number[]> {
  await page.click(`.tile[data-camera="${camera}"]`);
  await page.click('#sound');
  await delay(1500); // the first frames set the clock
  const values: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await delay(1000);
    const offset = await page.evaluate(
      (id) => document.querySelector<HTMLElement>(`.tile[data-camera="${id}"]`)?.dataset.avOffset,
      camera,
    );
    if (offset !== undefined) values.push(Number(offset));
  }
  await page.keyboard.press('Escape');
  return values;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const tries = options.quick ? 2 : 6;
  const seconds = options.quick ? 3 : Math.max(5, options.seconds);
  const cameras: RtspCamera[] = [];
  let camplex: CamplexProcess | undefined;
  let chromium: LaunchedChromium | undefined;
  try {
    const common = { width: 640, height: 360, fps: 15, bitrate: 1500 } as const;
    cameras.push(await startRtspCamera({ ...common, keyInterval: 15, audio: 'pcma' }));
    cameras.push(await startRtspCamera({ ...common, keyInterval: 150, audio: 'aac' }));
    camplex = await startCamplexProcess({
      config: [
        'server:',
        `  allowedHosts: [${INSECURE_HOST}]`,
        'cameras:',
        `  gop1: { url: "${cameras[0]?.url()}" }`,
        `  gop10: { url: "${cameras[1]?.url()}" }`,
      ].join('\n'),
    });
    chromium = await launchChromium([
      '--autoplay-policy=document-user-activation-required',
      `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`,
    ]);
    await chromium.context.addInitScript('globalThis.__name = (target) => target;');
    const secure = camplex.url;
    const plain = camplex.url.replace('127.0.0.1', INSECURE_HOST);
    // A first page keeps both cameras running (and remembers streaming on for the others).
    const warm = await chromium.context.newPage();
    await warm.goto(secure);
    await warm.click('#stream-all');
    await warm.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('.tile')].every(
          (tile) => Number(tile.dataset.frames) > 0,
        ),
      null,
      { timeout: 30_000 },
    );
    const figures: BenchFigure[] = [];
    const notes: string[] = [];
    for (const [where, url] of [
      ['WebCodecs, 127.0.0.1', secure],
      ['MSE, plain http', plain],
    ] as const) {
      // Streaming is remembered per origin: the plain-http name is an origin of its own.
      const prime = await chromium.context.newPage();
      await prime.goto(url);
      if (await prime.isEnabled('#stream-all')) await prime.click('#stream-all');
      await prime.close();
      const joins: Record<string, number[]> = { gop1: [], gop10: [] };
      for (let i = 0; i < tries; i++) {
        await delay(700 + ((i * 1300) % 4100)); // somewhere else in the GOP each time
        for (const camera of ['gop1', 'gop10'])
          joins[camera]?.push(await lateJoin(chromium, url, camera));
      }
      const [one, ten] = [median(joins.gop1 ?? []), median(joins.gop10 ?? [])];
      figures.push({
        name: `late join, 10 s GOP vs 1 s GOP, ${where} (median of ${tries})`,
        value: ten,
        unit: 'ms',
        baseline: one,
        ratio: ten / one,
        target: `<= ${PAINT_TARGET_MS} ms`,
        met: Math.max(...(joins.gop10 ?? [])) <= PAINT_TARGET_MS,
      });
      notes.push(
        `${where}: late join 1 s GOP ${joins.gop1?.join(', ')} ms; 10 s GOP ${joins.gop10?.join(', ')} ms`,
      );
    }
    const drops: Record<string, number[]> = { gop1: [], gop10: [] };
    for (let i = 0; i < tries; i++) {
      for (const camera of ['gop1', 'gop10']) drops[camera]?.push(await afterDrop(warm, camera));
      await delay(1000);
    }
    figures.push({
      name: `after a 2 s hold, 10 s GOP vs 1 s GOP, WebCodecs (median of ${tries})`,
      value: median(drops.gop10 ?? []),
      unit: 'ms',
      baseline: median(drops.gop1 ?? []),
      ratio: median(drops.gop10 ?? []) / median(drops.gop1 ?? []),
      target: `<= ${PAINT_TARGET_MS} ms`,
      met: Math.max(...(drops.gop10 ?? [])) <= PAINT_TARGET_MS,
    });
    notes.push(
      `after a hold: 1 s GOP ${drops.gop1?.join(', ')} ms; 10 s GOP ${drops.gop10?.join(', ')} ms`,
    );
    for (const [where, url, camera, codec] of [
      ['WebCodecs', secure, 'gop10', 'AAC'],
      ['WebCodecs', secure, 'gop1', 'G.711'],
      ['MSE page, Web Audio', plain, 'gop1', 'G.711'],
    ] as const) {
      const page = await chromium.context.newPage();
      try {
        await page.goto(url);
        await page.waitForFunction(
          (id) =>
            Number(
              document.querySelector<HTMLElement>(`.tile[data-camera="${id}"]`)?.dataset.frames,
            ) > 0,
          camera,
        );
        const values = await offsets(page, camera, seconds);
        const worst = Math.max(...values.map(Math.abs));
        figures.push({
          name: `A/V offset, ${codec}, ${where} (worst second of ${values.length})`,
          value: worst,
          unit: 'ms',
          target: `|offset| <= ${OFFSET_TARGET_MS} ms`,
          met: values.length > 0 && worst <= OFFSET_TARGET_MS,
        });
        notes.push(`A/V offset ${codec} ${where}, each second: ${values.join(', ')} ms`);
      } finally {
        await page.close();
      }
    }
    return { id: 'B13', title: 'timed audio and video in the browser', figures, notes };
  } finally {
    await chromium?.close();
    await camplex?.stop();
    await Promise.all(cameras.map((camera) => camera.stop()));
  }
}
