/**
 * H.264 through Media Source Extensions, in Chromium, on a plain-http page (not a secure
 * context, so no WebCodecs): `camplex.test` is mapped to 127.0.0.1 by a resolver rule, so the
 * page is insecure while every byte stays on loopback. Every tile plays its camera's own H.264
 * in a <video> (`data-decoder="mse"`) with no JPEG transcoder running; a page frozen for 20 s,
 * or hidden for 20 s, is back at the live edge within 2 s; and a 32-camera wall plays every
 * camera.
 *
 * Chromium only: freezing the page uses a Chrome DevTools session, which Firefox's BiDi and
 * WebKit's WebDriver lack; engines.test.ts plays Media Source in Firefox and ManagedMediaSource
 * in WebKit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantCommandLines } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const HOST = 'camplex.test';
const RESOLVE_TO_LOOPBACK = `--host-resolver-rules=MAP ${HOST} 127.0.0.1`;
const CAMERAS = ['front', 'yard', 'porch'];
const SCREENSHOT = fileURLToPath(new URL('../../test-results/mse.png', import.meta.url));
const WALL_SCREENSHOT = fileURLToPath(new URL('../../test-results/mse-wall.png', import.meta.url));
const WALL_SCREENSHOT_2 = fileURLToPath(
  new URL('../../test-results/mse-wall-2.png', import.meta.url),
);
/** A picture cut by camplex less than this long ago is at the live edge. */
const LIVE_EDGE_MS = 500;
/** How long a page is frozen or hidden. */
const FROZEN_MS = 20_000;

function configFor(camera: RtspCamera, ids: readonly string[]): string {
  return [
    'server:',
    `  allowedHosts: [${HOST}]`,
    'cameras:',
    ...ids.flatMap((id) => [`  ${id}:`, `    url: ${camera.url(`/${id}`)}`]),
  ].join('\n');
}

/** Opens the dashboard at the insecure origin, noting per tile the last picture's age. */
async function openInsecure(chromium: LaunchedChromium, camplex: CamplexProcess): Promise<Page> {
  const page = await chromium.context.newPage();
  // tsx wraps named functions inside page.evaluate callbacks in a Node-only `__name` helper.
  await page.addInitScript('globalThis.__name = (target) => target;');
  await page.addInitScript(() => {
    const last: Record<string, { at: number; ageMs: number }> = {};
    (globalThis as unknown as { lastPicture: typeof last }).lastPicture = last;
    // Tiles announce every picture shown; cutAt is when camplex cut its unit (same clock).
    document.addEventListener(
      'camplex-picture',
      (event) => {
        const tile = event.target as HTMLElement;
        const { cutAt } = (event as CustomEvent<{ cutAt?: number }>).detail;
        const id = tile.dataset.camera;
        if (id !== undefined && cutAt !== undefined) {
          last[id] = { at: Date.now(), ageMs: Date.now() - cutAt };
        }
      },
      true,
    );
  });
  const url = new URL(camplex.url);
  url.hostname = HOST;
  await page.goto(url.href);
  return page;
}

/** A dashboard at the insecure origin with every camera playing through MSE. */
async function playingPage(chromium: LaunchedChromium, camplex: CamplexProcess): Promise<Page> {
  const page = await openInsecure(chromium, camplex);
  if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
  for (const id of CAMERAS) {
    await page.waitForSelector(`[data-camera="${id}"][data-decoder="mse"]`, { timeout: 20_000 });
  }
  return page;
}

/**
 * Within 2 s of `since` every tile shows a picture under LIVE_EDGE_MS old, and a second later
 * it still does (it stays at the live edge rather than passing through it).
 */
async function assertBackAtLiveEdge(page: Page, since: number): Promise<void> {
  const ages = () =>
    page.evaluate(
      ({ ids, since }) => {
        const last = (
          globalThis as unknown as { lastPicture: Record<string, { at: number; ageMs: number }> }
        ).lastPicture;
        return ids.map((id) => {
          const picture = last[id];
          return picture !== undefined && picture.at >= since ? picture.ageMs : Infinity;
        });
      },
      { ids: CAMERAS, since },
    );
  let latest: number[] = [];
  const deadline = since + 2000;
  while (Date.now() < deadline) {
    latest = await ages();
    if (latest.every((age) => age < LIVE_EDGE_MS)) break;
    await delay(50);
  }
  assert.ok(
    latest.every((age) => age < LIVE_EDGE_MS),
    `ages of the last pictures 2 s after: ${latest.map(Math.round)} ms`,
  );
  await delay(1000);
  const steady = await ages();
  assert.ok(
    steady.every((age) => age < LIVE_EDGE_MS),
    `ages of the last pictures a second later: ${steady.map(Math.round)} ms`,
  );
}

async function framesOf(page: Page, id: string): Promise<number> {
  return Number(await page.getAttribute(`[data-camera="${id}"]`, 'data-frames'));
}

