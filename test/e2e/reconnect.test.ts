/**
 * The dashboard rides out a lost server and a lost socket by itself: it reconnects and
 * resubscribes when camplex restarts, and while WebSockets cannot get through it shows the
 * visible tiles over plain HTTP (MJPEG for a few tiles, snapshots for many), then switches back.
 *
 * Chromium only: letting HTTP through while WebSockets fail uses Playwright's request routing;
 * engines.test.ts finds camplex again after a restart in every engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { freePort, waitFor } from '../../support/processes.js';
import { startUpgradeProxy } from '../../support/proxy.js';

describe('dashboard reconnects and falls back in Chromium', () => {
  let chromium: LaunchedChromium;

  before(async () => {
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
  });

  it('counts reconnect attempts, then draws every tile again after camplex restarts, without a reload', async () => {
    const port = await freePort();
    let camplex: CamplexProcess | undefined = await startCamplexProcess({
      args: ['--port', String(port), '--demo', '6'],
    });
    const page = await chromium.context.newPage();
    try {
      await page.setViewportSize({ width: 1400, height: 900 });
      await page.goto(camplex.url);
      await page.evaluate(() => {
        (window as unknown as { marker: string }).marker = 'same page';
      });
      await page.click('#stream-all');
      await waitForAllTiles(page, (frames) => frames > 0);
      const before = await tileFrames(page);

      await camplex.stop('SIGTERM');
      await page.waitForSelector('#status[data-connection="down"]');
      // The status counts the attempts (it once always said the first).
      await page.waitForFunction(
        () =>
          /reconnecting \(attempt [3-9]\)/.test(
            document.querySelector('#status')?.textContent ?? '',
          ),
        undefined,
        { timeout: 15_000 },
      );
      camplex = await startCamplexProcess({ args: ['--port', String(port), '--demo', '6'] });

      await waitFor(
        async () => {
          const now = await tileFrames(page);
          return Object.entries(before).every(([id, count]) => (now[id] ?? 0) > count + 3);
        },
        { timeoutMs: 30_000, what: 'every tile to draw new frames after the restart' },
      );
      assert.equal(
        await page.evaluate(() => (window as unknown as { marker?: string }).marker),
        'same page',
      );
      assert.equal(await page.getAttribute('#status', 'data-connection'), 'up');
    } finally {
      await page.close();
      await camplex?.stop();
    }
  });

  it('shows a few visible tiles over MJPEG while the socket is blocked, then returns to it', async () => {
    const camplex = await startCamplexProcess({ args: ['--demo', '8'] });
    const proxy = await startUpgradeProxy(camplex.url);
    const page = await chromium.context.newPage();
    try {
      // A phone-sized window: one scrolling column, at most 4 tiles on screen, so MJPEG is
      // allowed (a wider window fits all 8 on screen).
      await page.setViewportSize({ width: 390, height: 600 });
      await page.goto(proxy.url);
      await page.click('#stream-all');
      await waitFor(async () => (await transports(page)).includes('mjpeg'), {
        timeoutMs: 30_000,
        what: 'a tile on the MJPEG fallback',
      });
      const mjpegTile = await page.getAttribute('[data-transport="mjpeg"]', 'data-camera');
      assert.ok(mjpegTile);
      await waitFor(async () => (await framesOf(page, mjpegTile)) >= 3, {
        timeoutMs: 15_000,
        what: `frames over MJPEG for ${mjpegTile}`,
      });
      assert.ok((await transports(page)).filter((t) => t === 'mjpeg').length <= 4);

      proxy.blockUpgrades = false;
      await page.waitForSelector('#status[data-connection="up"]', { timeout: 40_000 });
      const atSwitch = await framesOf(page, mjpegTile);
      assert.ok((await transports(page)).every((t) => t === 'socket'));
      await waitFor(async () => (await framesOf(page, mjpegTile)) >= atSwitch + 3, {
        timeoutMs: 15_000,
        what: 'frames over the socket again',
      });
    } finally {
      await page.close();
      await proxy.close();
      await camplex.stop();
    }
  });

  it('polls snapshots instead of MJPEG when more than 4 tiles are visible', async () => {
    const camplex = await startCamplexProcess({ args: ['--demo', '8'] });
    const proxy = await startUpgradeProxy(camplex.url);
    const page = await chromium.context.newPage();
    try {
      await page.setViewportSize({ width: 1400, height: 900 });
      await page.goto(proxy.url);
      await page.click('#stream-all');
      await waitFor(async () => (await transports(page)).every((t) => t === 'snapshot'), {
        timeoutMs: 30_000,
        what: 'every tile on snapshot polling',
      });
      await waitForAllTiles(page, (frames) => frames >= 1);
    } finally {
      await page.close();
      await proxy.close();
      await camplex.stop();
    }
  });

  it('keeps one snapshot loop while the socket keeps failing and snapshots are slow', async () => {
    const camplex = await startCamplexProcess({ args: ['--demo', '8'] });
    const proxy = await startUpgradeProxy(camplex.url);
    const page = await chromium.context.newPage();
    let inFlight = 0;
    let most = 0;
    try {
      // Every snapshot takes 3 s: each failed connect of the socket comes while a round is out.
      await page.route('**/snapshot/**', async (route) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await delay(3000);
        inFlight--;
        await route.continue().catch(() => {}); // the page may have aborted it meanwhile
      });
      await page.setViewportSize({ width: 1400, height: 900 });
      await page.goto(proxy.url);
      await page.click('#stream-all');
      await page.waitForFunction(
        () =>
          /reconnecting \(attempt ([5-9]|\d\d)\)/.test(
            document.querySelector('#status')?.textContent ?? '',
          ),
        undefined,
        { timeout: 40_000 },
      );
      assert.ok(most > 0, 'snapshots were polled');
      // One loop asks for at most 3 at once (SNAPSHOT_CONCURRENCY in browser/http-fallback.ts).
      assert.ok(most <= 3, `${most} snapshot requests in flight at once`);
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
      await page.close();
      await proxy.close();
      await camplex.stop();
    }
  });
});

async function tileFrames(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll<HTMLElement>('[data-camera]')].map((tile) => [
        tile.dataset.camera,
        Number(tile.dataset.frames),
      ]),
    ),
  );
}

async function waitForAllTiles(page: Page, ok: (frames: number) => boolean): Promise<void> {
  await waitFor(async () => Object.values(await tileFrames(page)).every(ok), {
    timeoutMs: 30_000,
    what: 'every tile to draw',
  });
}

function transports(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-camera]')].map(
      (tile) => tile.dataset.transport ?? '',
    ),
  );
}

async function framesOf(page: Page, camera: string): Promise<number> {
  return Number(await page.getAttribute(`[data-camera="${camera}"]`, 'data-frames'));
}
