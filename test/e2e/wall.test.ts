/**
 * The camera wall in Chromium: it fits the window (16 cameras in 4 x 4 at 1280x720 and
 * 1920x1080, all streaming, nothing scrolling; one scrolling column on a phone, never wider
 * than the screen; re-fitted on resize), pages past 25 cameras, focus on one camera (click,
 * Enter, arrow keys, Esc, Back, `#camera=<id>`, its main stream), fullscreen, the truth in each
 * caption (fps and decoder, a stale warning, a retrying camera's countdown), groups as tabs, and
 * the order and hidden cameras remembered. Screenshots go to test-results/ (and the README's).
 *
 * Chromium only: layouts at many window sizes use Playwright's setViewportSize and Back its
 * goBack; engines.test.ts checks the wall, focus, keys, fullscreen and both color schemes in
 * every engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, freePort, pidsByCommandLine, waitFor } from '../../support/processes.js';

const shot = (name: string) =>
  fileURLToPath(new URL(`../../test-results/wall-${name}.png`, import.meta.url));
const README_PICTURE = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));

/** Every tile on the page, with what the test needs to know of it. */
async function tiles(page: Page) {
  return page.$$eval('[data-camera]', (elements) =>
    elements.map((element) => {
      const tile = element as HTMLElement;
      const box = tile.getBoundingClientRect();
      return {
        id: tile.dataset.camera ?? '',
        frames: Number(tile.dataset.frames),
        shown: !tile.hidden,
        box: { left: box.left, top: box.top, right: box.right, bottom: box.bottom },
      };
    }),
  );
}

async function scrollExtent(page: Page) {
  return page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    innerWidth,
    innerHeight,
  }));
}

async function allDrawing(page: Page, ids: readonly string[]): Promise<void> {
  const start = await page.$$eval('[data-camera]', (elements) =>
    Object.fromEntries(
      elements.map((e) => [
        (e as HTMLElement).dataset.camera,
        Number((e as HTMLElement).dataset.frames),
      ]),
    ),
  );
  await page.waitForFunction(
    ({ ids, start }) =>
      ids.every(
        (id) =>
          Number(document.querySelector<HTMLElement>(`[data-camera="${id}"]`)?.dataset.frames) >
          (start[id] ?? 0),
      ),
    { ids, start },
    { timeout: 20_000 },
  );
}

function problemsOf(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return problems;
}

