/**
 * Moving a camera from the wall, in Chromium: the focused PTZ camera shows its pad and presets;
 * Shift+Right held moves it (the ONVIF simulator records ContinuousMove, repeated as a keep-alive
 * while held, key auto-repeat ignored) and letting go stops it; plain Right still switches
 * cameras. A scoped user sees only her cameras, and no controls even on one that has PTZ.
 *
 * Chromium only: holding Shift+Right with the key's auto-repeat needs Playwright's
 * keyboard.down; the keep-alive and dead-man are the page's timers and the server's, the same in
 * every engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/access/password.js';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type OnvifDevice, startOnvifDevice } from '../../support/onvif-device.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-results/ptz.png', import.meta.url));
const PASSWORD = 'a long household passphrase';

describe('PTZ and scoped users in Chromium', () => {
  let dome: OnvifDevice;
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;

  before(async () => {
    dome = await startOnvifDevice({ user: 'admin', password: 'onvif-pw' });
    const hash = hashPassword(PASSWORD);
    camplex = await startCamplexProcess({
      config: [
        'auth:',
        '  users:',
        `    admin: "${hash}"`,
        `    nanny: { password: "${hash}", cameras: [nursery, hall] }`,
        'cameras:',
        '  dome:',
        '    url: "demo:1"',
        `    ptz: { onvif: "${dome.url}", user: admin, password: onvif-pw }`,
        '  nursery: { url: "demo:2" }',
        '  hall:',
        '    url: "demo:3"',
        `    ptz: { onvif: "${dome.url}", user: admin, password: onvif-pw }`,
        '',
      ].join('\n'),
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await dome?.close();
  });

  /** A page signed in as `user` in a fresh context (its own cookies). */
  const signedIn = async (user: string) => {
    const context = await chromium.context.browser()?.newContext();
    assert.ok(context);
    const page = await context.newPage();
    await page.goto(camplex.url);
    await page.fill('input[name=user]', user);
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(camplex.url), page.click('button[type=submit]')]);
    return { page, context };
  };

  it('moves the focused camera while Shift+Right is held and stops it on release', async () => {
    const { page, context } = await signedIn('admin');
    await page.goto(`${camplex.url}#camera=dome`);
    await page.waitForSelector('#ptz:not([hidden])', { timeout: 15_000 });
    const presets = await page.$$eval('#ptz select option', (options) =>
      options.map((option) => option.textContent),
    );
    assert.deepEqual(presets, ['Presets…', 'Home', 'Gate']);
    await page.click('#stream-all');
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('[data-camera="dome"]')?.dataset.frames) > 0,
      undefined,
      { timeout: 20_000 },
    );
    const moves = () => dome.calls.filter((call) => call.action === 'ContinuousMove').length;
    const before = moves();
    await page.keyboard.down('Shift');
    await page.keyboard.down('ArrowRight');
    const move = await dome.waitFor('ContinuousMove', before + 1, 5000);
    assert.equal(move.body.x, 0.5);
    assert.equal(move.body.y, 0);
    assert.equal(move.body.timeout, 'PT2S');
    // Held for 1.5 s, with the browser's key auto-repeat: the page's keep-alives hold the move
    // (no Stop), and the auto-repeat sends nothing of its own.
    for (let i = 0; i < 15; i++) {
      await page.keyboard.down('ArrowRight'); // what auto-repeat looks like (repeat: true)
      await page.waitForTimeout(100);
    }
    assert.ok(
      !dome.calls.some((call) => call.action === 'Stop' && call.at > move.at),
      'held by the page',
    );
    assert.equal(await page.getAttribute('[data-ptz="right"]', 'aria-pressed'), 'true');
    await page.screenshot({ path: SCREENSHOT });
    const stops = dome.calls.filter((call) => call.action === 'Stop').length;
    await page.keyboard.up('ArrowRight');
    await page.keyboard.up('Shift');
    const stop = await dome.waitFor('Stop', stops + 1, 5000);
    assert.ok(stop.at > move.at);
    assert.equal(
      new URL(page.url()).hash,
      '#camera=dome',
      'Shift+Right moved the camera, not the page',
    );

    // The pad: a held button moves, letting go stops.
    const padMoves = moves();
    const pad = await page.$('[data-ptz="up"]');
    const box = await pad?.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    const up = await dome.waitFor('ContinuousMove', padMoves + 1, 5000);
    assert.equal(up.body.y, 0.5);
    const padStops = dome.calls.filter((call) => call.action === 'Stop').length;
    await page.mouse.up();
    await dome.waitFor('Stop', padStops + 1, 5000);

    // A preset from the list.
    await page.selectOption('#ptz select', '2');
    const preset = await dome.waitFor('GotoPreset', 1, 5000);
    assert.equal(preset.body.preset, '2');

    // Plain Right still switches cameras; the nursery has no PTZ, so no controls.
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => location.hash === '#camera=nursery');
    await page.waitForSelector('#ptz', { state: 'hidden' });
    await context.close();
  });

  it('shows a scoped user only her cameras, and no controls even on a PTZ camera', async () => {
    // The hall camera can be moved: the admin is offered its controls.
    const admin = await signedIn('admin');
    await admin.page.goto(`${camplex.url}#camera=hall`);
    await admin.page.waitForSelector('#ptz:not([hidden])', { timeout: 15_000 });
    await admin.context.close();

    const { page, context } = await signedIn('nanny');
    await page.waitForSelector('[data-camera="nursery"]', { timeout: 15_000 });
    const ids = await page.$$eval('[data-camera]', (tiles) =>
      tiles.map((tile) => (tile as HTMLElement).dataset.camera),
    );
    assert.deepEqual(ids, ['nursery', 'hall']);
    await page.goto(`${camplex.url}#camera=dome`); // a camera she may not see: nothing
    await page.waitForSelector('[data-camera="nursery"]');
    assert.equal(await page.isVisible('[data-camera="dome"]'), false);
    // Hers, and it has PTZ, but she may not move it: no controls, and keys move nothing.
    await page.goto(`${camplex.url}#camera=hall`);
    await page.waitForFunction(() => location.hash === '#camera=hall');
    await page.click('#stream-all');
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('[data-camera="hall"]')?.dataset.frames) > 0,
      undefined,
      { timeout: 20_000 },
    );
    assert.equal(await page.isVisible('#ptz'), false);
    const moves = dome.calls.length;
    await page.keyboard.down('Shift');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.up('Shift');
    assert.equal(dome.calls.length, moves, 'nothing reached the camera');
    assert.equal(new URL(page.url()).hash, '#camera=hall', 'Shift+arrows never switch cameras');
    await context.close();
  });
});
