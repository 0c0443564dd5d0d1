import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { createLog } from '../common/log.js';
import { AccountThrottle } from '../guard/account-throttle.js';
import { ProxyTrust } from '../guard/client-address.js';
import { FailureLimiter } from '../guard/failure-limiter.js';
import {
  Access,
  type AccessOptions,
  isDenial,
  type LoginOutcome,
  type Principal,
  type Scopes,
} from './access.js';
import { Holders } from './holders.js';
import { LoginSessions } from './login-sessions.js';
import {
  hostName,
  isAllowedOrigin,
  isOwnOrigin,
  isTrustedHost,
  type OriginPolicy,
} from './origin.js';
import { hashPassword, isPasswordHash, PasswordChecker, verifyPassword } from './password.js';

const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyz';
const TOKEN_DIGEST = createHash('sha256').update(TOKEN).digest('hex');
const UPGRADE = { upgrade: { ownOrigin: true } };

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

/** The cookies of a request, as the HTTP layer's cookie parser hands them to Access. */
function cookiesOf(req: IncomingMessage): Record<string, string> {
  const pairs = (req.headers.cookie ?? '').split(';').map((part) => part.trim().split('='));
  return Object.fromEntries(pairs.filter((pair) => pair.length === 2));
}

const ALICE = hashPassword('correct horse');
const NO_SCOPES: Scopes = { users: new Map(), tokens: new Map() };

/** Scopes where token `name` may watch only `cameras`. */
function tokenScopes(name: string, cameras: string[]): Scopes {
  return { users: new Map(), tokens: new Map([[name, { cameras, ptz: false }]]) };
}

/** An Access with a fake clock (`clock.now`) whose throttle waits are recorded, not slept. */
function access(overrides: Partial<AccessOptions> = {}, clock = { now: 1_000_000 }) {
  const now = () => clock.now;
  const slept: number[] = [];
  const gate = new Access({
    users: new Map([['alice', ALICE]]),
    tokens: new Map([['nvr', TOKEN]]),
    logins: new LoginSessions({ ttlMs: 60_000, maxSessions: 3, now }),
    failures: new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now }),
    accounts: new AccountThrottle({
      freeFailures: 2,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      maxWaitMs: 10_000,
      forgetAfterMs: 900_000,
      maxEntries: 100,
      now,
    }),
    passwords: new PasswordChecker({ concurrency: 1, maxWaiting: 4 }),
    secureCookies: false,
    sleep: async (ms) => {
      slept.push(ms);
      clock.now += ms;
    },
    now,
    ...overrides,
  });
  return { gate, slept, clock };
}

function ok(outcome: LoginOutcome) {
  assert.equal(outcome.kind, 'ok', JSON.stringify(outcome));
  return outcome as Extract<LoginOutcome, { kind: 'ok' }>;
}

describe('passwords', () => {
  it('verifies the password a hash was made from, and nothing else', async () => {
    assert.ok(isPasswordHash(ALICE));
    assert.equal(await verifyPassword('correct horse', ALICE), true);
    assert.equal(await verifyPassword('Correct horse', ALICE), false);
    assert.notEqual(hashPassword('correct horse'), ALICE, 'a fresh salt every time');
  });

  it('runs at most `concurrency` checks at once and refuses past maxWaiting', async () => {
    const checker = new PasswordChecker({ concurrency: 1, maxWaiting: 2 });
    const first = checker.check('correct horse', ALICE);
    const queued = [checker.check('x', ALICE), checker.check('y', ALICE)];
    assert.equal(checker.check('z', ALICE), undefined, 'a third waiting check is refused');
    assert.deepEqual(await Promise.all([first, ...queued]), [true, false, false]);
    assert.equal(await checker.check('correct horse', ALICE), true, 'free again once drained');
  });

  it('rejects malformed hashes and hostile cost parameters without throwing', async () => {
    for (const hash of [
      '',
      'hunter2',
      'scrypt$16384$8$1$short$short',
      hashPassword('x').replace('16384', '1073741824'),
    ]) {
      assert.equal(isPasswordHash(hash), false, hash);
      assert.equal(await verifyPassword('x', hash), false);
    }
  });
});