describe('the wall fits the screen (16 demo cameras)', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;
  const ids = Array.from({ length: 16 }, (_, i) => `demo-${String(i + 1).padStart(2, '0')}`);

  before(async () => {
    camplex = await startCamplexProcess();
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
  });

  for (const [width, height] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    it(`shows all 16 in 4 x 4 at ${width}x${height}, all streaming, nothing scrolling`, async () => {
      const page = await chromium.context.newPage();
      const problems = problemsOf(page);
      await page.setViewportSize({ width, height });
      await page.goto(camplex.url);
      await page.waitForSelector('[data-camera="demo-16"]');
      if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
      await allDrawing(page, ids);
      const all = await tiles(page);
      assert.equal(all.length, 16);
      const columns = new Set(all.map((tile) => Math.round(tile.box.left)));
      const rows = new Set(all.map((tile) => Math.round(tile.box.top)));
      assert.deepEqual([columns.size, rows.size], [4, 4], '4 columns, 4 rows');
      for (const tile of all) {
        assert.ok(tile.box.right <= width && tile.box.bottom <= height, `${tile.id} on screen`);
      }
      const extent = await scrollExtent(page);
      assert.ok(extent.height <= height && extent.width <= width, JSON.stringify(extent));
      // Every tile is large: the 16 share most of the window.
      const area = all.reduce(
        (sum, { box }) => sum + (box.right - box.left) * (box.bottom - box.top),
        0,
      );
      assert.ok(
        area > 0.6 * width * height,
        `tiles cover ${Math.round((100 * area) / (width * height))}%`,
      );
      await page.waitForFunction(() =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every((tile) =>
          /\d+ fps · JPEG/.test(tile.querySelector('.detail')?.textContent ?? ''),
        ),
      );
      await page.screenshot({ path: shot(`${width}x${height}`) });
      if (width === 1280) {
        // Light and dark follow the system; the README shows the dark one.
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.screenshot({ path: shot(`${width}x${height}-dark`) });
        await page.screenshot({ path: README_PICTURE });
        const background = await page.evaluate(
          () => getComputedStyle(document.body).backgroundColor,
        );
        assert.equal(background, 'rgb(16, 18, 20)', 'dark background under a dark system');
        await page.emulateMedia({ colorScheme: 'light' });
        assert.equal(
          await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
          'rgb(243, 244, 246)',
        );
      }
      assert.deepEqual(problems, []);
      await page.close();
    });
  }

  it('re-fits when the window is resized, and stacks one column on a phone', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-16"]');
    await page.setViewportSize({ width: 900, height: 1000 });
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>('#grid')?.dataset.columns === '3',
    );
    const tall = await scrollExtent(page);
    assert.ok(tall.height <= 1000, 'still nothing scrolls');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>('#grid')?.dataset.layout === 'scroll',
    );
    const phone = await scrollExtent(page);
    assert.ok(phone.width <= 390, `no horizontal overflow: ${phone.width}`);
    assert.ok(phone.height > 844, 'the column scrolls');
    const lefts = new Set((await tiles(page)).map((tile) => Math.round(tile.box.left)));
    assert.equal(lefts.size, 1, 'one column');
    // Tiles subscribe as they scroll into view.
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await allDrawing(page, ['demo-01']);
    await page.locator('[data-camera="demo-16"]').scrollIntoViewIfNeeded();
    await allDrawing(page, ['demo-16']);
    await page.screenshot({ path: shot('390x844') });
    await page.close();
  });

  it('keeps a tile that scrolled away subscribed for 3 s, then stops it', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    const unsubscribed: Array<{ at: number; cameras: string[] }> = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        if (typeof payload !== 'string') return;
        const message = JSON.parse(payload) as { cmd: string; cameras?: string[] };
        if (message.cmd === 'unsubscribe' && message.cameras) {
          unsubscribed.push({ at: Date.now(), cameras: message.cameras });
        }
      }),
    );
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-16"]');
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await allDrawing(page, ['demo-01']);
    const scrolledAt = Date.now();
    await page.locator('[data-camera="demo-16"]').scrollIntoViewIfNeeded();
    await waitFor(async () => unsubscribed.some((u) => u.cameras.includes('demo-01')), {
      timeoutMs: 10_000,
      what: 'demo-01 unsubscribed once off screen',
    });
    const after = (unsubscribed.find((u) => u.cameras.includes('demo-01'))?.at ?? 0) - scrolledAt;
    assert.ok(after >= 2500, `unsubscribed ${after} ms after scrolling away (grace 3 s)`);
    // Back on screen within the grace, a tile is never unsubscribed at all.
    const mark = unsubscribed.length;
    await page.locator('[data-camera="demo-01"]').scrollIntoViewIfNeeded();
    await allDrawing(page, ['demo-01']);
    await page.locator('[data-camera="demo-08"]').scrollIntoViewIfNeeded();
    await page.locator('[data-camera="demo-01"]').scrollIntoViewIfNeeded();
    await allDrawing(page, ['demo-01']);
    assert.ok(
      unsubscribed.slice(mark).every((u) => !u.cameras.includes('demo-01')),
      'a quick scroll away and back does not restart it',
    );
    await page.close();
  });

  it('focuses a camera by click or Enter, moves with arrow keys, and returns with Esc or Back', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-16"]');
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.click('[data-camera="demo-06"]');
    await page.waitForURL(/#camera=demo-06$/);
    const focused = (await tiles(page)).filter((tile) => tile.shown);
    assert.deepEqual(
      focused.map((tile) => tile.id),
      ['demo-06'],
    );
    const box = focused[0]?.box;
    assert.ok(box && box.right - box.left > 1000, 'the focused camera is large');
    await allDrawing(page, ['demo-06']);
    await page.screenshot({ path: shot('focused') });
    // Only the focused camera is subscribed: the others stop drawing.
    await waitFor(
      async () => {
        const before = (await tiles(page)).find((tile) => tile.id === 'demo-01')?.frames;
        await page.waitForTimeout(600);
        return (await tiles(page)).find((tile) => tile.id === 'demo-01')?.frames === before;
      },
      { timeoutMs: 10_000, what: 'demo-01 to stop while demo-06 is focused' },
    );
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/#camera=demo-07$/);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !location.hash);
    assert.equal((await tiles(page)).filter((tile) => tile.shown).length, 16);
    // Keyboard only: arrows move the focus ring, Enter opens, Back returns.
    await page.focus('[data-camera="demo-01"]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    assert.equal(
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.camera),
      'demo-06',
    );
    await page.keyboard.press('Enter');
    await page.waitForURL(/#camera=demo-06$/);
    await page.goBack();
    await page.waitForFunction(() => !location.hash);
    assert.equal((await tiles(page)).filter((tile) => tile.shown).length, 16);
    // A bookmarked camera opens focused.
    await page.goto(`${camplex.url}#camera=demo-03`);
    await page.waitForSelector('[data-camera="demo-03"].focused');
    assert.equal((await tiles(page)).filter((tile) => tile.shown).length, 1);
    await page.close();
  });

  it('plays a focused camera without Stream All (a bookmark in a new browser), and stops it when left', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.evaluate(() => localStorage.removeItem('camplex.streaming')); // a new browser's
    await page.goto(`${camplex.url}#camera=demo-05`);
    await page.reload();
    await page.waitForSelector('[data-camera="demo-05"].focused');
    assert.equal(await page.isEnabled('#stream-all'), true, 'the wall is not streaming');
    await allDrawing(page, ['demo-05']);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !location.hash);
    await waitFor(
      async () => {
        const before = (await tiles(page)).find((tile) => tile.id === 'demo-05')?.frames;
        await page.waitForTimeout(600);
        return (await tiles(page)).find((tile) => tile.id === 'demo-05')?.frames === before;
      },
      { timeoutMs: 10_000, what: 'demo-05 to stop once the wall (not streaming) is back' },
    );
    await page.close();
  });

  it('goes fullscreen for the wall and for one camera', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-16"]');
    await page.click('#fullscreen');
    await page.waitForFunction(() => document.fullscreenElement?.id === 'grid');
    await page.keyboard.press('Escape'); // the browser leaves fullscreen
    await page.evaluate(() => document.fullscreenElement && document.exitFullscreen());
    await page.waitForFunction(() => document.fullscreenElement === null);
    await page.click('[data-camera="demo-02"]');
    await page.click('#fullscreen');
    await page.waitForFunction(
      () => (document.fullscreenElement as HTMLElement | null)?.dataset.camera === 'demo-02',
    );
    await page.evaluate(() => document.exitFullscreen());
    await page.close();
  });

  it('warns on a live tile whose pictures stopped', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-16"]');
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await allDrawing(page, ids);
    // Stop demo-05's ffmpeg (no exit, no frames): camplex calls it stalled only after 5 s.
    // Its lavfi source is the only one with this hue (args.ts: demoLook).
    const mine = new Set(descendantPids(camplex.pid));
    const ffmpeg = pidsByCommandLine('hue=h=188').find((pid) => mine.has(pid));
    assert.ok(ffmpeg, 'the ffmpeg of demo-05');
    process.kill(ffmpeg, 'SIGSTOP');
    try {
      await page.waitForSelector('[data-camera="demo-05"][data-stale][data-state="live"]', {
        timeout: 6000,
      });
      const caption = await page.textContent('[data-camera="demo-05"] .detail');
      assert.match(caption ?? '', /no new picture for \d+ s/);
      const others = await page.locator('[data-camera][data-stale]').count();
      assert.equal(others, 1, 'only the stopped camera is stale');
    } finally {
      process.kill(ffmpeg, 'SIGCONT');
    }
    await page.close();
  });
});

