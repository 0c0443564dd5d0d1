/**
 * Reloads that must not go through, against camplex listening on every address with a token:
 * a file without `auth:` (or one saved half written, cameras before auth) would open the running
 * LAN listener to everyone; a URL with a NUL would make ffmpeg's spawn throw while applying.
 * Each is refused with its reason, the running config stays, and the next good file applies;
 * a SIGHUP and a save that come together are one reload.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';

const TOKEN = 'reload-guard-token-0123456789abcdefghij';

describe('reloads refused under a LAN listener', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-reload-guard-'));
  const file = join(dir, 'camplex.yaml');
  let camplex: CamplexProcess;
  /** camplex on loopback: it listens on every address, the test talks to 127.0.0.1 only. */
  let base: string;
  const write = (lines: string[]) => writeFileSync(file, `${lines.join('\n')}\n`);
  const good = (cameras: string[]) => [
    'server: { host: 0.0.0.0 }',
    'auth:',
    '  tokens:',
    `    nvr: ${TOKEN}`,
    'cameras:',
    ...cameras,
  ];

  before(async () => {
    write(good(['  front: { url: "demo:1" }']));
    camplex = await startCamplexProcess({ args: ['--config', file] });
    base = `http://127.0.0.1:${new URL(camplex.url).port}/`;
  });

  after(async () => {
    await camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The first log line after `mark` that includes `text`, once it comes. */
  const logged = async (text: string, mark: number) => {
    await waitFor(async () => camplex.lines.slice(mark).some((line) => line.includes(text)), {
      timeoutMs: 8000,
      what: `a log line with "${text}"`,
    });
    return JSON.parse(camplex.lines.slice(mark).find((line) => line.includes(text)) ?? '{}') as {
      msg: string;
      err?: string;
    };
  };
  const status = async (path: string, token?: string) =>
    (await fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {}))
      .status;

  it('refuses a file without auth, and one saved half written, keeping sign-in required', async () => {
    assert.equal(await status('api/cameras'), 401);
    const cases: Array<[string[], RegExp]> = [
      // Saved before its server: and auth: sections: the file's own host is the loopback default.
      [
        ['cameras:', '  front: { url: "demo:1" }'],
        /^config reload refused: it has no auth\.users or auth\.tokens, and camplex listens on 0\.0\.0\.0/,
      ],
      [
        ['server: { host: 0.0.0.0 }', 'cameras:', '  front: { url: "demo:1" }'],
        /refusing to serve 0\.0\.0\.0 without authentication/,
      ],
    ];
    for (const [lines, why] of cases) {
      const mark = camplex.lines.length;
      write(lines);
      process.kill(camplex.pid, 'SIGHUP');
      const refused = await logged('config reload refused', mark);
      assert.match(`${refused.msg} ${refused.err ?? ''}`, why);
      assert.equal(await status('api/cameras'), 401, 'still signed-in only');
      assert.equal(await status('metrics'), 401);
      assert.equal(await status('api/cameras', TOKEN), 200, 'the token still works');
    }
  });

  it('refuses a camera URL with a NUL, stays up, and applies the next good file', async () => {
    let mark = camplex.lines.length;
    write(good(['  front: { url: "demo:1" }', '  bad: { url: "rtsp://10.0.0.5/x\\0y" }']));
    process.kill(camplex.pid, 'SIGHUP');
    const refused = await logged('config reload refused', mark);
    assert.match(refused.err ?? '', /cameras\.bad\.url: must not contain control characters/);
    mark = camplex.lines.length;
    write(good(['  front: { url: "demo:1" }', '  garage: { url: "demo:2" }']));
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config reloaded: added garage', mark);
    const list = await fetch(`${base}api/cameras`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const cameras = ((await list.json()) as { cameras: Array<{ id: string }> }).cameras;
    assert.deepEqual(
      cameras.map((camera) => camera.id),
      ['front', 'garage'],
    );
  });

  it('makes one reload of a save and a SIGHUP that come together', async () => {
    const mark = camplex.lines.length;
    write(good(['  front: { url: "demo:1" }']));
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config reloaded: removed garage', mark);
    // A bad file after it: reloads run in order, so a second one of the pair would log first.
    write(['cameras:', '  front: { url: 5 }']);
    await logged('config reload refused', mark);
    const lines = camplex.lines.slice(mark);
    const refusedAt = lines.findIndex((line) => line.includes('config reload refused'));
    const reloads = lines.slice(0, refusedAt).filter((line) => line.includes('config reloaded'));
    assert.equal(reloads.length, 1, reloads.join('\n'));
    assert.match(reloads[0] ?? '', /"cause":"(file saved \+ SIGHUP|SIGHUP \+ file saved)"/);
  });
});
