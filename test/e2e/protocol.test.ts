/**
 * The shared protocol test vectors, in Chromium: the browser codec decodes them exactly, and a
 * live camplex answers every invalid client message from the vectors with the documented error,
 * over a WebSocket the page opened itself.
 *
 * Chromium only: the vectors test the browser codec's JavaScript, one bundle for every engine,
 * and the server's answers to a socket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { invalidClientMessageVectors } from '../fixtures/protocol-vectors.js';

describe('protocol test vectors in Chromium', () => {
  let chromium: LaunchedChromium;
  let camplex: CamplexProcess;
  let page: Page;

  before(async () => {
    camplex = await startCamplexProcess({ args: ['--demo', '2'] });
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    await page.goto(`${camplex.url}healthz`); // any page of camplex's origin
  });

  after(async () => {
    await chromium?.close();
    await camplex?.stop();
  });

  it('decodes and encodes every vector with the browser bundle of the codec', async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('./vectors-entry.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'chrome100',
    });
    await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? '' });
    const failures = await page.evaluate(() =>
      (window as unknown as { camplexVectors: { run(): string[] } }).camplexVectors.run(),
    );
    assert.deepEqual(failures, []);
  });

  it('gets the documented error for every invalid client message, socket kept open', async () => {
    const texts = invalidClientMessageVectors.map((vector) => vector.text);
    const replies = await page.evaluate(
      ({ url, texts }) =>
        new Promise<Array<{ code: string; message: string }> | string>((resolve) => {
          const ws = new WebSocket(url);
          const errors: Array<{ code: string; message: string }> = [];
          ws.onmessage = (event) => {
            const message = JSON.parse(String(event.data));
            if (message.type === 'hello') for (const text of texts) ws.send(text);
            if (message.type === 'error')
              errors.push({ code: message.code, message: message.message });
            if (errors.length === texts.length) {
              resolve(ws.readyState === WebSocket.OPEN ? errors : 'socket closed');
              ws.close();
            }
          };
          ws.onclose = (event) => resolve(`closed early with ${event.code}`);
        }),
      { url: camplex.wsUrl, texts },
    );
    assert.deepEqual(
      replies,
      invalidClientMessageVectors.map(({ code, message }) => ({ code, message })),
    );
  });
});
