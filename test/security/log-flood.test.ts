/**
 * Refusals cannot flood the log: 1,000 WebSocket upgrades with a 15 KB Origin and 1,000
 * requests with a 15 KB Host (while access is open) once wrote 15 KB lines at 16-19 MB/s. Now
 * every client string is clipped, each kind of refusal is logged at a bounded rate with the
 * count of lines left out, and /metrics still counts every refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest } from './clients.js';
import { handshake, rawRequest } from './raw-websocket.js';
import {
  assertStillServing,
  entriesSince,
  startWatched,
  stopWatched,
  type Watched,
  waitForEntry,
} from './watch.js';

const FLOOD = 1000;
const HUGE = 'x'.repeat(15 * 1024);

function limitHits(metrics: string, limit: string): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`camplex_limit_hits_total{limit="${limit}"}`));
  return Number(line?.split(' ')[1] ?? 0);
}

describe('a flood of refusals', () => {
  let watched: Watched;

  before(async () => {
    watched = await startWatched({
      config: ['cameras: {}'],
      args: ['--demo', '1'],
      cameras: ['demo-01'],
    });
  });

  after(() => stopWatched(watched));

  /** Log bytes and the longest line camplex wrote since line `mark`. */
  function logged(mark: number): { bytes: number; longest: number; lines: number } {
    const lines = watched.camplex.lines.slice(mark);
    return {
      bytes: lines.reduce((sum, line) => sum + line.length + 1, 0),
      longest: Math.max(0, ...lines.map((line) => line.length)),
      lines: lines.length,
    };
  }

  it('logs 1,000 upgrades with a 15 KB Origin in a few clipped lines, counting all', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    const request = handshake({
      headers: { Origin: `https://${HUGE}.example` },
      host: `127.0.0.1:${port}`,
    }).text;
    for (let i = 0; i < FLOOD; i++) {
      const response = await rawRequest({ port, localAddress: '127.0.7.1' }, request);
      assert.equal(response.status, 403);
      response.socket.destroy();
    }
    const { bytes, longest, lines } = logged(mark);
    t.diagnostic(`${lines} log lines, ${bytes} bytes, longest ${longest} bytes`);
    assert.ok(longest < 1024, `a log line of ${longest} bytes`);
    assert.ok(bytes < 64 * 1024, `${bytes} bytes logged for ${FLOOD} refusals`);
    // A second later the next refusal is logged again, saying how many lines were left out.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    (await rawRequest({ port, localAddress: '127.0.7.1' }, request)).socket.destroy();
    await waitForEntry(watched.camplex, mark, { limit: 'origin', count: FLOOD + 1 });
    const origin = entriesSince(watched.camplex, mark).filter((entry) => entry.limit === 'origin');
    const suppressed = origin.reduce((sum, entry) => sum + Number(entry.suppressed ?? 0), 0);
    assert.equal(
      origin.length + suppressed,
      FLOOD + 1,
      'every refusal logged or counted as left out',
    );
    const metrics = await httpRequest(port, '/metrics');
    assert.ok(limitHits(metrics.body, 'origin') >= FLOOD, 'every refusal counted in /metrics');
    await assertStillServing(watched, since, mark, t);
  });

  it('logs 1,000 requests with a 15 KB Host in a few clipped lines, counting all', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    for (let i = 0; i < FLOOD; i++) {
      const response = await rawRequest(
        { port, localAddress: '127.0.7.2' },
        `GET /api/cameras HTTP/1.1\r\nHost: ${HUGE}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(response.status, 403);
      response.socket.destroy();
    }
    const { bytes, longest, lines } = logged(mark);
    t.diagnostic(`${lines} log lines, ${bytes} bytes, longest ${longest} bytes`);
    assert.ok(longest < 1024, `a log line of ${longest} bytes`);
    assert.ok(bytes < 64 * 1024, `${bytes} bytes logged for ${FLOOD} refusals`);
    const metrics = await httpRequest(port, '/metrics');
    assert.ok(limitHits(metrics.body, 'host') >= FLOOD, 'every refusal counted in /metrics');
    await assertStillServing(watched, since, mark, t);
  });
});