describe('the wall past one screen, groups and remembered choices', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    const dead = await freePort(); // nothing listens: the camera keeps failing
    camplex = await startCamplexProcess({
      args: ['--demo', '32'],
      config: [
        'cameras:',
        '  front: { url: "demo:1", substream: "demo:2", name: Front door }',
        '  garage: { url: "demo:3", name: Garage }',
        '  yard: { url: "demo:4", name: Yard }',
        `  attic: { url: "rtsp://127.0.0.1:${dead}/attic", name: Attic }`,
        'groups:',
        '  outside: [front, garage, yard]',
      ].join('\n'),
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
  });

  it('splits 36 cameras over two pages of 18 and streams the page shown', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="demo-32"]', { state: 'attached' });
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    assert.equal(await page.textContent('#pager .page'), '1 / 2');
    const first = (await tiles(page)).filter((tile) => tile.shown).map((tile) => tile.id);
    assert.equal(first.length, 18);
    assert.ok((await scrollExtent(page)).height <= 720, 'a page fits');
    await page.keyboard.press('PageDown');
    assert.equal(await page.textContent('#pager .page'), '2 / 2');
    const second = (await tiles(page)).filter((tile) => tile.shown).map((tile) => tile.id);
    assert.equal(second.length, 18);
    assert.deepEqual(
      second.filter((id) => first.includes(id)),
      [],
    );
    await allDrawing(
      page,
      second.filter((id) => id.startsWith('demo-')),
    );
    await page.screenshot({ path: shot('page-2') });
    await page.close();
  });

  it('shows a retrying camera with its countdown and reason', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.click('[data-camera="attic"]');
    // It moves between retrying and starting: catch it retrying, with countdown and reason.
    await page.waitForFunction(
      () =>
        /retrying in \d+ s - .*refused/i.test(
          document.querySelector('[data-camera="attic"] .state')?.textContent ?? '',
        ),
      undefined,
      { timeout: 20_000, polling: 50 },
    );
    await page.screenshot({ path: shot('retrying') });
    await page.close();
  });

  it('shows groups as tabs and remembers the order and hidden cameras', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(camplex.url);
    await page.waitForSelector('#groups button[data-group="outside"]');
    await page.click('#groups button[data-group="outside"]');
    const shown = async () =>
      (await tiles(page)).filter((tile) => tile.shown).map((tile) => tile.id);
    assert.deepEqual(await shown(), ['front', 'garage', 'yard']);
    // Arrange: yard first, garage hidden.
    await page.click('#arrange');
    await page.click('#arrange-dialog [data-id="yard"] [data-move="-1"]');
    await page.click('#arrange-dialog [data-id="yard"] [data-move="-1"]');
    await page.uncheck('#arrange-dialog [data-id="garage"] input');
    await page.click('#arrange-dialog [data-action="done"]');
    assert.deepEqual(await shown(), ['yard', 'front']);
    await page.screenshot({ path: shot('group') });
    await page.reload();
    await page.waitForSelector('[data-camera="yard"]');
    assert.deepEqual(await shown(), ['yard', 'front'], 'remembered after a reload');
    await page.click('#groups button[data-group=""]');
    const all = await shown();
    assert.equal(all[0], 'yard');
    assert.ok(!all.includes('garage'));
    await page.close();
  });

  it('shows a camera with a sub-stream from it in the grid, from its main stream focused', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    const subscribed: string[][] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        if (typeof payload !== 'string') return;
        const message = JSON.parse(payload) as { cmd: string; cameras?: string[] };
        if (message.cmd === 'subscribe' && message.cameras) subscribed.push(message.cameras);
      }),
    );
    await page.goto(camplex.url);
    await page.waitForSelector('[data-camera="front"]');
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await waitFor(async () => subscribed.flat().includes('front@sub'), {
      timeoutMs: 10_000,
      what: 'the grid to subscribe front@sub',
    });
    assert.ok(!subscribed.flat().includes('front'), 'not the main stream in the grid');
    await page.click('[data-camera="front"]');
    await waitFor(async () => subscribed.flat().includes('front'), {
      timeoutMs: 10_000,
      what: 'the focused camera to subscribe its main stream',
    });
    await allDrawing(page, ['front']);
    await page.close();
  });
});
