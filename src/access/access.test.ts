import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { Access, readCookie } from './access.js';
import { isAllowedOrigin, isTrustedHost, type OriginPolicy } from './origin.js';
import { hashPassword, isPasswordHash, verifyPassword } from './password.js';
import { SessionStore } from './sessions.js';

const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyz';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

function access(now = () => 1_000_000) {
  return new Access({
    users: new Map([['alice', hashPassword('correct horse')]]),
    tokens: new Map([['nvr', TOKEN]]),
    sessions: new SessionStore({ ttlMs: 60_000, maxSessions: 3, now }),
  });
}

describe('passwords', () => {
  it('verifies the password a hash was made from, and nothing else', () => {
    const hash = hashPassword('correct horse');
    assert.ok(isPasswordHash(hash));
    assert.equal(verifyPassword('correct horse', hash), true);
    assert.equal(verifyPassword('Correct horse', hash), false);
    assert.notEqual(hashPassword('correct horse'), hash, 'a fresh salt every time');
  });

  it('rejects malformed hashes and hostile cost parameters without throwing', () => {
    for (const hash of [
      '',
      'hunter2',
      'scrypt$16384$8$1$short$short',
      hashPassword('x').replace('16384', '1073741824'),
    ]) {
      assert.equal(isPasswordHash(hash), false, hash);
      assert.equal(verifyPassword('x', hash), false);
    }
  });
});

describe('SessionStore', () => {
  it('forgets a session once it expires', () => {
    let now = 0;
    const store = new SessionStore({ ttlMs: 1000, maxSessions: 10, now: () => now });
    const session = store.create('alice');
    assert.equal(store.get(session.token)?.user, 'alice');
    now = 999;
    assert.ok(store.get(session.token));
    now = 1000;
    assert.equal(store.get(session.token), undefined);
    assert.equal(store.size, 0);
  });

  it('keeps at most maxSessions, dropping the oldest', () => {
    const store = new SessionStore({ ttlMs: 1000, maxSessions: 2 });
    const first = store.create('a');
    store.create('b');
    store.create('c');
    assert.equal(store.size, 2);
    assert.equal(store.get(first.token), undefined);
  });
});

describe('Access', () => {
  it('authenticates a login session cookie, a bearer token and a token subprotocol', () => {
    const gate = access();
    const session = gate.login('alice', 'correct horse');
    assert.ok(session);
    assert.deepEqual(
      gate.authenticate(request({ cookie: `x=1; camplex_session=${session.token}` })),
      {
        user: 'alice',
        via: 'session',
        session: session.token,
      },
    );
    assert.deepEqual(gate.authenticate(request({ authorization: `Bearer ${TOKEN}` })), {
      user: 'nvr',
      via: 'token',
    });
    const protocols = `camplex.v1, camplex.token.${TOKEN}`;
    assert.deepEqual(gate.authenticate(request({ 'sec-websocket-protocol': protocols })), {
      user: 'nvr',
      via: 'token',
    });
  });

  it('refuses wrong passwords, unknown users, forged cookies and wrong tokens', () => {
    const gate = access();
    assert.equal(gate.login('alice', 'wrong'), undefined);
    assert.equal(gate.login('mallory', 'correct horse'), undefined);
    const attempts: Array<Record<string, string>> = [
      {},
      { cookie: 'camplex_session=forged0000000000000000000000000000000000000' },
      { authorization: 'Bearer wrong-token-wrong-token-wrong-token-wrong' },
      { authorization: `Basic ${TOKEN}` },
      { 'sec-websocket-protocol': 'camplex.token.nope' },
    ];
    for (const headers of attempts) {
      assert.equal(gate.authenticate(request(headers)), undefined, JSON.stringify(headers));
    }
  });

  it('lets everyone in when no user and no token is configured', () => {
    const open = new Access({
      users: new Map(),
      tokens: new Map(),
      sessions: new SessionStore({ ttlMs: 1, maxSessions: 1 }),
    });
    assert.equal(open.required, false);
    assert.deepEqual(open.authenticate(request({})), { user: 'anonymous', via: 'open' });
  });

  it('reads a cookie only when its value is well-formed', () => {
    assert.equal(readCookie('a=1; camplex_session=abc_-9', 'camplex_session'), 'abc_-9');
    assert.equal(readCookie('camplex_session=<script>', 'camplex_session'), undefined);
    assert.equal(readCookie(undefined, 'camplex_session'), undefined);
  });
});

describe('origin and host checks', () => {
  const policy: OriginPolicy = {
    allowedOrigins: ['https://cams.example.org'],
    allowedHosts: ['camplex.lan'],
    secure: false,
  };

  it('allows no Origin (scripts), the own origin and listed ones; refuses the rest', () => {
    const host = { host: '127.0.0.1:8080' };
    assert.equal(isAllowedOrigin(request(host), policy), true);
    assert.equal(
      isAllowedOrigin(request({ ...host, origin: 'http://127.0.0.1:8080' }), policy),
      true,
    );
    assert.equal(
      isAllowedOrigin(request({ ...host, origin: 'https://cams.example.org' }), policy),
      true,
    );
    for (const origin of [
      'http://evil.example',
      'null',
      'http://127.0.0.1:8081',
      'https://127.0.0.1:8080',
    ]) {
      assert.equal(isAllowedOrigin(request({ ...host, origin }), policy), false, origin);
    }
  });

  it('trusts IP literals, localhost and listed names as Host, not a rebinding name', () => {
    for (const host of [
      '127.0.0.1:8080',
      '[::1]:8080',
      'localhost:8080',
      'camplex.lan',
      'cams.example.org:443',
    ]) {
      assert.equal(isTrustedHost(request({ host }), policy), true, host);
    }
    for (const host of ['evil.example:8080', 'camplex.lan.evil.example']) {
      assert.equal(isTrustedHost(request({ host }), policy), false, host);
    }
    assert.equal(isTrustedHost(request({}), policy), false);
  });
});
