/**
 * With access open (loopback, no users or tokens), only Host names camplex trusts are answered,
 * so a DNS-rebinding page cannot reach it under a name of its own. Names built to look like a
 * trusted one (`[::1]evil.com`) are refused on HTTP and on the WebSocket upgrade alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handshake, rawRequest } from './raw-websocket.js';
import { assertStillServing, startWatched, stopWatched, type Watched } from './watch.js';

const TRICKS = [
  '[::1]evil.com',
  '[::1]:80evil.com',
  '127.0.0.1.evil.com',
  'localhost.evil.com',
  '[evil.com]',
];

describe('Host names while access is open', () => {
  let watched: Watched;

  before(async () => {
    watched = await startWatched({
      config: ['cameras: {}'],
      args: ['--demo', '1'],
      cameras: ['demo-01'],
    });
  });

  after(() => stopWatched(watched));

  it('refuses Host names dressed up as trusted ones, on HTTP and on the upgrade', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    for (const host of TRICKS) {
      const plain = await rawRequest(
        { port },
        `GET /api/cameras HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(plain.status, 403, `HTTP with Host ${host}`);
      assert.match(plain.body, /CAMPLEX_ERR_HOST/);
      const upgrade = await rawRequest({ port }, handshake({ host }).text);
      upgrade.socket.destroy();
      assert.equal(upgrade.status, 403, `upgrade with Host ${host}`);
    }
    for (const host of [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`]) {
      const plain = await rawRequest(
        { port },
        `GET /api/cameras HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(plain.status, 200, `HTTP with Host ${host}`);
    }
    await assertStillServing(watched, since, mark, t);
  });
});
