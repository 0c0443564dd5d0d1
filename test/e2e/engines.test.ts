/**
 * What a user sees, in every engine: Chromium, Firefox and WebKit (engines.ts says how each
 * is driven). Written once, run in each: the demo wall (every tile draws; screenshots of each
 * engine's wall in dark and light), focus / arrows / Esc / fullscreen, H.264 from RTSP cameras
 * on localhost and on a plain-http name (which decoder each engine picks, and WebKit's Media
 * Source path forced with `?decoder=mse`, the only one an iPhone has), the embeddable client
 * on another origin, and the page finding camplex again after a restart. Chromium's own, deeper
 * tests (layout at many sizes, MSE under freeze and hide, fallbacks) stay in the other files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Decoder } from '../../src/browser/decoder-ladder.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { ENGINES, type EngineName, type EnginePage, openPage } from '../../support/engines.js';
import { freePort } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const shot = (name: string) =>
  fileURLToPath(new URL(`../../test-results/engine-${name}.png`, import.meta.url));
const CLIENT_DOC = fileURLToPath(new URL('../../docs/CLIENT.md', import.meta.url));
const DEMO = Array.from({ length: 16 }, (_, i) => `demo-${String(i + 1).padStart(2, '0')}`);
const H264 = ['front', 'yard'];
const PLAIN_HTTP_NAME = 'camplex.test';
const TOKEN = 'engines-token-0123456789abcdefghijklmnop';

/**
 * What plays H.264 in each engine, as found on this machine. On localhost (a secure context)
 * every engine has WebCodecs. On a plain-http name Chromium and Firefox hide WebCodecs (it
 * wants a secure context) and play through Media Source; WebKitGTK exposes WebCodecs there too.
 */
const DECODERS: Record<EngineName, { localhost: Decoder; plainHttp: Decoder }> = {
  chromium: { localhost: 'webcodecs', plainHttp: 'mse' },
  firefox: { localhost: 'webcodecs', plainHttp: 'mse' },
  webkit: { localhost: 'webcodecs', plainHttp: 'webcodecs' },
};

/**
 * Engines whose harness refuses fullscreen, and why (the page's request fails quietly there:
 * wall.ts catches it). Headless Firefox denies every request ("Fullscreen request denied"),
 * with `full-screen-api.allow-trusted-requests-only` off too: tried by hand.
 */
const FULLSCREEN_REFUSED: Partial<Record<EngineName, string>> = {
  firefox: 'headless Firefox denies every fullscreen request',
};

/** Each tile's pictures shown so far, by camera (the page's own count, `data-frames`). */
const FRAMES = `Object.fromEntries([...document.querySelectorAll('[data-camera]')]
  .map((tile) => [tile.dataset.camera, Number(tile.dataset.frames)]))`;

/** Waits until each of `ids` has shown `pictures` more pictures than now. */
async function drawing(page: EnginePage, ids: readonly string[], pictures = 10): Promise<void> {
  const start = await page.evaluate<Record<string, number>>(FRAMES);
  const goal = JSON.stringify(
    Object.fromEntries(ids.map((id) => [id, (start[id] ?? 0) + pictures])),
  );
  await page.waitFor(
    `(() => { const now = ${FRAMES}; const goal = ${goal};
      return Object.keys(goal).every((id) => (now[id] ?? 0) >= goal[id]); })()`,
    { timeoutMs: 30_000, what: `${pictures} pictures on ${ids.join(', ')} in ${page.engine}` },
  );
}

/** What drew each tile of `ids` last, with why its video failed when it went to JPEG. */
const decodersOf = (page: EnginePage, ids: readonly string[]) =>
  page.evaluate<string[]>(
    `${JSON.stringify(ids)}.map((id) => { const tile = document.querySelector('[data-camera="' + id + '"]'); const why = tile?.dataset.videoFailure; return (tile?.dataset.decoder ?? '') + (why ? ' (' + why + ')' : ''); })`,
  );

/** Streams every tile (the first visit has streaming off). */
async function streamAll(page: EnginePage): Promise<void> {
  await page.waitFor(`document.querySelector('[data-camera]') !== null`, {
    timeoutMs: 15_000,
    what: 'the tiles',
  });
  if (await page.evaluate<boolean>(`!document.querySelector('#stream-all').disabled`)) {
    await page.click('#stream-all');
  }
}

/** The tiles' <video> elements that play a Media Source. */
const VIDEOS = `[...document.querySelectorAll('[data-camera] video')].filter((v) => v.srcObject || v.src)`;
/** Where each of them has media buffered up to, in seconds. */
const BUFFERED_TO = `${VIDEOS}.map((v) => v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0)`;

/**
 * ManagedMediaSource's rules, as WebKit shows them: the source given as `srcObject`, remote
 * playback disabled, `playbackRate` never changed; on `endstreaming` the page appends nothing
 * more, and on `startstreaming` it goes on (from a key unit). The events are the browser's to
 * send; here the test sends them as WebKit would when it wants no more media for a while.
 */
