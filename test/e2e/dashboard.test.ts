/**
 * The product in Chromium: "Stream All" lights up 16 cameras over ONE WebSocket, with no console
 * error; and, side by side, the wall it beats: 16 MJPEG <img> over HTTP/1.1 stall at 6.
 *
 * Chromium only: the MJPEG wall stalls at Chromium's 6 connections per origin (other engines
 * have their own limits), and the one socket is counted with Playwright's websocket events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { countDescendants, waitFor } from '../../support/processes.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-results/dashboard.png', import.meta.url));

describe('dashboard in Chromium', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    camplex = await startCamplexProcess(); // no config: the 16 built-in demo cameras
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
  });

  it('draws all 16 cameras after "Stream All" over exactly one WebSocket, without errors', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1600, height: 1000 });
    const problems = watchForProblems(page);
    const sockets: string[] = [];
    const sentByPage: string[] = [];
    /** Binary messages the page got: single frames, and batches of several (first byte 0). */
    const received = { frames: 0, batches: 0 };
    page.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framesent', ({ payload }) => {
        if (typeof payload === 'string') sentByPage.push(payload);
      });
      ws.on('framereceived', ({ payload }) => {
        if (typeof payload === 'string') return;
        if (payload[0] === 0) received.batches++;
        else received.frames++;
      });
    });

    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera]');
    assert.equal(await page.locator('[data-camera]').count(), 16);
    assert.equal(await page.getAttribute('#stream-all', 'disabled'), null);

    const clickedAt = Date.now();
    await page.click('#stream-all');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every(
          (tile) => Number(tile.dataset.frames) > 0,
        ),
      undefined,
      { timeout: 30_000, polling: 'raf' },
    );
    const allDrawnMs = Date.now() - clickedAt;
    console.log(`# cold start: 16 tiles drawn ${allDrawnMs} ms after clicking Stream All`);

    await waitFor(async () => (await liveTiles(page)) === 16, {
      timeoutMs: 10_000,
      what: '16 live tiles',
    });
    assert.equal(countDescendants(camplex.pid, 'ffmpeg'), 16);
    // Let a few frames through, then keep the picture (the README's is taken by wall.test.ts).
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every(
          (tile) => Number(tile.dataset.frames) >= 5,
        ),
      undefined,
      { timeout: 15_000 },
    );
    await page.screenshot({ path: SCREENSHOT });

    assert.deepEqual(sockets, [camplex.wsUrl]);
    // Flow control: the page turns acks on first, then acknowledges what it takes in, about
    // every eighth of the window hello announced: fewer acks than pictures.
    assert.equal(sentByPage[0], '{"cmd":"ack","bytes":0}');
    // Frames that come within 8 ms of a write may come together, in one message.
    assert.equal(sentByPage[1], '{"cmd":"batch","maxDelayMs":8}');
    assert.ok(received.batches > 0, `batches drawn: ${JSON.stringify(received)}`);
    const acked = sentByPage
      .map((text) => JSON.parse(text) as { cmd: string; bytes?: number })
      .filter((message) => message.cmd === 'ack')
      .map((message) => message.bytes ?? Number.NaN);
    const pictures = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-camera]')].reduce(
        (sum, tile) => sum + Number(tile.dataset.frames),
        0,
      ),
    );
    assert.ok(
      acked.length >= 2 && acked.length < pictures,
      `${acked.length} acks for ${pictures} pictures`,
    );
    assert.ok(
      acked.every((bytes, i) => i === 0 || bytes > (acked[i - 1] ?? 0)),
      'each ack acknowledges new bytes',
    );
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('paints warm cameras at once from the latest cached frame', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1600, height: 1000 });
    const problems = watchForProblems(page);
    await page.goto(camplex.url);
    // The first tab's choice is remembered in localStorage, so this tab streams by itself.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every(
          (tile) => Number(tile.dataset.frames) > 0,
        ),
      undefined,
      { timeout: 15_000, polling: 'raf' },
    );
    assert.equal(countDescendants(camplex.pid, 'ffmpeg'), 16, 'still one ffmpeg per camera');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('stops drawing after "Stop All"', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto(camplex.url);
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('[data-camera]')?.dataset.frames) > 0,
    );
    await page.click('#stop-all');
    // Frames already on the wire may still land; after that the count must stay put.
    const settled = await waitFor(
      async () => {
        const first = await framesOf(page, 'demo-01');
        await page.waitForTimeout(500);
        return (await framesOf(page, 'demo-01')) === first ? first : 0;
      },
      { timeoutMs: 10_000, what: 'demo-01 to stop drawing' },
    );
    await page.waitForTimeout(1000);
    assert.equal(await framesOf(page, 'demo-01'), settled);
    assert.equal(await page.getAttribute('#stream-all', 'disabled'), null);
    await page.close();
  });

  it('shows the wall camplex beats: 16 MJPEG <img> over HTTP/1.1 draw at most 6 cameras', async () => {
    const page = await chromium.context.newPage();
    await page.goto(`${camplex.url}healthz`);
    await page.evaluate(() => {
      document.body.innerHTML = '';
      for (let n = 1; n <= 16; n++) {
        const img = document.createElement('img');
        img.src = `/mjpeg/demo-${String(n).padStart(2, '0')}`;
        img.width = 160;
        document.body.append(img);
      }
    });
    const drawing = () =>
      page.evaluate(() => [...document.images].filter((img) => img.naturalWidth > 0).length);
    await waitFor(async () => (await drawing()) >= 6, {
      timeoutMs: 15_000,
      what: '6 MJPEG images',
    });
    // However long we wait, the other 10 requests never get a connection.
    await page.waitForTimeout(3000);
    const count = await drawing();
    console.log(`# per-camera MJPEG: ${count} of 16 images drawing`);
    assert.equal(count, 6);
    await page.close();
  });
});

function watchForProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

function liveTiles(page: Page): Promise<number> {
  return page.locator('[data-camera][data-state="live"]').count();
}

async function framesOf(page: Page, camera: string): Promise<number> {
  return Number(await page.getAttribute(`[data-camera="${camera}"]`, 'data-frames'));
}
