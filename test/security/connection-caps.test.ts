/**
 * Silent connections against camplex running with a descriptor limit of 256 (the usual limit
 * is 1,024; a small one makes the test quick): connections that never send a byte are closed
 * after the idle time, each address and the whole process are capped below the limit, and
 * while a flood holds every slot the cameras still start (ffmpeg needs descriptors too) and the
 * viewer keeps its frames.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../support/processes.js';
import { httpRequest } from './clients.js';
import {
  assertStillServing,
  entriesSince,
  startWatched,
  stopWatched,
  type Watched,
  waitForEntry,
} from './watch.js';

const DESCRIPTOR_LIMIT = 256;
/** What camplex leaves for connections: the limit less 64 reserved and 4 per camera. */
const TOTAL_CAP = DESCRIPTOR_LIMIT - 64 - 4 * 3;
const PER_ADDRESS_CAP = 64;
const IDLE_SECONDS = 2;

interface Silent {
  socket: Socket;
  /** What camplex wrote to it (a refusal is a 503 written at once). */
  reply: string;
  closedAt: number | undefined;
}

/**
 * A connection that never sends a byte; with `halfOpen` it does not close when camplex ends
 * its side either (as a careless or hostile client would not), so it is closed only once camplex
 * closes the connection.
 */
function silent(port: number, localAddress: string, halfOpen = false): Promise<Silent> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: halfOpen }, () =>
      resolve(held),
    );
    const held: Silent = { socket, reply: '', closedAt: undefined };
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      held.reply += text;
    });
    socket.on('close', () => {
      held.closedAt = Date.now();
    });
    socket.on('error', reject);
  });
}

/**
 * Waits a moment, then sorts `held` into refused (a 503, or closed at once when many refusals
 * are still closing) and held open.
 */
async function settle(held: Silent[]): Promise<{ refused: Silent[]; open: Silent[] }> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const refused = held.filter(
    (h) => h.reply.startsWith('HTTP/1.1 503') || h.closedAt !== undefined,
  );
  const open = held.filter((h) => !refused.includes(h));
  for (const h of refused) assert.match(h.reply, /^$|^HTTP\/1\.1 503 /);
  return { refused, open };
}