async function managedMediaSourceRules(page: EnginePage): Promise<void> {
  assert.deepEqual(
    await page.evaluate(
      `${VIDEOS}.map((v) => [v.srcObject instanceof ManagedMediaSource, v.disableRemotePlayback, v.playbackRate])`,
    ),
    H264.map(() => [true, true, 1]),
    'srcObject, remote playback disabled, normal rate',
  );
  await page.evaluate(
    `${VIDEOS}.forEach((v) => v.srcObject.dispatchEvent(new Event('endstreaming')))`,
  );
  await page.waitFor(
    `${VIDEOS}.every((v) => [...v.srcObject.sourceBuffers].every((b) => !b.updating))`,
    { timeoutMs: 5000, what: 'appends under way to finish' },
  );
  const held = await page.evaluate<number[]>(BUFFERED_TO);
  // An observation window, not a wait for a state: 15 pictures a second arrive meanwhile.
  await delay(1500);
  assert.deepEqual(await page.evaluate<number[]>(BUFFERED_TO), held, 'nothing appended');
  await page.evaluate(
    `${VIDEOS}.forEach((v) => v.srcObject.dispatchEvent(new Event('startstreaming')))`,
  );
  await page.waitFor(
    `(() => { const held = ${JSON.stringify(held)}; return ${BUFFERED_TO}.every((end, i) => end > held[i]); })()`,
    { timeoutMs: 15_000, what: 'appends to go on after startstreaming' },
  );
  assert.deepEqual(await page.evaluate(`${VIDEOS}.map((v) => v.playbackRate)`), [1, 1]);
}