describe('LoginSessions', () => {
  it('forgets a session once it expires', () => {
    let now = 0;
    const store = new LoginSessions({ ttlMs: 1000, maxSessions: 10, now: () => now });
    const session = store.create('alice');
    assert.equal(store.get(session.token)?.user, 'alice');
    now = 999;
    assert.ok(store.get(session.token));
    now = 1000;
    assert.equal(store.get(session.token), undefined);
    assert.equal(store.size, 0);
  });

  it('keeps at most maxSessions, dropping the oldest', () => {
    const store = new LoginSessions({ ttlMs: 1000, maxSessions: 2 });
    const first = store.create('a');
    store.create('b');
    store.create('c');
    assert.equal(store.size, 2);
    assert.equal(store.get(first.token), undefined);
  });

  it('adopts from the bus only what could be a session, for at most a session, never evicting one', () => {
    const clock = { now: 1_000_000 };
    const store = new LoginSessions({ ttlMs: 60_000, maxSessions: 2, now: () => clock.now });
    const token = 'forged-token';
    const digest = createHash('sha256').update(token).digest('hex');
    const century = clock.now + 100 * 365 * 24 * 3600_000;
    assert.equal(store.adopt({ digest: 'not-a-digest', user: 'admin', expiresAt: century }), false);
    assert.equal(
      store.adopt({ digest, user: 'admin', expiresAt: clock.now - 1 }),
      false,
      'expired',
    );
    assert.equal(store.adopt({ digest, user: 'admin', expiresAt: century }), true);
    assert.equal(store.get(token)?.expiresAt, clock.now + 60_000, 'capped at a session from now');
    const real = store.create('alice');
    const flood = createHash('sha256').update('flood').digest('hex');
    assert.equal(store.adopt({ digest: flood, user: 'x', expiresAt: century }), false, 'full');
    assert.ok(store.get(real.token), 'the live sign-in stays');
  });

  it('lets the bus flood give way to sign-ins here: unknown users, then adopted, then the oldest', () => {
    const clock = { now: 1_000_000 };
    const store = new LoginSessions({ ttlMs: 60_000, maxSessions: 4, now: () => clock.now });
    store.knows = (user) => user === 'alice' || user === 'bob';
    const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');
    const real = store.create('alice');
    const remote = 'remote-bob';
    assert.ok(store.adopt({ digest: digestOf(remote), user: 'bob', expiresAt: clock.now + 1000 }));
    for (let i = 0; store.size < 4; i++) {
      assert.ok(store.adopt({ digest: digestOf(`flood-${i}`), user: 'mallory', expiresAt: 1e15 }));
    }
    // Full: a forged session of an unknown user takes the place of another, never a real one.
    assert.ok(store.adopt({ digest: digestOf('flood-x'), user: 'mallory', expiresAt: 1e15 }));
    assert.ok(store.get(real.token) && store.get(remote), 'adopting never costs a known session');
    // Sign-ins here push the unknown users' sessions out first, then adopted ones, then the oldest.
    const second = store.create('alice');
    const third = store.create('bob');
    assert.equal(store.size, 4);
    assert.ok(store.get(real.token) && store.get(second.token) && store.get(third.token));
    assert.ok(store.get(remote), 'a known adopted session outlasts the unknown ones');
    store.create('bob');
    assert.equal(store.get(remote), undefined, 'then the adopted one goes');
    assert.ok(store.get(real.token), 'before any sign-in made here');
    store.create('bob');
    assert.equal(store.get(real.token), undefined, 'then the oldest made here');
  });

  it('keeps its own sign-ins local when the bus hands them back, and their user as it was', () => {
    const clock = { now: 1_000_000 };
    const store = new LoginSessions({ ttlMs: 60_000, maxSessions: 3, now: () => clock.now });
    const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');
    const own = store.create('alice');
    // The bucket's watch gives every write back, this node's own included.
    assert.ok(
      store.adopt({ digest: digestOf(own.token), user: 'alice', expiresAt: own.expiresAt }),
    );
    assert.equal(
      store.adopt({ digest: digestOf(own.token), user: 'mallory', expiresAt: own.expiresAt }),
      false,
      'the bus cannot change whose session it is',
    );
    assert.equal(store.get(own.token)?.user, 'alice');
    for (const remote of ['bob-1', 'bob-2']) {
      assert.ok(
        store.adopt({ digest: digestOf(remote), user: 'bob', expiresAt: clock.now + 1000 }),
      );
    }
    store.create('carol');
    assert.ok(store.get(own.token), 'still a sign-in made here: the adopted ones went first');
    assert.equal(store.get('bob-1'), undefined);
  });

  it('frees an expired session before any live one', () => {
    const clock = { now: 0 };
    const store = new LoginSessions({ ttlMs: 1000, maxSessions: 2, now: () => clock.now });
    const early = store.create('alice');
    clock.now = 500;
    const later = store.create('alice');
    clock.now = 1200; // `early` expired, `later` is live
    const digest = createHash('sha256').update('remote').digest('hex');
    assert.ok(store.adopt({ digest, user: 'bob', expiresAt: 2000 }), 'an expired place is free');
    assert.equal(store.get(early.token), undefined);
    assert.ok(store.get(later.token));
  });
});

