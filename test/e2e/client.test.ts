/**
 * The embeddable client in Chromium, from another origin: the page docs/CLIENT.md shows is
 * served as it is (camplex's URL and the token filled in) by a plain HTTP server on another
 * port, and its tiles draw over one WebSocket authenticated by a token limited to two cameras
 * (a token with `/` and `=`, which a subprotocol cannot hold unencoded). What the token may not
 * watch it does not see; CORS answers only the origins camplex allows.
 *
 * Chromium only here: it watches the page's WebSocket and console through Playwright;
 * engines.test.ts draws the same docs page in every engine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';

const CLIENT_DOC = fileURLToPath(new URL('../../docs/CLIENT.md', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../../test-results/client.png', import.meta.url));
/** 44 characters with `/`, `+` and `=`: what a base64 token looks like. */
const TOKEN = 'q8/JxZ+0Lr3m2Wn6vKs1cTe4yHb7uPa9dFg5hBj0kQ==';
const OTHER_TOKEN = 'admin-token-0123456789abcdefghijklmnopqrstuv';

/** The first ```html block of docs/CLIENT.md. */
function documentedPage(): string {
  const text = readFileSync(CLIENT_DOC, 'utf8');
  const match = /```html\n([\s\S]*?)```/.exec(text);
  if (!match?.[1]) throw new Error('docs/CLIENT.md has no html example');
  return match[1];
}

describe('the embeddable client on a page of another origin', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;
  let pages: Server;
  let pageOrigin: string;

  before(async () => {
    pages = createServer();
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    camplex = await startCamplexProcess({
      config: [
        'server:',
        `  allowedOrigins: [${pageOrigin}]`,
        'auth:',
        '  tokens:',
        '    front-panel:',
        `      token: "${TOKEN}"`,
        '      cameras: [front-door, garage]',
        `    admin: ${OTHER_TOKEN}`,
        'cameras:',
        '  front-door: { url: "demo:1", name: Front door }',
        '  garage: { url: "demo:2", name: Garage }',
        '  vault: { url: "demo:3", name: Vault }',
        'groups:',
        '  inside: [garage, vault]',
      ].join('\n'),
    });
    const page = documentedPage()
      .replaceAll('http://camplex.lan:8080/', camplex.url)
      .replaceAll('PANEL_TOKEN', TOKEN);
    pages.on('request', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page);
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    await new Promise((resolve) => pages?.close(resolve));
  });

  it('draws the documented page: one camera and a grid of what the token may watch', async () => {
    const page = await chromium.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push(message.text());
      }
    });
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.goto(`${pageOrigin}/`);
    // Playwright's locators pierce open shadow roots.
    const frames = (selector: string) =>
      page
        .locator(selector)
        .evaluateAll((tiles) => tiles.map((tile) => Number((tile as HTMLElement).dataset.frames)));
    await waitFor(
      async () => {
        const counts = await frames('camplex-camera [data-camera="front-door"]');
        return counts.length === 1 && (counts[0] ?? 0) > 5;
      },
      { timeoutMs: 20_000, what: 'the embedded camera to draw' },
    );
    const grid = await page
      .locator('camplex-grid [data-camera]')
      .evaluateAll((tiles) => tiles.map((tile) => (tile as HTMLElement).dataset.camera));
    assert.deepEqual(grid, ['front-door', 'garage'], 'the token may watch two of three');
    await waitFor(async () => (await frames('camplex-grid [data-camera]')).every((n) => n > 5), {
      timeoutMs: 20_000,
      what: 'the grid to draw',
    });
    assert.equal(new Set(sockets).size, 1, `one socket for both elements: ${sockets}`);
    assert.equal(
      await page.evaluate(() => location.origin),
      pageOrigin,
      'the page is of another origin than camplex',
    );
    await page.screenshot({ path: SCREENSHOT });
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('answers a limited token as if other cameras did not exist', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const list = (await (await fetch(`${camplex.url}api/cameras`, { headers })).json()) as {
      cameras: Array<{ id: string }>;
      groups: Record<string, string[]>;
    };
    assert.deepEqual(
      list.cameras.map((camera) => camera.id),
      ['front-door', 'garage'],
    );
    assert.deepEqual(list.groups, { inside: ['garage'] });
    const vault = await fetch(`${camplex.url}snapshot/vault.jpg`, { headers });
    assert.equal(vault.status, 404);
    assert.equal(
      ((await vault.json()) as { error: { code: string } }).error.code,
      'CAMPLEX_ERR_UNKNOWN_CAMERA',
    );
    const metrics = await fetch(`${camplex.url}metrics`, { headers });
    assert.equal(metrics.status, 403);
    const full = await fetch(`${camplex.url}metrics`, {
      headers: { authorization: `Bearer ${OTHER_TOKEN}` },
    });
    assert.equal(full.status, 200, 'an unlimited token still reads metrics');

    // Over the socket: hello lists two cameras; subscribing to vault is "unknown camera".
    const ws = new WebSocket(
      camplex.wsUrl,
      ['camplex.v1', `camplex.token.${encodeURIComponent(TOKEN)}`],
      {
        origin: pageOrigin,
      },
    );
    const messages: Array<{
      type: string;
      cameras?: Array<{ id: string }> | string[];
      code?: string;
    }> = [];
    ws.on('message', (data, binary) => {
      if (!binary) messages.push(JSON.parse(String(data)));
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['vault', 'garage'] }));
    await waitFor(async () => messages.some((m) => m.type === 'error'), {
      timeoutMs: 5000,
      what: 'the error for vault',
    });
    const hello = messages.find((m) => m.type === 'hello');
    assert.deepEqual(
      ((hello?.cameras ?? []) as Array<{ id: string }>).map((camera) => camera.id),
      ['front-door', 'garage'],
    );
    const error = messages.find((m) => m.type === 'error');
    assert.equal(error?.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    assert.deepEqual(error?.cameras, ['vault']);
    assert.deepEqual(messages.find((m) => m.type === 'subscribed')?.cameras, ['garage']);
    ws.close();
  });

  it('sends CORS headers to allowed origins only, and answers their preflight before auth', async () => {
    const cors = async (origin: string, path: string) =>
      (
        await fetch(`${camplex.url}${path}`, {
          headers: { origin, authorization: `Bearer ${TOKEN}` },
        })
      ).headers.get('access-control-allow-origin');
    assert.equal(await cors(pageOrigin, 'api/cameras'), pageOrigin);
    assert.equal(await cors(pageOrigin, 'client.js'), pageOrigin);
    assert.equal(await cors(pageOrigin, 'snapshot/front-door.jpg'), pageOrigin, 'fallbacks too');
    assert.equal(await cors('http://evil.example', 'api/cameras'), null);
    assert.equal(await cors(pageOrigin, 'metrics'), null, 'only what embedding needs');
    const preflight = await fetch(`${camplex.url}api/cameras`, {
      method: 'OPTIONS',
      headers: {
        origin: pageOrigin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const stray = await fetch(`${camplex.url}api/cameras`, { method: 'OPTIONS' });
    assert.equal(
      stray.status,
      405,
      'an OPTIONS that is no preflight is refused like other methods',
    );
  });
});
