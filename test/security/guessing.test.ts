/**
 * Password and token guessing. A crowd guessing passwords from 30 addresses must not stall the
 * viewers (checks run off the event loop, a few at a time): the viewer's longest frame gap stays
 * within 2x the gap measured without the crowd in the same run. An account under attack from
 * many addresses is slowed, not locked: its owner's browser still signs in. Wrong bearer tokens
 * are limited per address; behind a trusted proxy, per forwarded client (IPv6 by /64), and a
 * limited client stays limited through 10,002 requests from fresh addresses.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hashPassword } from '../../src/access/password.js';
import { type HttpReply, httpRequest } from './clients.js';
import { handshake, rawRequest } from './raw-websocket.js';
import {
  assertStillServing,
  startWatched,
  stopWatched,
  type Watched,
  waitForEntry,
} from './watch.js';

const TOKEN = 'nvr_0123456789abcdefghijklmnopqrstuvwxyz';
const WRONG = 'bad_0123456789abcdefghijklmnopqrstuvwxyz';
const PASSWORD = 'correct horse';
const CAMERAS = ['demo-01', 'demo-02'];
const FAILURES_PER_MINUTE = 10;
const PROXY = '127.0.9.9';
const WINDOW_MS = 6000;

const form = (user: string, password: string) => new URLSearchParams({ user, password }).toString();

function login(
  port: number,
  user: string,
  password: string,
  extra: { localAddress?: string; cookie?: string } = {},
) {
  return httpRequest(port, '/login', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(extra.cookie ? { Cookie: extra.cookie } : {}),
    },
    body: form(user, password),
    ...(extra.localAddress ? { localAddress: extra.localAddress } : {}),
  });
}

function cookies(reply: HttpReply): string {
  const set = reply.headers['set-cookie'];
  return (Array.isArray(set) ? set : []).map((cookie) => cookie.split(';')[0]).join('; ');
}

describe('guessing passwords and tokens', () => {
  let watched: Watched;

  before(async () => {
    watched = await startWatched({
      config: [
        'auth:',
        '  users:',
        `    alice: "${hashPassword(PASSWORD)}"`,
        '  tokens:',
        `    nvr: ${TOKEN}`,
        'server:',
        `  trustedProxies: [${PROXY}]`,
        'limits:',
        `  authFailuresPerMinute: ${FAILURES_PER_MINUTE}`,
        'cameras: {}',
      ],
      args: ['--demo', '2'],
      cameras: CAMERAS,
      auth: { Authorization: `Bearer ${TOKEN}` },
    });
  });

  after(() => stopWatched(watched));

  it('keeps the viewers streaming while 30 addresses guess passwords', async (t) => {
    const mark = watched.camplex.lines.length;
    const gapOver = async (work: () => Promise<unknown>) => {
      const since = Date.now();
      await work();
      return Math.max(...CAMERAS.map((camera) => watched.viewer.longestGap(camera, since)));
    };
    const quiet = await gapOver(() => delay(WINDOW_MS));
    const outcomes = new Map<number, number>();
    const crowd = await gapOver(async () => {
      const until = Date.now() + WINDOW_MS;
      await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          for (let n = 0; Date.now() < until && n < 200; n++) {
            const reply = await login(watched.port, `guess${i}-${n}`, 'hunter2', {
              localAddress: `127.0.8.${i + 1}`,
            });
            outcomes.set(reply.status, (outcomes.get(reply.status) ?? 0) + 1);
          }
        }),
      );
    });
    t.diagnostic(
      `longest frame gap: ${quiet} ms without the crowd, ${crowd} ms with it; ` +
        `answers ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    assert.ok((outcomes.get(401) ?? 0) >= 30, 'the crowd had its passwords checked');
    assert.ok(crowd <= 2 * quiet, `gap ${crowd} ms with the crowd, ${quiet} ms without`);
    await assertStillServing(watched, Date.now(), mark, t);
  });

  it("slows an account under attack from 40 addresses but lets its owner's browser in", async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    const owner = await login(port, 'alice', PASSWORD);
    assert.equal(owner.status, 303, 'the owner signs in before the attack');
    const device = cookies(owner)
      .split('; ')
      .find((cookie) => cookie.startsWith('camplex_device='));
    assert.ok(device, 'a trusted-device cookie');
    // 40 guesses at once: a few are checked at once, a few held for their turn, the rest refused.
    const guesses = Array.from({ length: 40 }, (_, i) =>
      login(port, 'alice', `guess-${i}`, { localAddress: `127.0.10.${i + 1}` }).catch(
        () => undefined,
      ),
    );
    const stillHeld = (await Promise.race([Promise.all(guesses), delay(2000)])) === undefined;
    assert.ok(stillHeld, 'some guesses are still held for their turn two seconds later');
    const fresh = await login(port, 'alice', PASSWORD);
    assert.equal(fresh.status, 429, 'a browser never seen before waits its turn');
    assert.ok(
      Number(fresh.headers['retry-after']) > 10,
      `Retry-After ${fresh.headers['retry-after']}`,
    );
    assert.match(JSON.parse(fresh.body).error.message, /too many failed sign-ins to this account/);
    const trusted = await login(port, 'alice', PASSWORD, { cookie: device });
    assert.equal(trusted.status, 303, "the owner's browser signs in at once");
    await waitForEntry(watched.camplex, mark, { limit: 'account-slowed', user: 'alice' });
    await Promise.all(guesses);
    await assertStillServing(watched, since, mark, t);
  });

  it('refuses tokens from an address after 10 wrong ones, on HTTP and on the upgrade', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    const from = '127.0.9.1';
    const get = (token: string, localAddress = from) =>
      httpRequest(port, '/api/cameras', {
        headers: { Authorization: `Bearer ${token}` },
        localAddress,
      });
    for (let i = 0; i < FAILURES_PER_MINUTE; i++) assert.equal((await get(WRONG)).status, 401);
    const limited = await get(WRONG);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '60');
    assert.equal((await get(TOKEN)).status, 429, 'even the right token waits at that address');
    const upgrade = await rawRequest(
      { port, localAddress: from },
      handshake({
        headers: { 'Sec-WebSocket-Protocol': `camplex.v1, camplex.token.${TOKEN}` },
        host: `127.0.0.1:${port}`,
      }).text,
    );
    upgrade.socket.destroy();
    assert.equal(upgrade.status, 429);
    assert.equal((await get(TOKEN, '127.0.9.2')).status, 200, 'another address is not limited');
    await waitForEntry(watched.camplex, mark, { limit: 'login-rate', address: from });
    await assertStillServing(watched, since, mark, t);
  });

  it('limits forwarded clients behind a trusted proxy, IPv6 by /64, through table pressure', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress: PROXY });
    const via = (client: string, token = WRONG) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: watched.port,
            path: '/api/cameras',
            agent,
            headers: {
              Authorization: `Bearer ${token}`,
              'X-Forwarded-For': `203.0.113.99, ${client}`,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      for (let i = 0; i < FAILURES_PER_MINUTE; i++) assert.equal(await via('198.51.100.1'), 401);
      assert.equal(await via('198.51.100.1'), 429, 'the forwarded client is limited');
      assert.equal(await via('198.51.100.2', TOKEN), 200, 'not the proxy: its other clients pass');
      for (let i = 0; i < FAILURES_PER_MINUTE; i++)
        assert.equal(await via(`2001:db8:1:2::${i + 1}`), 401);
      assert.equal(await via('2001:db8:1:2::ffff'), 429, 'the same /64 is one client');
      assert.equal(await via('2001:db8:1:3::1'), 401, 'the next /64 is another');
      // 10,002 cheap failures from fresh addresses fill the table; the limited client stays.
      for (let batch = 0; batch < 10_002; batch += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, 10_002 - batch) }, (_, i) => {
            const n = batch + i;
            return via(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
          }),
        );
      }
      assert.equal(await via('198.51.100.1'), 429, 'still limited after the table filled');
      assert.equal(await via('2001:db8:1:2::7'), 429);
    } finally {
      agent.destroy();
    }
    await assertStillServing(watched, since, mark, t);
  });
});