/** camplex's own console warnings (MSE errors, falls to JPEG) and every console error. */
function consoleProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' || text.startsWith('camplex:')) problems.push(text);
  });
  return problems;
}

describe('H.264 through Media Source Extensions on a plain-http page', () => {
  let camera: RtspCamera;
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    camera = await startRtspCamera({
      paths: CAMERAS.map((id) => `/${id}`),
      width: 640,
      height: 360,
      fps: 15,
    });
    camplex = await startCamplexProcess({ config: configFor(camera, CAMERAS) });
    chromium = await launchChromium([RESOLVE_TO_LOOPBACK]);
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await camera?.stop();
  });

  it('plays every camera from its own H.264 in a <video>, no WebCodecs, no JPEG transcoder', async () => {
    const page = await openInsecure(chromium, camplex);
    const problems = consoleProblems(page);
    await page.setViewportSize({ width: 1300, height: 500 });
    const context = await page.evaluate(() => ({
      secure: isSecureContext,
      webcodecs: typeof VideoDecoder !== 'undefined',
    }));
    assert.deepEqual(context, { secure: false, webcodecs: false }, 'an insecure origin');
    await page.click('#stream-all');
    for (const id of CAMERAS) {
      await page.waitForSelector(`[data-camera="${id}"][data-decoder="mse"][data-codec="h264"]`, {
        timeout: 20_000,
      });
    }
    const before = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    await page.waitForTimeout(5000); // several key frames (one a second)
    const after = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    CAMERAS.forEach((id, i) => {
      // 15 fps for 5 s (75), counted with requestVideoFrameCallback: MSE shows about 94% of them
      // on a quiet machine (B7); 60% leaves room for 2 cores shared with cameras and ffmpeg.
      assert.ok((after[i] ?? 0) - (before[i] ?? 0) >= 45, `${id}: ${before[i]} -> ${after[i]}`);
    });
    for (const id of CAMERAS) {
      assert.equal(await page.getAttribute(`[data-camera="${id}"]`, 'data-decoder'), 'mse', id);
    }
    // Each tile shows its <video>, playing at the camera's size, and not its canvas.
    const videos = await page.$$eval('[data-camera] video', (elements) =>
      elements.map((v) => {
        const video = v as HTMLVideoElement;
        const shown = getComputedStyle(video).display !== 'none';
        return `${video.videoWidth}x${video.videoHeight} ${shown ? 'shown' : 'hidden'}`;
      }),
    );
    assert.deepEqual(videos, ['640x360 shown', '640x360 shown', '640x360 shown']);
    assert.deepEqual(problems, [], 'no MSE error, no fall to JPEG, no console error');
    const transcoders = descendantCommandLines(camplex.pid).filter((line) =>
      line.includes('-i pipe:0'),
    );
    assert.deepEqual(transcoders, [], 'no JPEG transcoder for a page that plays H.264');
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('plays on through a media pipeline that fails a few times; goes to JPEG when it never plays', async () => {
    const page = await chromium.context.newPage();
    // Appends fail for two cameras' players, the way a busy WebKit fails to push a buffer:
    // `front`'s first 3 appends (then it works), every append of `yard`.
    await page.addInitScript(() => {
      const sourceOf = new WeakMap<SourceBuffer, MediaSource>();
      const urlOf = new WeakMap<MediaSource, string>();
      const addSourceBuffer = MediaSource.prototype.addSourceBuffer;
      MediaSource.prototype.addSourceBuffer = function (this: MediaSource, type: string) {
        const buffer = addSourceBuffer.call(this, type);
        sourceOf.set(buffer, this);
        return buffer;
      };
      const createObjectURL = URL.createObjectURL;
      URL.createObjectURL = (object: Blob | MediaSource) => {
        const url = createObjectURL(object);
        if (object instanceof MediaSource) urlOf.set(object, url);
        return url;
      };
      const failures: Record<string, number> = { front: 3, yard: Infinity };
      const appendBuffer = SourceBuffer.prototype.appendBuffer;
      SourceBuffer.prototype.appendBuffer = function (this: SourceBuffer, data: BufferSource) {
        const source = sourceOf.get(this);
        const url = source && urlOf.get(source);
        const video = [...document.querySelectorAll('video')].find((v) => v.src === url);
        const camera = video?.closest<HTMLElement>('[data-camera]')?.dataset.camera ?? '';
        if ((failures[camera] ?? 0) > 0) {
          failures[camera] = (failures[camera] ?? 0) - 1;
          throw new DOMException('injected failure', 'InvalidStateError');
        }
        appendBuffer.call(this, data);
      };
    });
    const url = new URL(camplex.url);
    url.hostname = HOST;
    await page.goto(url.href);
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.waitForSelector('[data-camera="yard"][data-decoder="jpeg"]', { timeout: 20_000 });
    assert.equal(
      await page.getAttribute('[data-camera="yard"]', 'data-video-failure'),
      'MSE: InvalidStateError',
    );
    for (const id of ['front', 'porch']) {
      await page.waitForSelector(`[data-camera="${id}"][data-decoder="mse"]`, { timeout: 20_000 });
      const before = await framesOf(page, id);
      await page.waitForFunction(
        ({ id, before }) =>
          Number(document.querySelector<HTMLElement>(`[data-camera="${id}"]`)?.dataset.frames) >
          before + 15,
        { id, before },
        { timeout: 10_000 },
      );
      assert.equal(await page.getAttribute(`[data-camera="${id}"]`, 'data-decoder'), 'mse', id);
    }
    await page.close();
  });

  it('is back at the live edge within 2 s after the page was frozen for 20 s', async () => {
    const page = await playingPage(chromium, camplex);
    // Headless Chromium ignores Page.setWebLifecycleState 'frozen' for a page it shows (and it
    // shows every page): pausing the page's JavaScript in the debugger freezes it the same way.
    // Units keep coming over the socket meanwhile and wait, unread, until it thaws.
    const cdp = await chromium.context.newCDPSession(page);
    const framesAtFreeze = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    await delay(FROZEN_MS);
    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
    const thawed = Date.now();
    const framesFrozen = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    assert.ok(
      framesFrozen.every((frames, i) => frames - (framesAtFreeze[i] ?? 0) < FROZEN_MS / 1000),
      `a frozen page counts no pictures: ${framesAtFreeze} -> ${framesFrozen}`,
    );
    await assertBackAtLiveEdge(page, thawed);
    await cdp.detach();
    await page.close();
  });

  it('is back at the live edge within 2 s after the tab was hidden for 20 s', async () => {
    const page = await playingPage(chromium, camplex);
    // Headless Chromium never hides a tab: the page is told it is hidden, as a browser tells it,
    // and unsubscribes; shown again, it subscribes and starts from the newest key unit.
    const setHidden = (hidden: boolean) =>
      page.evaluate((hidden) => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        Object.defineProperty(document, 'visibilityState', {
          configurable: true,
          get: () => (hidden ? 'hidden' : 'visible'),
        });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await setHidden(true);
    await delay(1000); // the last units in flight are played
    const framesHidden = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    await delay(FROZEN_MS - 1000);
    const framesLater = await Promise.all(CAMERAS.map((id) => framesOf(page, id)));
    assert.deepEqual(framesLater, framesHidden, 'a hidden tab is sent nothing');
    await setHidden(false);
    await assertBackAtLiveEdge(page, Date.now());
    await page.close();
  });
});

describe('a 32-camera wall through Media Source Extensions', () => {
  const WALL = Array.from({ length: 32 }, (_, i) => `cam${String(i + 1).padStart(2, '0')}`);
  let camera: RtspCamera;
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    // Small pictures at 10 fps: 32 encoders, 32 players and the test share 2 cores.
    camera = await startRtspCamera({
      paths: WALL.map((id) => `/${id}`),
      width: 320,
      height: 180,
      fps: 10,
    });
    camplex = await startCamplexProcess({ config: configFor(camera, WALL) });
    chromium = await launchChromium([RESOLVE_TO_LOOPBACK]);
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await camera?.stop();
  });

  it('plays all 32 cameras, a screen of 16 at a time, each in its own player', async () => {
    const page = await openInsecure(chromium, camplex);
    const problems = consoleProblems(page);
    // More than 25 cameras go to pages: two screens of 16.
    await page.setViewportSize({ width: 1600, height: 900 });
    await page.click('#stream-all');
    for (const screen of [WALL.slice(0, 16), WALL.slice(16)]) {
      if (screen[0] !== WALL[0]) await page.keyboard.press('PageDown');
      await page.waitForFunction(
        (ids) =>
          ids.every(
            (id) =>
              document.querySelector(`[data-camera="${id}"]`)?.getAttribute('data-decoder') ===
              'mse',
          ),
        screen,
        { timeout: 60_000, polling: 200 },
      );
      const before = await Promise.all(screen.map((id) => framesOf(page, id)));
      await page.waitForTimeout(4000);
      const after = await Promise.all(screen.map((id) => framesOf(page, id)));
      const stuck = screen.filter((_, i) => (after[i] ?? 0) - (before[i] ?? 0) < 10);
      assert.deepEqual(stuck, [], 'every camera shown drew at least 10 pictures in 4 s (10 fps)');
      await page.screenshot({ path: screen[0] === WALL[0] ? WALL_SCREENSHOT : WALL_SCREENSHOT_2 });
    }
    // The first screen's players are kept (no longer fed), so the page holds 32 at once.
    assert.equal(await page.locator('[data-camera] video').count(), WALL.length);
    assert.deepEqual(problems, []);
    const transcoders = descendantCommandLines(camplex.pid).filter((line) =>
      line.includes('-i pipe:0'),
    );
    assert.deepEqual(transcoders, [], 'no JPEG transcoder');
    await page.close();
  });
});
