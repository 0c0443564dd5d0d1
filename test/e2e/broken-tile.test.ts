/**
 * One tile whose player throws must not take the page down. On a plain-http page (MSE), the
 * first tile's <video> has no working requestVideoFrameCallback (as in an engine without it):
 * that tile alone goes to JPEG, every other tile keeps playing through MSE, and the page keeps
 * acknowledging frames, so the server never finds it too slow (it once froze every camera
 * after 256 KiB and closed the socket 30 s later).
 *
 * Chromium only: it breaks requestVideoFrameCallback before the page's scripts run (Playwright's
 * addInitScript) and reaches a plain-http name through Chromium's resolver rules; the player
 * code it breaks is the same in every engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const HOST = 'camplex.test';
const CAMERAS = ['front', 'yard', 'porch'];
const SCREENSHOT = fileURLToPath(new URL('../../test-results/broken-tile.png', import.meta.url));

describe('a tile whose player throws, in Chromium', () => {
  let rtsp: RtspCamera;
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    rtsp = await startRtspCamera({
      paths: CAMERAS.map((id) => `/${id}`),
      width: 640,
      height: 360,
      fps: 15,
    });
    camplex = await startCamplexProcess({
      config: [
        'server:',
        `  allowedHosts: [${HOST}]`,
        'cameras:',
        ...CAMERAS.map((id) => `  ${id}: { url: "${rtsp.url(`/${id}`)}" }`),
      ].join('\n'),
    });
    chromium = await launchChromium([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await rtsp?.stop();
  });

  it('moves that tile alone to JPEG; the others play on and the socket stays open', async () => {
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.addInitScript(() => {
      const original = HTMLVideoElement.prototype.requestVideoFrameCallback;
      let calls = 0;
      HTMLVideoElement.prototype.requestVideoFrameCallback = function (callback) {
        if (calls++ === 0) throw new TypeError('requestVideoFrameCallback is not supported');
        return original.call(this, callback);
      };
    });
    const url = new URL(camplex.url);
    url.hostname = HOST;
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(url.href);
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    const decoders = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].map(
          (tile) => tile.dataset.decoder ?? JSON.stringify(tile.dataset),
        ),
      );
    let seen: string[] = [];
    await waitFor(
      async () => {
        seen = await decoders();
        return (
          seen.filter((d) => d === 'jpeg').length === 1 &&
          seen.filter((d) => d === 'mse').length === 2
        );
      },
      { timeoutMs: 30_000, what: 'one tile on JPEG, the other two on MSE' },
    ).catch((error: Error) => {
      const console = errors.join(' | ');
      void page.screenshot({ path: SCREENSHOT });
      throw new Error(`${error.message} (decoders: ${JSON.stringify(seen)}; console: ${console})`);
    });
    const frames = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].map((tile) =>
          Number(tile.dataset.frames ?? 0),
        ),
      );
    // Well past the 256 KiB window a tile that skips its acks used to freeze the page at.
    const mark = camplex.lines.length;
    const before = await frames();
    await waitFor(
      async () => (await frames()).every((count, i) => count >= (before[i] ?? 0) + 60),
      { timeoutMs: 30_000, what: 'every tile drawing 60 more pictures' },
    );
    const slow = camplex.lines.slice(mark).filter((line) => line.includes('slow-viewer'));
    assert.deepEqual(slow, [], 'the server never found the page too slow');
    assert.equal(await page.getAttribute('#status', 'data-connection'), 'up');
    assert.deepEqual((await decoders()).sort(), ['jpeg', 'mse', 'mse']);
    await page.screenshot({ path: SCREENSHOT });
    assert.ok(
      errors.every((text) => !/Uncaught/.test(text)),
      `no uncaught error: ${errors.join('\n')}`,
    );
    await page.close();
  });
});
