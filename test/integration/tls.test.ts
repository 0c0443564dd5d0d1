/**
 * HTTPS and WSS with `server.tls`, the HTTP->HTTPS redirect (only to trusted names), HSTS,
 * and the cookies' Secure flag and `__Host-` prefix under TLS. Uses the test-only certificate in test/fixtures/tls.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { hashPassword } from '../../src/access/password.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { freePort, waitFor } from '../../support/processes.js';

const CERT = fileURLToPath(new URL('../fixtures/tls/cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../fixtures/tls/key.pem', import.meta.url));
const ca = readFileSync(CERT);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('TLS', () => {
  let camplex: CamplexProcess;
  let redirectPort: number;

  before(async () => {
    redirectPort = await freePort();
    camplex = await startCamplexProcess({
      args: ['--demo', '1'],
      config: [
        'server:',
        '  tls:',
        `    cert: ${CERT}`,
        `    key: ${KEY}`,
        `  redirectHttpPort: ${redirectPort}`,
        'auth:',
        '  users:',
        `    alice: "${hashPassword('pw')}"`,
        'cameras: {}',
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
  });

  it('serves HTTPS and says so in its URL', async () => {
    assert.match(camplex.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const health = await get(`${camplex.url}healthz`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
  });

  it('sets __Host- session and device cookies with Secure, HttpOnly and SameSite=Strict', async () => {
    const origin = camplex.url.slice(0, -1);
    const login = await get(`${camplex.url}login`, {
      method: 'POST',
      body: 'user=alice&password=pw',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    });
    assert.equal(login.status, 303);
    const cookies = login.headers['set-cookie'];
    assert.ok(Array.isArray(cookies), 'a session and a device cookie');
    const [session, device] = cookies.map(attributes);
    assert.match(session?.get('__Host-camplex_session') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(
      device?.get('__Host-camplex_device') ?? '',
      /^[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]{43}$/,
    );
    for (const cookie of [session, device]) {
      assert.equal(cookie?.get('Path'), '/');
      assert.equal(cookie?.get('SameSite'), 'Strict');
      assert.ok(cookie?.has('HttpOnly') && cookie.has('Secure'), 'HttpOnly and Secure');
      assert.ok(!cookie?.has('Domain'), '__Host- cookies have no Domain');
    }
    assert.match(session?.get('Max-Age') ?? '', /^\d+$/);
    assert.equal(device?.get('Max-Age'), '31536000');
  });

  it('tells browsers to come back over HTTPS only (HSTS)', async () => {
    const health = await get(`${camplex.url}healthz`);
    assert.equal(health.headers['strict-transport-security'], 'max-age=15552000');
  });

  it('streams frames over WSS', async () => {
    const ws = new WebSocket(camplex.wsUrl, {
      ca,
      headers: { cookie: await sessionCookie(camplex.url) },
    });
    let frames = 0;
    ws.on('message', (data, isBinary) => {
      if (isBinary) frames++;
      else if (JSON.parse(String(data)).type === 'hello')
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['demo-01'] }));
    });
    try {
      await waitFor(() => frames >= 3, { timeoutMs: 15_000, what: '3 frames over WSS' });
    } finally {
      ws.terminate();
    }
  });

  it('redirects plain HTTP to the same path over HTTPS', async () => {
    const reply = await get(`http://127.0.0.1:${redirectPort}/snapshot/demo-01.jpg?x=1`);
    assert.equal(reply.status, 308);
    assert.equal(reply.headers.location, `${camplex.url}snapshot/demo-01.jpg?x=1`);
  });

  it('never redirects to a Host name it does not trust', async () => {
    for (const host of ['evil.example', '[::1]evil.example', 'a b']) {
      const reply = await get(`http://127.0.0.1:${redirectPort}/login`, { headers: { host } });
      assert.equal(reply.status, 400, host);
      assert.equal(reply.headers.location, undefined);
      assert.match(reply.body, /unknown Host: add it to server.allowedHosts/);
    }
  });
});

/** A Set-Cookie header's name=value and attributes, in any order. */
function attributes(header: string): Map<string, string> {
  return new Map(
    header.split(';').map((part) => {
      const [name = '', ...value] = part.trim().split('=');
      return [name, value.join('=')];
    }),
  );
}

async function sessionCookie(url: string): Promise<string> {
  const login = await get(`${url}login`, {
    method: 'POST',
    body: 'user=alice&password=pw',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return String(login.headers['set-cookie']).split(';')[0] ?? '';
}
