/**
 * Requests that once stopped camplex with an unhandled rejection, auth on: a login body cut
 * off, a malformed chunked body, a body trickled until the request timeout, /metrics requests
 * abandoned at once. Each must end that request only, be logged as a refusal, and leave the
 * viewer, the cameras and camplex itself as they were.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../../support/processes.js';
import {
  assertStillServing,
  startWatched,
  stopWatched,
  type Watched,
  waitForEntry,
} from './watch.js';

const TOKEN = 'nvr_0123456789abcdefghijklmnopqrstuvwxyz';
const CAMERAS = ['demo-01', 'demo-02'];

/** Opens a raw connection, writes `text`, and resolves with it once connected. */
function rawConnection(
  port: number,
  text: string,
): Promise<{ socket: Socket; reply: () => string }> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(text);
      resolve({ socket, reply: () => reply });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('error', reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

const LOGIN_HEAD = (length: number | 'chunked') =>
  'POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
  'Content-Type: application/x-www-form-urlencoded\r\n' +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`) +
  '\r\n';

describe('requests that once stopped camplex', () => {
  let watched: Watched;

  before(async () => {
    watched = await startWatched({
      config: [
        'auth:',
        '  tokens:',
        `    nvr: ${TOKEN}`,
        'limits:',
        '  headersTimeoutSeconds: 2',
        '  requestTimeoutSeconds: 2',
        'cameras: {}',
      ],
      args: ['--demo', '2'],
      cameras: CAMERAS,
      auth: { Authorization: `Bearer ${TOKEN}` },
    });
  });

  after(() => stopWatched(watched));

  it('survives a login body cut off mid-way, 20 times', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    for (let i = 0; i < 20; i++) {
      const { socket } = await rawConnection(watched.port, `${LOGIN_HEAD(100)}user=alice&pa`);
      await delay(20);
      socket.destroy();
    }
    await waitForEntry(watched.camplex, mark, {
      limit: 'aborted',
      msg: /login form not received: the client went away/,
    });
    await assertStillServing(watched, since, mark, t);
  });

  it('answers a malformed chunked login body with 400 and survives it', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { socket, reply } = await rawConnection(
      watched.port,
      `${LOGIN_HEAD('chunked')}zz\r\nnot a chunk\r\n0\r\n\r\n`,
    );
    await closed(socket);
    assert.match(reply(), /^HTTP\/1\.1 400 /);
    await waitForEntry(watched.camplex, mark, { limit: 'bad-request' });
    await assertStillServing(watched, since, mark, t);
  });

  it('cuts off a login body trickled past the request timeout with 408', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { socket, reply } = await rawConnection(watched.port, LOGIN_HEAD(200));
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('x');
    }, 300);
    try {
      await waitFor(() => socket.destroyed || reply().length > 0, {
        timeoutMs: 8000,
        what: 'camplex to answer the trickled body',
      });
      await closed(socket);
    } finally {
      clearInterval(trickle);
    }
    assert.match(reply(), /^HTTP\/1\.1 408 /);
    await waitForEntry(watched.camplex, mark, {
      limit: 'bad-request',
      code: 'ERR_HTTP_REQUEST_TIMEOUT',
    });
    await assertStillServing(watched, since, mark, t);
  });

  it('survives 50 /metrics and /api/cameras requests abandoned at once', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    for (let i = 0; i < 50; i++) {
      const path = i % 2 === 0 ? '/metrics' : '/api/cameras';
      const { socket } = await rawConnection(
        watched.port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
      );
      socket.destroy();
    }
    await assertStillServing(watched, since, mark, t);
  });

  it('survives a malformed chunked body on a route that never reads it', async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { socket, reply } = await rawConnection(
      watched.port,
      'PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    );
    await closed(socket);
    assert.match(reply(), /^HTTP\/1\.1 (405|400) /);
    await assertStillServing(watched, since, mark, t);
  });
});