describe('silent connections under a descriptor limit of 256', () => {
  let watched: Watched;
  const held: Silent[] = [];

  before(async () => {
    watched = await startWatched({
      config: [
        'limits:',
        `  idleSeconds: ${IDLE_SECONDS}`,
        `  headersTimeoutSeconds: ${IDLE_SECONDS}`,
        'cameras: {}',
      ],
      args: ['--demo', '3'],
      cameras: ['demo-01', 'demo-02'],
      descriptorLimit: DESCRIPTOR_LIMIT,
    });
  });

  after(async () => {
    for (const h of held) h.socket.destroy();
    await stopWatched(watched);
  });

  it('logs its connection caps and the descriptor limit they come from', () => {
    const caps = entriesSince(watched.camplex, 0).find((entry) =>
      String(entry.msg).startsWith('connection caps'),
    );
    assert.equal(
      caps?.msg,
      `connection caps: ${PER_ADDRESS_CAP} per address, ${TOTAL_CAP} in all (descriptor limit ${DESCRIPTOR_LIMIT})`,
    );
  });

  it('closes a connection that sends nothing within the idle time', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const quiet = await Promise.all(
      Array.from({ length: 5 }, () => silent(watched.port, '127.0.4.1')),
    );
    await waitFor(() => quiet.every((h) => h.closedAt !== undefined), {
      timeoutMs: IDLE_SECONDS * 1000 + 4000,
      what: 'camplex to close the silent connections',
    });
    const lasted = Math.max(...quiet.map((h) => (h.closedAt ?? 0) - since));
    t.diagnostic(`silent connections closed after ${lasted} ms (idle time ${IDLE_SECONDS} s)`);
    assert.ok(lasted >= IDLE_SECONDS * 1000 - 200, `closed too early: ${lasted} ms`);
    await assertStillServing(watched, since, mark, t);
  });

  it('lets go of a connection answered 408 even while its client keeps sending bytes', async (t) => {
    // A slowloris trickles a header byte every 500 ms (the idle timer never fires), gets its
    // 408 after the headers timeout, and does not close on our FIN: the slot must not be held.
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const trickling = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const held = await silent(watched.port, '127.0.4.3', true);
        held.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        return held;
      }),
    );
    held.push(...trickling);
    const trickle = setInterval(() => {
      for (const h of trickling) if (h.socket.writable) h.socket.write('X');
    }, 500);
    try {
      await waitFor(() => trickling.every((h) => h.closedAt !== undefined), {
        timeoutMs: IDLE_SECONDS * 1000 + 6000,
        what: 'camplex to let go of the trickling connections after their 408',
      });
    } finally {
      clearInterval(trickle);
    }
    for (const h of trickling) assert.match(h.reply, /^HTTP\/1\.1 408 /);
    const lasted = Math.max(...trickling.map((h) => (h.closedAt ?? 0) - since));
    t.diagnostic(`trickling connections let go after ${lasted} ms`);
    await assertStillServing(watched, since, mark, t);
  });

  it('refuses connections past the cap of one address with 503, others still get in', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const crowd = await Promise.all(
      Array.from({ length: PER_ADDRESS_CAP + 20 }, () => silent(watched.port, '127.0.4.2')),
    );
    held.push(...crowd);
    const { refused, open } = await settle(crowd);
    assert.equal(open.length, PER_ADDRESS_CAP);
    assert.equal(refused.length, 20);
    assert.match(refused[0]?.reply ?? '', /CAMPLEX_ERR_TOO_MANY_CONNECTIONS/);
    await waitForEntry(watched.camplex, mark, { limit: 'sockets-per-ip', address: '127.0.4.2' });
    assert.equal((await httpRequest(watched.port, '/healthz')).status, 200, 'another address');
    for (const h of crowd) h.socket.destroy();
    await assertStillServing(watched, since, mark, t);
  });

  it('holds 400 silent connections from 8 addresses without running out of descriptors', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const flood: Silent[] = [];
    for (let i = 0; i < 400; i++) flood.push(await silent(watched.port, `127.0.5.${1 + (i % 8)}`));
    held.push(...flood);
    const { refused, open } = await settle(flood);
    const answered = refused.filter((h) => h.reply !== '').length;
    t.diagnostic(`${open.length} held open, ${refused.length} refused (${answered} with a 503)`);
    // The viewer's socket and the probes count too: the flood gets what is left of the total.
    assert.ok(open.length <= TOTAL_CAP && open.length >= TOTAL_CAP - 5, `${open.length} held open`);
    assert.equal(open.length + refused.length, 400);
    assert.ok(
      open.every((h) => h.reply === ''),
      'a held connection was answered',
    );
    await waitForEntry(watched.camplex, mark, { limit: 'sockets-total' });
    // While the flood holds every slot, a camera that was idle still starts.
    const ack = await watched.viewer.reply(
      JSON.stringify({ cmd: 'subscribe', cameras: ['demo-03'] }),
    );
    assert.equal(ack.type, 'subscribed');
    await waitFor(() => watched.viewer.framesOf('demo-03') > 0, {
      timeoutMs: 15_000,
      what: 'frames of a camera started during the flood',
    });
    // The idle time then frees every slot.
    await waitFor(() => open.every((h) => h.closedAt !== undefined), {
      timeoutMs: IDLE_SECONDS * 1000 + 5000,
      what: 'camplex to close the silent flood',
    });
    const spawnErrors = entriesSince(watched.camplex, mark).filter((entry) =>
      /EMFILE/.test(JSON.stringify(entry)),
    );
    assert.deepEqual(spawnErrors, [], 'camplex ran out of descriptors');
    await assertStillServing(watched, since, mark, t);
  });
});
