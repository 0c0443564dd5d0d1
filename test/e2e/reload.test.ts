/**
 * A config saved while a dashboard is open: the removed camera's tile goes away (with no error
 * on the page or refusal in the log), the added camera's tile appears and draws, the unchanged
 * camera's tile goes on, without a reload. A signed-in page whose password a reload changed
 * goes to the login page.
 *
 * Chromium only: the reload is the server's, and the tiles added and removed the same DOM code
 * in every engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/access/password.js';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, reloadWith, startCamplexProcess } from '../../support/camplex.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-results/reload.png', import.meta.url));

/**
 * camplex started on a config file the tests rewrite (`save`), and Chromium: started before the
 * suite's tests, stopped after them.
 */
function dashboardOn(first: string) {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-reload-e2e-'));
  const file = join(dir, 'camplex.yaml');
  const rig = {
    save: (text: string) => writeFileSync(file, text),
    camplex: undefined as unknown as CamplexProcess,
    chromium: undefined as unknown as LaunchedChromium,
  };
  before(async () => {
    rig.save(first);
    rig.camplex = await startCamplexProcess({ args: ['--config', file] });
    rig.chromium = await launchChromium();
  });
  after(async () => {
    await rig.chromium?.close();
    await rig.camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return rig;
}

describe('the dashboard when the config is reloaded', () => {
  const cameras = (list: Array<[string, number]>) =>
    ['cameras:', ...list.map(([id, n]) => `  ${id}: { url: "demo:${n}", name: ${id} }`)].join('\n');
  const rig = dashboardOn(
    cameras([
      ['front', 1],
      ['garage', 2],
    ]),
  );
  const write = (list: Array<[string, number]>) => rig.save(cameras(list));

  it('removes, adds and keeps tiles live, without a page reload', async () => {
    const page = await rig.chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(rig.camplex.url);
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = 'same page';
    });
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.waitForFunction(
      () =>
        Number(document.querySelector<HTMLElement>('[data-camera="garage"]')?.dataset.frames) > 5,
      undefined,
      { timeout: 15_000 },
    );
    write([
      ['front', 1],
      ['yard', 3],
    ]);
    await page.waitForSelector('[data-camera="garage"]', { state: 'detached', timeout: 10_000 });
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('[data-camera="yard"]')?.dataset.frames) > 5,
      undefined,
      { timeout: 15_000 },
    );
    const ids = await page.$$eval('[data-camera]', (tiles) =>
      tiles.map((tile) => (tile as HTMLElement).dataset.camera),
    );
    assert.deepEqual(ids, ['front', 'yard']);
    // The page knows the server dropped garage: it does not ask to unsubscribe it (refused as
    // an unknown camera, which showed as an error on the page and a refusal in the log).
    const status = await page.textContent('#status');
    assert.doesNotMatch(status ?? '', /unknown camera|CAMPLEX_ERR/, `status: ${status}`);
    const refused = rig.camplex.lines.filter((line) => /unknown camera|bad-message/.test(line));
    assert.deepEqual(refused, [], 'no refusal in the log');
    const front = Number(await page.getAttribute('[data-camera="front"]', 'data-frames'));
    await page.waitForFunction(
      (before) =>
        Number(document.querySelector<HTMLElement>('[data-camera="front"]')?.dataset.frames) >
        before + 5,
      front,
      { timeout: 5000 },
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: string }).marker),
      'same page',
    );
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('returns to the wall when the camera shown alone is removed, and stays there when it returns', async () => {
    const page = await rig.chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${rig.camplex.url}#camera=yard`);
    await page.waitForSelector('[data-camera="yard"].focused');
    write([['front', 1]]);
    await page.waitForSelector('[data-camera="yard"]', { state: 'detached', timeout: 10_000 });
    await page.waitForFunction(() => !location.hash, undefined, { timeout: 5000 });
    write([
      ['front', 1],
      ['yard', 3],
    ]);
    await page.waitForSelector('[data-camera="yard"]', { timeout: 10_000 });
    assert.equal(await page.$('.focused'), null, 'the wall, not yard alone');
    assert.equal(await page.evaluate(() => location.hash), '');
    await page.close();
  });
});

describe('a signed-in dashboard whose sign-in a reload ends', () => {
  const withPassword = (password: string) =>
    [
      'auth:',
      '  users:',
      `    alice: "${hashPassword(password)}"`,
      'cameras:',
      '  front: { url: "demo:1" }',
    ].join('\n');
  const rig = dashboardOn(withPassword('correct horse'));

  it('goes to the login page when the password changes, instead of reconnecting forever', async () => {
    const page = await rig.chromium.context.newPage();
    await page.goto(rig.camplex.url);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('input[name=user]', 'alice');
    await page.fill('input[name=password]', 'correct horse');
    await Promise.all([page.waitForURL(rig.camplex.url), page.click('button[type=submit]')]);
    if (await page.isEnabled('#stream-all')) await page.click('#stream-all');
    await page.waitForFunction(
      () =>
        Number(document.querySelector<HTMLElement>('[data-camera="front"]')?.dataset.frames) > 0,
      undefined,
      { timeout: 15_000 },
    );
    await reloadWith(rig.camplex, () => rig.save(withPassword('battery staple')));
    await page.waitForURL(/\/login$/, { timeout: 10_000 });
    await page.close();
  });
});