describe('Access', () => {
  const KEY = '192.0.2.1';

  it('takes a token as the HTTP Basic password only where asked to (camera image paths)', () => {
    const { gate } = access();
    const basic = (password: string) =>
      request({
        authorization: `Basic ${Buffer.from(`home-assistant:${password}`).toString('base64')}`,
      });
    assert.deepEqual(gate.authenticate(basic(TOKEN), KEY, {}, { basic: true }), {
      user: 'nvr',
      via: 'token',
      tokenDigest: TOKEN_DIGEST,
    });
    assert.deepEqual(gate.authenticate(basic(TOKEN), KEY, {}), { status: 401 }, 'not elsewhere');
    assert.deepEqual(gate.authenticate(basic('wrong'), KEY, {}, { basic: true }), { status: 401 });
  });

  it('takes a percent-encoded token in the subprotocol (a subprotocol cannot hold / or =)', () => {
    const base64 = 'q8/JxZ+0Lr3m2Wn6vKs1cTe4yHb7uPa9dFg5hBj0kQ==';
    const { gate } = access({
      tokens: new Map([['panel', base64]]),
      scopes: tokenScopes('panel', ['front', 'garage']),
    });
    const ask = (protocols: string) =>
      gate.authenticate(request({ 'sec-websocket-protocol': protocols }), KEY, {}, UPGRADE);
    const principal = ask(`camplex.v1, camplex.token.${encodeURIComponent(base64)}`);
    assert.ok(!isDenial(principal));
    assert.equal(principal.user, 'panel');
    assert.deepEqual([...(principal.cameras ?? [])], ['front', 'garage'], 'limited to its cameras');
    assert.deepEqual(ask('camplex.v1, camplex.token.%E0%A4%A'), { status: 401 }, 'bad encoding');
    // An unlimited token's principal has no camera list.
    const { gate: plain } = access();
    const nvr = plain.authenticate(request({ authorization: `Bearer ${TOKEN}` }), KEY, {});
    assert.ok(!isDenial(nvr) && nvr.cameras === undefined);
  });

  it('authenticates a login session cookie, a bearer token and a token subprotocol', async () => {
    const { gate } = access();
    const { session } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    assert.deepEqual(
      gate.authenticate(
        request({ cookie: `x=1; camplex_session=${session.token}` }),
        KEY,
        cookiesOf(request({ cookie: `x=1; camplex_session=${session.token}` })),
      ),
      { user: 'alice', via: 'session', login: session.token, ptz: true },
    );
    assert.deepEqual(
      gate.authenticate(
        request({ authorization: `Bearer ${TOKEN}` }),
        KEY,
        cookiesOf(request({ authorization: `Bearer ${TOKEN}` })),
      ),
      { user: 'nvr', via: 'token', tokenDigest: TOKEN_DIGEST },
    );
    const protocols = `camplex.v1, camplex.token.${TOKEN}`;
    assert.deepEqual(
      gate.authenticate(
        request({ 'sec-websocket-protocol': protocols }),
        KEY,
        cookiesOf(request({ 'sec-websocket-protocol': protocols })),
        UPGRADE,
      ),
      { user: 'nvr', via: 'token', tokenDigest: TOKEN_DIGEST },
    );
    // Only on the upgrade: a subprotocol header on a plain request authenticates nothing.
    assert.deepEqual(gate.authenticate(request({ 'sec-websocket-protocol': protocols }), KEY, {}), {
      status: 401,
    });
  });

  it('starts no session for a sign-in whose password changed or user went while it was checked', async () => {
    for (const users of [
      new Map([['alice', hashPassword('new horse')]]),
      new Map<string, string>(),
    ]) {
      const { gate } = access();
      const pending = gate.login('alice', 'correct horse', KEY, undefined);
      gate.setCredentials(users, new Map([['nvr', TOKEN]]), NO_SCOPES);
      assert.equal((await pending).kind, 'wrong');
    }
    // A session the store still has (adopted from another node) counts only for a known user.
    const { gate } = access();
    const session = gate.logins.create('mallory');
    assert.deepEqual(gate.authenticate(request({}), KEY, { camplex_session: session.token }), {
      status: 401,
    });
  });

  it('lets a token shown beat a cookie, and counts a cookie on an upgrade only from its own pages', async () => {
    const { gate } = access({
      scopes: tokenScopes('nvr', ['front']),
    });
    const { session } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    const cookie = `camplex_session=${session.token}`;
    const both = request({
      cookie,
      'sec-websocket-protocol': `camplex.v1, camplex.token.${TOKEN}`,
    });
    const limited = gate.authenticate(both, KEY, cookiesOf(both), UPGRADE);
    assert.ok(!isDenial(limited));
    assert.equal(limited.user, 'nvr', 'the embedding page gets its token, not its visitor');
    assert.deepEqual([...(limited.cameras ?? [])], ['front']);
    const onlyCookie = request({ cookie });
    assert.deepEqual(
      gate.authenticate(onlyCookie, KEY, cookiesOf(onlyCookie), { upgrade: { ownOrigin: false } }),
      { status: 401 },
      "another origin's upgrade does not ride on the cookie",
    );
    const own = gate.authenticate(onlyCookie, KEY, cookiesOf(onlyCookie), UPGRADE);
    assert.ok(!isDenial(own) && own.user === 'alice');
  });

  it('rechecks principals: removed users, changed passwords and tokens are revoked, narrowed tokens narrowed', async () => {
    const { gate } = access({ scopes: tokenScopes('nvr', ['front', 'garage']) });
    const { session } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    const alice = gate.authenticate(request({}), KEY, { camplex_session: session.token });
    const nvr = gate.authenticate(request({ authorization: `Bearer ${TOKEN}` }), KEY, {});
    assert.ok(!isDenial(alice) && !isDenial(nvr));
    assert.deepEqual(gate.recheck(alice), alice);
    assert.deepEqual(gate.recheck(nvr), nvr);

    const users = new Map([['alice', ALICE]]);
    gate.setCredentials(users, new Map([['nvr', TOKEN]]), tokenScopes('nvr', ['front']));
    const narrowed = gate.recheck(nvr);
    assert.ok(!('revoked' in narrowed));
    assert.deepEqual([...(narrowed.cameras ?? [])], ['front'], 'narrowed at once');
    assert.deepEqual(gate.recheck(alice), alice, 'an unchanged user keeps the session');

    gate.setCredentials(new Map([['alice', hashPassword('new horse')]]), new Map(), NO_SCOPES);
    assert.deepEqual(gate.recheck(alice), { revoked: 'session ended' }, 'password changed');
    assert.equal(gate.logins.get(session.token), undefined, 'the session itself ended');
    assert.deepEqual(gate.recheck(nvr), { revoked: 'token removed or changed' });

    gate.setCredentials(new Map(), new Map([['other', TOKEN]]), NO_SCOPES);
    assert.deepEqual(gate.recheck(alice), { revoked: 'user removed' });
    const renamed = gate.recheck(nvr);
    assert.ok(!('revoked' in renamed) && renamed.user === 'other' && !renamed.cameras);
    assert.deepEqual(gate.recheck({ user: 'anonymous', via: 'open' }), {
      revoked: 'sign-in is required now',
    });
  });

  it('scopes a user like a token: their cameras, PTZ only when granted, re-scoped by a reload', async () => {
    const nanny: Scopes = {
      users: new Map([['alice', { cameras: ['nursery'], ptz: false }]]),
      tokens: new Map([['nvr', { ptz: true }]]),
    };
    const { gate } = access({ scopes: nanny });
    const { session } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    const alice = gate.authenticate(request({}), KEY, { camplex_session: session.token });
    assert.ok(!isDenial(alice));
    assert.deepEqual([...(alice.cameras ?? [])], ['nursery']);
    assert.equal(alice.ptz, undefined, 'a scoped user moves nothing unless granted');
    const nvr = gate.authenticate(request({ authorization: `Bearer ${TOKEN}` }), KEY, {});
    assert.ok(!isDenial(nvr) && nvr.ptz === true && nvr.cameras === undefined);

    // Widened (a group gained a camera) and granted PTZ: the same session, the new scope.
    gate.setCredentials(new Map([['alice', ALICE]]), new Map([['nvr', TOKEN]]), {
      users: new Map([['alice', { cameras: ['nursery', 'garden'], ptz: true }]]),
      tokens: new Map(),
    });
    const widened = gate.recheck(alice);
    assert.ok(!('revoked' in widened));
    assert.deepEqual([...(widened.cameras ?? [])], ['nursery', 'garden']);
    assert.equal(widened.ptz, true);
    const bareToken = gate.recheck(nvr);
    assert.ok(
      !('revoked' in bareToken) && bareToken.ptz === undefined,
      'a bare token only watches',
    );

    // Back to a bare hash: every camera, and PTZ (the household's admin).
    gate.setCredentials(new Map([['alice', ALICE]]), new Map(), NO_SCOPES);
    assert.deepEqual(gate.recheck(alice), {
      user: 'alice',
      via: 'session',
      login: session.token,
      ptz: true,
    });
  });

  it('lets open access move cameras on loopback only', () => {
    const open = { users: new Map(), tokens: new Map() };
    const loopback = access(open).gate.authenticate(request({}), KEY, {});
    assert.ok(!isDenial(loopback) && loopback.ptz === true);
    const lan = access({ ...open, openMayMove: false }).gate.authenticate(request({}), KEY, {});
    assert.ok(!isDenial(lan) && lan.via === 'open' && lan.ptz === false);
  });

  it('refuses wrong passwords, unknown users, forged cookies and wrong tokens', async () => {
    const { gate } = access();
    assert.equal((await gate.login('alice', 'wrong', KEY, undefined)).kind, 'wrong');
    assert.equal(
      (await gate.login('mallory', 'correct horse', '192.0.2.2', undefined)).kind,
      'wrong',
    );
    const attempts: Array<Record<string, string>> = [
      {},
      { cookie: 'camplex_session=forged0000000000000000000000000000000000000' },
      { authorization: 'Bearer wrong-token-wrong-token-wrong-token-wrong' },
      { authorization: `Basic ${TOKEN}` },
      { 'sec-websocket-protocol': 'camplex.token.nope' },
    ];
    for (const headers of attempts) {
      assert.deepEqual(
        gate.authenticate(request(headers), '192.0.2.3', cookiesOf(request(headers))),
        { status: 401 },
      );
    }
  });

  it('refuses tokens from an address after too many wrong ones, and only from it', () => {
    const { gate, clock } = access();
    const wrong = request({ authorization: 'Bearer wrong-token-wrong-token-wrong-token-wrong' });
    const right = request({ authorization: `Bearer ${TOKEN}` });
    for (let i = 0; i < 3; i++)
      assert.deepEqual(gate.authenticate(wrong, KEY, cookiesOf(wrong)), { status: 401 });
    const limited = gate.authenticate(right, KEY, cookiesOf(right));
    assert.ok(isDenial(limited) && limited.status === 429, 'even a right token waits');
    assert.equal(limited.retryAfterMs, 60_000);
    assert.deepEqual(gate.authenticate(right, '192.0.2.9', cookiesOf(right)), {
      user: 'nvr',
      via: 'token',
      tokenDigest: TOKEN_DIGEST,
    });
    clock.now += 60_000;
    assert.deepEqual(gate.authenticate(right, KEY, cookiesOf(right)), {
      user: 'nvr',
      via: 'token',
      tokenDigest: TOKEN_DIGEST,
    });
  });

  it('counts only failures: right tokens and successful logins never limit an address', async () => {
    const { gate } = access();
    for (let i = 0; i < 10; i++) {
      assert.equal(
        isDenial(
          gate.authenticate(
            request({ authorization: `Bearer ${TOKEN}` }),
            KEY,
            cookiesOf(request({ authorization: `Bearer ${TOKEN}` })),
          ),
        ),
        false,
      );
    }
    for (let i = 0; i < 4; i++) ok(await gate.login('alice', 'correct horse', KEY, undefined));
  });

  it('refuses logins from an address past its failures with the time left', async () => {
    const { gate } = access();
    for (let i = 0; i < 3; i++) {
      assert.equal((await gate.login(`user${i}`, 'guess', KEY, undefined)).kind, 'wrong');
    }
    const refused = await gate.login('alice', 'correct horse', KEY, undefined);
    assert.deepEqual(refused, { kind: 'address-limited', retryAfterMs: 60_000 });
  });

  it('spaces out checks of an account under attack, but not for its trusted device', async () => {
    const { gate, slept } = access({
      failures: new FailureLimiter({ maxFailures: 1000, windowMs: 60_000, maxEntries: 100 }),
    });
    const { device } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await gate.login('alice', 'guess', `198.51.100.${i}`, undefined)).kind,
        'wrong',
      );
    }
    assert.deepEqual(slept, [], 'the first failures cost no delay');
    assert.equal((await gate.login('alice', 'guess', '198.51.100.7', undefined)).kind, 'wrong');
    assert.equal((await gate.login('alice', 'guess', '198.51.100.8', undefined)).kind, 'wrong');
    // The slot after 3 failures came at once; the next waits 1 s then 2 s.
    ok(await gate.login('alice', 'correct horse', '203.0.113.5', undefined));
    assert.ok(slept.length >= 1 && slept.every((ms) => ms > 0), JSON.stringify(slept));
    const before = slept.length;
    ok(await gate.login('alice', 'correct horse', KEY, device));
    assert.equal(slept.length, before, 'the trusted device did not wait');
    const forged = `${device.slice(0, -2)}xx`;
    await gate.login('alice', 'correct horse', KEY, forged);
    assert.equal(slept.length, before + 1, 'a forged device cookie waits like anyone');
  });

  it('refuses a login whose turn would come too late, with the wait', async () => {
    const { gate } = access({
      failures: new FailureLimiter({ maxFailures: 1000, windowMs: 60_000, maxEntries: 100 }),
      sleep: async () => {}, // attempts pile up: no time passes
    });
    const outcomes: LoginOutcome[] = [];
    for (let i = 0; i < 12; i++) outcomes.push(await gate.login('alice', 'guess', KEY, undefined));
    const slowed = outcomes.filter((outcome) => outcome.kind === 'account-slowed');
    assert.ok(slowed.length > 0, JSON.stringify(outcomes.map((o) => o.kind)));
    for (const outcome of slowed) {
      assert.ok('retryAfterMs' in outcome && outcome.retryAfterMs > 10_000);
    }
  });

  it('answers busy, without charging the address, when too many checks wait', async () => {
    const { gate } = access({ passwords: new PasswordChecker({ concurrency: 1, maxWaiting: 0 }) });
    const first = gate.login('alice', 'correct horse', KEY, undefined);
    assert.deepEqual(await gate.login('alice', 'correct horse', KEY, undefined), { kind: 'busy' });
    ok(await first);
  });

  it('names its cookies with __Host- under TLS', () => {
    const { gate } = access({ secureCookies: true });
    assert.equal(gate.sessionCookie, '__Host-camplex_session');
    assert.equal(gate.deviceCookie, '__Host-camplex_device');
  });

  it('lets everyone in when no user and no token is configured', () => {
    const { gate } = access({ users: new Map(), tokens: new Map() });
    assert.equal(gate.required, false);
    assert.deepEqual(gate.authenticate(request({}), KEY, cookiesOf(request({}))), {
      user: 'anonymous',
      via: 'open',
      ptz: true,
    });
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

  it('takes a page behind a trusted proxy that ends TLS as camplex’s own, and no one else’s', () => {
    const trust = new ProxyTrust(['10.0.0.2']);
    const proxied = { ...policy, trust };
    const via = (address: string, headers: Record<string, string>) =>
      ({ headers, socket: { remoteAddress: address } }) as unknown as IncomingMessage;
    const page = { origin: 'https://cams.example.org' };
    assert.ok(isOwnOrigin(via('10.0.0.2', { ...page, host: 'cams.example.org' }), proxied));
    assert.ok(
      isOwnOrigin(
        via('10.0.0.2', {
          ...page,
          host: '127.0.0.1:8080',
          'x-forwarded-host': 'cams.example.org',
        }),
        proxied,
      ),
      'the proxy rewrote Host and named the original',
    );
    assert.ok(
      !isOwnOrigin(via('10.0.0.9', { ...page, host: 'cams.example.org' }), proxied),
      'not through the proxy',
    );
    assert.ok(
      !isOwnOrigin(
        via('10.0.0.9', {
          ...page,
          host: '127.0.0.1:8080',
          'x-forwarded-host': 'cams.example.org',
        }),
        proxied,
      ),
      'X-Forwarded-Host from anyone else',
    );
    assert.ok(
      !isOwnOrigin(
        via('10.0.0.2', { origin: 'https://evil.example', host: 'cams.example.org' }),
        proxied,
      ),
    );
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
    for (const host of [
      'evil.example:8080',
      'camplex.lan.evil.example',
      '[::1]evil.com',
      '[::1]:8080evil',
      '127.0.0.1:80@evil.com',
      '[evil.com]',
    ]) {
      assert.equal(isTrustedHost(request({ host }), policy), false, host);
    }
    assert.equal(isTrustedHost(request({}), policy), false);
  });

  it('reads the host name of a Host header only when the whole header is well-formed', () => {
    assert.equal(hostName('Camplex.LAN:8443'), 'camplex.lan');
    assert.equal(hostName('[::1]:8080'), '::1');
    assert.equal(hostName('[::1]'), '::1');
    for (const bad of ['[::1]evil.com', 'a b', 'x:y:z', '[1.2.3.4]', '', undefined]) {
      assert.equal(hostName(bad), undefined, String(bad));
    }
  });
});

