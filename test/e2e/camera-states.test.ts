/**
 * Camera states as a person sees them: a camera that refuses connections shows why and when it
 * retries on its tile, turns offline after repeated failures, while the others stream on.
 *
 * Chromium only: the states are the server's and the captions the same DOM code in every engine;
 * engines.test.ts proves each engine draws the wall.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { freePort } from '../../support/processes.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-results/camera-states.png', import.meta.url));

describe('camera states on the dashboard', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    const closedPort = await freePort();
    camplex = await startCamplexProcess({
      args: ['--demo', '3'],
      config: [
        'cameras:',
        '  garage:',
        '    name: Garage',
        `    url: rtsp://user:secret@127.0.0.1:${closedPort}/x`,
      ].join('\n'),
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
  });

  it('shows "retrying in N s - Connection refused", then offline, on the failing tile only', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1300, height: 600 });
    await page.goto(camplex.url);
    await page.click('#stream-all');
    const garage = page.locator('[data-camera="garage"] .state');
    await page.waitForFunction(
      () =>
        /^retrying in \d+ s - Connection refused$/.test(
          document.querySelector('[data-camera="garage"] .state')?.textContent ?? '',
        ),
      undefined,
      { timeout: 15_000 },
    );
    assert.equal(await page.getAttribute('[data-camera="garage"]', 'data-state'), 'retrying');
    // Five failures in a row take about 0.5 + 1 + 2 + 4 s of backoff (with jitter: less).
    await page.waitForSelector('[data-camera="garage"][data-state="offline"]', { timeout: 30_000 });
    assert.match(
      (await garage.textContent()) ?? '',
      /^offline - retrying in \d+ s - Connection refused$/,
    );
    for (const id of ['demo-01', 'demo-02', 'demo-03']) {
      assert.equal(await page.getAttribute(`[data-camera="${id}"]`, 'data-state'), 'live');
      assert.ok(Number(await page.getAttribute(`[data-camera="${id}"]`, 'data-frames')) > 0);
    }
    assert.doesNotMatch(await page.content(), /secret/);
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });
});