describe('every browser engine', () => {
  let demo: CamplexProcess;
  let rtsp: RtspCamera;
  let video: CamplexProcess;
  let embed: CamplexProcess;
  let hostPages: Server;
  let hostOrigin: string;

  before(async () => {
    demo = await startCamplexProcess();
    rtsp = await startRtspCamera({
      width: 640,
      height: 360,
      fps: 15,
      paths: H264.map((id) => `/${id}`),
    });
    video = await startCamplexProcess({
      config: [
        'server:',
        `  allowedHosts: [${PLAIN_HTTP_NAME}]`,
        'cameras:',
        ...H264.map((id) => `  ${id}: { url: "${rtsp.url(`/${id}`)}" }`),
      ].join('\n'),
    });
    hostPages = createServer();
    await new Promise<void>((resolve) => hostPages.listen(0, '127.0.0.1', resolve));
    hostOrigin = `http://127.0.0.1:${(hostPages.address() as AddressInfo).port}`;
    embed = await startCamplexProcess({
      config: [
        'server:',
        `  allowedOrigins: [${hostOrigin}]`,
        'auth:',
        '  tokens:',
        '    front-panel:',
        `      token: "${TOKEN}"`,
        '      cameras: [front-door, garage]',
        'cameras:',
        '  front-door: { url: "demo:1", name: Front door }',
        '  garage: { url: "demo:2", name: Garage }',
        '  vault: { url: "demo:3", name: Vault }',
      ].join('\n'),
    });
    // docs/CLIENT.md's page as it is, with camplex's address and the token filled in.
    const doc = /```html\n([\s\S]*?)```/.exec(readFileSync(CLIENT_DOC, 'utf8'))?.[1];
    assert.ok(doc, 'docs/CLIENT.md has an html example');
    const page = doc
      .replaceAll('http://camplex.lan:8080/', embed.url)
      .replaceAll('PANEL_TOKEN', TOKEN);
    hostPages.on('request', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page);
    });
  });

  after(async () => {
    await Promise.all([demo?.stop(), video?.stop(), embed?.stop()]);
    await rtsp?.stop();
    await new Promise((resolve) => hostPages?.close(resolve));
  });

  for (const engine of ENGINES) {
    describe(engine, () => {
      it('draws every tile of the demo wall, in dark and in light', async () => {
        for (const colorScheme of ['dark', 'light'] as const) {
          const page = await openPage(engine, { colorScheme });
          try {
            await page.goto(demo.url);
            await streamAll(page);
            await drawing(page, DEMO);
            assert.deepEqual(
              [...new Set(await decodersOf(page, DEMO))],
              ['jpeg'],
              'demo cameras are JPEG',
            );
            const background = await page.evaluate<string>(
              'getComputedStyle(document.body).backgroundColor',
            );
            assert.equal(
              background,
              colorScheme === 'dark' ? 'rgb(16, 18, 20)' : 'rgb(243, 244, 246)',
              `${colorScheme} follows the system`,
            );
            await page.screenshot(shot(`${engine}-wall-${colorScheme}`));
          } finally {
            await page.close();
          }
        }
      });

      it('focuses a camera, moves with the arrow keys, and returns with Esc', async () => {
        const page = await openPage(engine);
        try {
          await page.goto(demo.url);
          await streamAll(page);
          await page.click('[data-camera="demo-06"]');
          await page.waitFor(`location.hash === '#camera=demo-06'`, {
            timeoutMs: 5000,
            what: 'demo-06 focused',
          });
          await drawing(page, ['demo-06']);
          const shown = await page.evaluate<string[]>(
            `[...document.querySelectorAll('[data-camera]')].filter((t) => !t.hidden).map((t) => t.dataset.camera)`,
          );
          assert.deepEqual(shown, ['demo-06'], 'only the focused camera is shown');
          await page.screenshot(shot(`${engine}-focused`));
          await page.press('ArrowRight');
          await page.waitFor(`location.hash === '#camera=demo-07'`, {
            timeoutMs: 5000,
            what: 'ArrowRight to move to demo-07',
          });
          await page.press('Escape');
          await page.waitFor(`location.hash === ''`, {
            timeoutMs: 5000,
            what: 'Esc back to the wall',
          });
        } finally {
          await page.close();
        }
      });

      it('goes fullscreen for the wall', { skip: FULLSCREEN_REFUSED[engine] }, async () => {
        const page = await openPage(engine);
        try {
          await page.goto(demo.url);
          await streamAll(page);
          await page.click('#fullscreen');
          await page.waitFor(`document.fullscreenElement?.id === 'grid'`, {
            timeoutMs: 5000,
            what: 'the wall fullscreen',
          });
          await drawing(page, DEMO.slice(0, 4));
          await page.evaluate('document.exitFullscreen()');
          await page.waitFor('document.fullscreenElement === null', {
            timeoutMs: 5000,
            what: 'fullscreen left',
          });
        } finally {
          await page.close();
        }
      });

      it('plays H.264 on localhost', async () => {
        const page = await openPage(engine);
        try {
          await page.goto(video.url);
          await streamAll(page);
          await drawing(page, H264);
          assert.deepEqual(
            await decodersOf(page, H264),
            H264.map(() => DECODERS[engine].localhost),
          );
          await page.screenshot(shot(`${engine}-h264-localhost`));
        } finally {
          await page.close();
        }
      });

      it('plays H.264 on a plain-http name (not a secure context)', async () => {
        const page = await openPage(engine, { loopbackNames: [PLAIN_HTTP_NAME] });
        try {
          const url = new URL(video.url);
          url.hostname = PLAIN_HTTP_NAME;
          await page.goto(url.href);
          assert.equal(await page.evaluate('isSecureContext'), false);
          await streamAll(page);
          await drawing(page, H264);
          assert.deepEqual(
            await decodersOf(page, H264),
            H264.map(() => DECODERS[engine].plainHttp),
          );
          await page.screenshot(shot(`${engine}-h264-plain-http`));
          if (engine !== 'webkit') return;
          // What an iPhone has: no WebCodecs there, only ManagedMediaSource.
          url.search = '?decoder=mse';
          await page.goto(url.href);
          assert.equal(await page.evaluate('typeof ManagedMediaSource'), 'function');
          await streamAll(page);
          await drawing(page, H264);
          assert.deepEqual(await decodersOf(page, H264), ['mse', 'mse']);
          await page.screenshot(shot(`${engine}-h264-managed-media-source`));
          await managedMediaSourceRules(page);
        } finally {
          await page.close();
        }
      });

      it('draws the embeddable client on a page of another origin', async () => {
        const page = await openPage(engine, { viewport: { width: 1000, height: 900 } });
        try {
          await page.goto(`${hostOrigin}/`);
          const embedded = `[...document.querySelectorAll('camplex-camera, camplex-grid')]
            .flatMap((element) => [...(element.shadowRoot?.querySelectorAll('[data-camera]') ?? [])])
            .map((tile) => [tile.dataset.camera, Number(tile.dataset.frames)])`;
          await page.waitFor(
            `(() => { const tiles = ${embedded}; return tiles.length === 3 && tiles.every(([, n]) => n > 5); })()`,
            { timeoutMs: 30_000, what: `the embedded camera and grid to draw in ${engine}` },
          );
          const ids = await page.evaluate<string[]>(`${embedded}.map(([id]) => id)`);
          assert.deepEqual(ids, ['front-door', 'front-door', 'garage'], 'what the token may watch');
          assert.equal(await page.evaluate('location.origin'), hostOrigin);
          await page.screenshot(shot(`${engine}-client`));
        } finally {
          await page.close();
        }
      });

      it('finds camplex again after it restarts, without a reload', async () => {
        const port = await freePort();
        const args = ['--port', String(port), '--demo', '4'];
        let camplex = await startCamplexProcess({ args });
        const page = await openPage(engine);
        try {
          await page.goto(camplex.url);
          await streamAll(page);
          const ids = ['demo-01', 'demo-02', 'demo-03', 'demo-04'];
          await drawing(page, ids);
          await page.evaluate('(window.__sameDocument = true)');
          await camplex.stop();
          await page.waitFor(`document.querySelector('[data-connection="down"]') !== null`, {
            timeoutMs: 10_000,
            what: 'the page to say it lost camplex',
          });
          camplex = await startCamplexProcess({ args });
          await drawing(page, ids);
          assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');
        } finally {
          await page.close();
          await camplex.stop();
        }
      });
    });
  }
});