describe('Holders', () => {
  const KEY = '192.0.2.1';

  it('closes a connection whose session expired at the next recheck (the heartbeat), narrows a narrowed one', async () => {
    const { gate, clock } = access({ scopes: tokenScopes('nvr', ['front', 'garage']) });
    const { session } = ok(await gate.login('alice', 'correct horse', KEY, undefined));
    const alice = gate.authenticate(request({}), KEY, { camplex_session: session.token });
    const nvr = gate.authenticate(request({ authorization: `Bearer ${TOKEN}` }), KEY, {});
    assert.ok(!isDenial(alice) && !isDenial(nvr));
    const holders = new Holders(createLog({ level: 'silent' }));
    const events: string[] = [];
    const held = (name: string, principal: Principal) =>
      holders.hold(principal, {
        revoke: (reason) => events.push(`${name} revoked: ${reason}`),
        rescope: (now) => events.push(`${name} now ${[...(now.cameras ?? [])].join(',')}`),
      });
    held('alice', alice);
    const nvrHeld = held('nvr', nvr);
    holders.recheck(gate);
    assert.deepEqual(events, [], 'nothing changed');
    clock.now += 60_001; // past the session's ttl
    gate.setCredentials(
      new Map([['alice', ALICE]]),
      new Map([['nvr', TOKEN]]),
      tokenScopes('nvr', ['front']),
    );
    holders.recheck(gate);
    assert.deepEqual(events, ['alice revoked: session ended', 'nvr now front']);
    assert.equal(holders.size, 1, 'the revoked one is forgotten');
    nvrHeld.release();
    assert.equal(holders.size, 0);
  });
});
