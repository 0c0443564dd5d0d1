/**
 * Camera passwords that URL-shape matching cannot find (spaces, '/', '@', ':', '%', unicode),
 * in the URL or in the `user`/`password` keys, against a port that refuses: real ffmpeg prints
 * the URL in its error, and camplex must keep every password and user name out of viewers'
 * state messages, the API, snapshot errors, its log and its stderr. API tokens too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, waitFor } from '../../support/processes.js';
import { httpRequest } from './clients.js';
import { assertStillServing, startWatched, stopWatched, type Watched } from './watch.js';

const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyz';

/** Passwords a person might choose, and the user names beside them. */
const SECRETS: Array<{ id: string; user: string; password: string; inUrl: boolean }> = [
  { id: 'spaces', user: 'admin', password: 'correct horse battery staple', inUrl: true },
  { id: 'slash', user: 'admin', password: 'pa/ss@word', inUrl: true },
  { id: 'colons', user: 'operator', password: 'a:b@c%41d', inUrl: true },
  { id: 'keys', user: 'ad min', password: 'p@s/s: wé%20漢 🔑', inUrl: false },
  { id: 'quotes', user: 'viewer', password: 'say "cheese" \\ now', inUrl: false },
];

describe('camera secrets', () => {
  let watched: Watched;
  let port: number;

  before(async () => {
    port = await freePort(); // nothing listens: ffmpeg fails and says why, URL and all
    const cameras = SECRETS.map(({ id, user, password, inUrl }) =>
      inUrl
        ? `  ${id}: { url: ${JSON.stringify(`rtsp://${user}:${password}@127.0.0.1:${port}/x`)} }`
        : `  ${id}: { url: "rtsp://127.0.0.1:${port}/x", user: ${JSON.stringify(user)}, password: ${JSON.stringify(password)} }`,
    );
    watched = await startWatched({
      config: ['auth:', '  tokens:', `    nvr: ${TOKEN}`, 'cameras:', ...cameras],
      args: ['--demo', '1'],
      cameras: ['demo-01'],
      auth: { Authorization: `Bearer ${TOKEN}` },
    });
  });

  after(() => stopWatched(watched));

  it('never shows a camera password or user info to viewers, the API, logs or stderr', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const ids = SECRETS.map((secret) => secret.id);
    const ack = await watched.viewer.reply(JSON.stringify({ cmd: 'subscribe', cameras: ids }));
    assert.equal(ack.type, 'subscribed');
    await waitFor(
      () =>
        ids.every((id) =>
          watched.viewer.messages.some(
            (m) => m.type === 'state' && m.id === id && m.state === 'retrying' && m.reason,
          ),
        ),
      { timeoutMs: 15_000, what: 'a failure reason for every camera' },
    );
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    const api = await httpRequest(watched.port, '/api/cameras', auth);
    const snapshots = await Promise.all(
      ids.map((id) => httpRequest(watched.port, `/snapshot/${id}.jpg`, auth)),
    );
    const reasons = watched.viewer.messages.filter((m) => m.type === 'state' && ids.includes(m.id));
    t.diagnostic(`a reason viewers saw: ${JSON.stringify(reasons.at(-1))}`);
    const seen = {
      viewer: JSON.stringify(watched.viewer.messages),
      api: api.body,
      snapshots: snapshots.map((reply) => reply.body).join('\n'),
      log: watched.camplex.lines.join('\n'),
      stderr: watched.camplex.stderr(),
    };
    assert.match(seen.log, /Connection refused/, 'ffmpeg did say why, in the log');
    for (const { user, password } of SECRETS) {
      const forms = [password, encodeURIComponent(password), JSON.stringify(password).slice(1, -1)];
      for (const [where, text] of Object.entries(seen)) {
        for (const form of forms) {
          assert.ok(!text.includes(form), `${where} shows the password ${JSON.stringify(form)}`);
        }
        for (const info of [`://${user}:`, `://${encodeURIComponent(user)}:`]) {
          assert.ok(!text.includes(info), `${where} shows the user info ${info}`);
        }
      }
    }
    await assertStillServing(watched, since, mark, t);
  });

  it('never logs an API token, even one sent where it is refused', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    for (const path of [`/api/cameras?token=${TOKEN}`, `/nothing/${TOKEN}`, `/ws/${TOKEN}`]) {
      await httpRequest(watched.port, path, { headers: { 'X-Token': TOKEN } });
    }
    await httpRequest(watched.port, '/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `user=${TOKEN}&password=${TOKEN}`,
    });
    await waitFor(() => watched.camplex.lines.length > mark, {
      timeoutMs: 5000,
      what: 'log lines',
    });
    const logged = watched.camplex.lines.slice(mark).join('\n');
    assert.ok(!logged.includes(TOKEN), 'the token reached the log');
    await assertStillServing(watched, since, mark, t);
  });
});
