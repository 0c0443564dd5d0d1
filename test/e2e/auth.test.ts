/**
 * Who may watch, in Chromium: the login page, a session cookie that is HttpOnly and
 * SameSite=Strict, logout closing that session's sockets with 1008, a token riding in the
 * WebSocket subprotocol, and Cross-Site WebSocket Hijacking refused although the browser sends
 * the victim's cookie along.
 *
 * Chromium only: it reads the session cookie's flags from Playwright's cookie store; the cookie
 * and hijacking rules are the server's, the same for every engine, and engines.test.ts signs the
 * embeddable client in with a token in each engine.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { hashPassword } from '../../src/access/password.js';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';

const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyz';
const LOGIN_SCREENSHOT = fileURLToPath(new URL('../../test-results/login.png', import.meta.url));

/** Opens a WebSocket from `page` and reports how it ended: hello received, or close code. */
function tryWebSocket(page: Page, url: string, protocols: string[] = []) {
  return page.evaluate(
    ({ url, protocols }) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url, protocols);
        ws.onmessage = (event) => {
          if (JSON.parse(String(event.data)).type === 'hello') {
            resolve('hello');
            ws.close();
          }
        };
        ws.onclose = (event) => resolve(`closed ${event.code}`);
      }),
    { url, protocols },
  );
}

describe('authentication and origin checks in Chromium', () => {
  let camplex: CamplexProcess;
  let chromium: LaunchedChromium;
  let attacker: Server;

  before(async () => {
    camplex = await startCamplexProcess({
      args: ['--demo', '2'],
      config: [
        'auth:',
        '  users:',
        `    alice: "${hashPassword('correct horse')}"`,
        '  tokens:',
        `    nvr: ${TOKEN}`,
        'cameras: {}',
      ].join('\n'),
    });
    chromium = await launchChromium();
    // Another origin on the same machine (another port): same site, so SameSite=Strict cookies
    // still go along with its requests. Only the Origin check stands in the way.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>evil</title><p>nothing to see</p>');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
    attacker?.close();
  });

  it('sends a person to the login page, refuses a wrong password, and lets alice in', async () => {
    const page = await chromium.context.newPage();
    await page.goto(camplex.url);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.screenshot({ path: LOGIN_SCREENSHOT });
    await page.fill('input[name=user]', 'alice');
    await page.fill('input[name=password]', 'wrong');
    const refused = await Promise.all([
      page.waitForNavigation(),
      page.click('button[type=submit]'),
    ]);
    assert.equal(refused[0]?.status(), 401);
    assert.match((await page.textContent('[role=alert]')) ?? '', /Wrong user name or password/);

    await page.fill('input[name=user]', 'alice');
    await page.fill('input[name=password]', 'correct horse');
    await Promise.all([page.waitForURL(camplex.url), page.click('button[type=submit]')]);
    const [cookie] = await chromium.context.cookies(camplex.url);
    assert.equal(cookie?.name, 'camplex_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.secure, false, 'plain HTTP here; Secure is set under TLS');
    await page.click('#stream-all');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every(
          (t) => Number(t.dataset.frames) > 0,
        ),
      undefined,
      { timeout: 20_000 },
    );
    assert.equal(await page.isVisible('#logout'), true);
    await page.close();
  });

  it('refuses a WebSocket from a page of another origin although the cookie goes along', async () => {
    const page = await chromium.context.newPage();
    const port = (attacker.address() as AddressInfo).port;
    await page.goto(`http://127.0.0.1:${port}/`);
    const refusals = camplex.lines.filter((line) => line.includes('"limit":"origin"')).length;
    assert.equal(await tryWebSocket(page, camplex.wsUrl), 'closed 1006');
    await waitFor(
      () => camplex.lines.filter((l) => l.includes('"limit":"origin"')).length > refusals,
      {
        timeoutMs: 5000,
        what: 'the origin refusal in the log',
      },
    );
    // The same page cannot read camera data over HTTP either: no CORS headers, so the
    // browser keeps the response from the script.
    const read = await page.evaluate(async (url) => {
      try {
        await (await fetch(`${url}api/cameras`, { credentials: 'include' })).text();
        return 'read';
      } catch {
        return 'blocked';
      }
    }, camplex.url);
    assert.equal(read, 'blocked');
    await page.close();
  });

  it('accepts a token in the subprotocol and refuses a wrong one before the 101', async () => {
    const fresh = await chromium.context.browser()?.newContext();
    const page = await (fresh ?? chromium.context).newPage();
    await page.goto(`${camplex.url}healthz`); // public, and camplex's origin
    assert.equal(
      await tryWebSocket(page, camplex.wsUrl, ['camplex.v1', `camplex.token.${TOKEN}`]),
      'hello',
    );
    assert.equal(
      await tryWebSocket(page, camplex.wsUrl, ['camplex.v1', 'camplex.token.wrong']),
      'closed 1006',
    );
    await page.close();
  });

  it('closes the sockets of a session with 1008 when it logs out', async () => {
    const watcher = await chromium.context.newPage();
    await watcher.goto(`${camplex.url}healthz`);
    const closeCode = watcher.evaluate(
      (url) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url);
          ws.onclose = (event) => resolve(event.code);
        }),
      camplex.wsUrl,
    );
    const page = await chromium.context.newPage();
    await page.goto(camplex.url);
    await Promise.all([page.waitForURL(/\/login$/), page.click('#logout button')]);
    assert.equal(await closeCode, 1008);
    // Signed out: the dashboard sends this browser back to the login page.
    await page.goto(camplex.url);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.close();
    await watcher.close();
  });
});
