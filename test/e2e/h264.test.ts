/**
 * H.264 in Chromium, from real GStreamer RTSP cameras: every tile decodes the cameras' own
 * H.264 with WebCodecs (`data-codec="h264"`, no JPEG transcoder running), a page opened later
 * paints within a second from the units since the last key unit, and an ffmpeg killed mid-stream
 * comes back without a stuck or garbled tile. A camera with a sub-stream is shown from it.
 * 127.0.0.1 is a secure context: VideoDecoder exists.
 *
 * Chromium only: engines.test.ts plays H.264 in every engine and timed-media.test.ts paints a
 * late join in each; a killed ffmpeg and the sub-stream are the server's part.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantCommandLines, descendantPids, waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const CAMERAS = ['front', 'yard', 'porch'];
const SCREENSHOT = fileURLToPath(new URL('../../test-results/h264.png', import.meta.url));

async function framesOf(page: Page, id: string): Promise<number> {
  return Number(await page.getAttribute(`[data-camera="${id}"]`, 'data-frames'));
}

/** Every console warning and error of `page` (decoder errors are warned). */
function consoleProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') problems.push(message.text());
  });
  return problems;
}

describe('H.264 tiles in Chromium', () => {
  let camera: RtspCamera;
  /** porch's sub-stream: a smaller picture from a camera of its own. */
  let porchSub: RtspCamera;
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    camera = await startRtspCamera({
      paths: CAMERAS.map((id) => `/${id}`),
      width: 640,
      height: 360,
      fps: 15,
    });
    porchSub = await startRtspCamera({ width: 320, height: 180, fps: 15 });
    camplex = await startCamplexProcess({
      config: [
        'cameras:',
        ...CAMERAS.flatMap((id) => [`  ${id}:`, `    url: ${camera.url(`/${id}`)}`]),
        `    substream: ${porchSub.url()}`, // porch, the last camera
      ].join('\n'),
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await camera?.stop();
    await porchSub?.stop();
  });

  it('draws every camera from its own H.264 for several key frames, no decoder error, no JPEG transcoder', async () => {
    const page = await chromium.context.newPage();
    const problems = consoleProblems(page);
    await page.setViewportSize({ width: 1300, height: 500 });
    await page.goto(camplex.url);
    await page.click('#stream-all');
    for (const id of CAMERAS) {
      await page.waitForSelector(`[data-camera="${id}"][data-codec="h264"]`, { timeout: 20_000 });
    }
    const before = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    // A key frame a second: 5 s cover several, where a bad unit around key frames would show.
    await page.waitForTimeout(5000);
    const after = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    CAMERAS.forEach((id, i) => {
      // 15 fps for 5 s: most pictures drawn (headless Chromium decodes in software).
      assert.ok((after[i] ?? 0) - (before[i] ?? 0) >= 40, `${id}: ${before[i]} -> ${after[i]}`);
    });
    for (const id of CAMERAS) {
      assert.equal(await page.getAttribute(`[data-camera="${id}"]`, 'data-codec'), 'h264', id);
    }
    assert.deepEqual(problems, [], 'no decoder error in the console');
    const lines = descendantCommandLines(camplex.pid);
    const transcoders = lines.filter((line) => line.includes('-i pipe:0'));
    assert.deepEqual(transcoders, [], 'no JPEG transcoder for a browser that decodes H.264');
    // porch is drawn from its sub-stream: its picture size, and its main stream never pulled.
    const sizes = await page.$$eval('[data-camera] canvas', (canvases) =>
      canvases.map((c) => `${(c as HTMLCanvasElement).width}x${(c as HTMLCanvasElement).height}`),
    );
    assert.deepEqual(sizes, ['640x360', '640x360', '320x180']);
    assert.equal(lines.filter((line) => line.includes(porchSub.url())).length, 1);
    assert.equal(lines.filter((line) => line.includes(camera.url('/porch'))).length, 0);
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('paints a page opened later within a second, from the last key unit', async () => {
    const page = await chromium.context.newPage();
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="front"]');
    // The first page left streaming on (it is remembered): start from a page that shows nothing.
    await page.click('#stop-all');
    await page.reload();
    await page.waitForSelector('[data-camera="front"][data-frames="0"]');
    const clicked = Date.now();
    await page.click('#stream-all');
    await page.waitForFunction(
      (ids) =>
        ids.every(
          (id) =>
            Number(document.querySelector(`[data-camera="${id}"]`)?.getAttribute('data-frames')) >
            0,
        ),
      CAMERAS,
      { timeout: 10_000 },
    );
    const painted = Date.now() - clicked;
    assert.ok(painted < 1000, `first pictures after ${painted} ms`);
    await page.close();
  });

  it('recovers from a killed ffmpeg without a stuck tile', async () => {
    const page = await chromium.context.newPage();
    await page.goto(camplex.url);
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.waitForSelector('[data-camera="yard"][data-codec="h264"]', { timeout: 20_000 });
    const yard = descendantCommandLines(camplex.pid).findIndex((line) =>
      line.includes(camera.url('/yard')),
    );
    const pid = descendantPids(camplex.pid)[yard];
    assert.ok(pid, 'the ffmpeg pulling yard');
    process.kill(pid, 'SIGKILL');
    const before = await framesOf(page, 'yard');
    await waitFor(async () => (await framesOf(page, 'yard')) >= before + 30, {
      timeoutMs: 20_000,
      what: 'yard to draw again after its ffmpeg was killed',
    });
    assert.equal(await page.getAttribute('[data-camera="yard"]', 'data-codec'), 'h264');
    assert.equal(await page.getAttribute('[data-camera="yard"]', 'data-state'), 'live');
    for (const id of ['front', 'porch']) assert.ok((await framesOf(page, id)) > 0);
    await page.close();
  });
});
