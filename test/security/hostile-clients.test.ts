/**
 * Hostile clients against one running camplex: malformed and unauthenticated handshakes,
 * protocol-violating frames, abusive control messages, socket and login floods, path
 * traversal, and a seeded fuzz run. Every case checks three things: the exact status, close
 * code or error reply; the line camplex logged about it; and that two legitimate viewers kept
 * receiving frames of both cameras throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { hashPassword } from '../../src/access/password.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import { seeded, withSeed } from '../../support/random.js';
import { type Client, connectClient, httpRequest } from './clients.js';
import {
  buildFrame,
  closePayload,
  handshake,
  Opcode,
  openRawWebSocket,
  type RawResponse,
  type RawWebSocket,
  Rsv,
  rawRequest,
  trickleHeaders,
} from './raw-websocket.js';
import {
  entriesSince as camplexEntriesSince,
  type LogEntry,
  type LogMatch,
  matches,
} from './watch.js';

const CAMERAS = ['demo-01', 'demo-02'];
const NVR_TOKEN = 'nvr_0123456789abcdefghijklmnopqrstuvwxyz';
const OTHER_TOKEN = 'oth_0123456789abcdefghijklmnopqrstuvwxyz';
const PASSWORD = 'correct horse';
const MAX_MESSAGES_PER_SECOND = 20;
const MAX_SOCKETS_PER_IP = 40;
const LOGIN_ATTEMPTS_PER_MINUTE = 5;
const MAX_MESSAGE_BYTES = 64 * 1024;
/** Other loopback addresses, so per-address limits hit here leave 127.0.0.1 alone. */
const CROWD_ADDRESS = '127.0.0.2';
const LOGIN_FLOOD_ADDRESS = '127.0.0.3';
/** How long a log line that camplex does write may take to arrive. */
const LOG_WAIT_MS = 5000;
const BEARER = { Authorization: `Bearer ${NVR_TOKEN}` };

interface Expectation {
  /** A line camplex must have logged since the case began. */
  logged?: LogMatch;
  /** An allowed request: nothing may have been logged as a refusal. */
  allowed?: boolean;
}

describe('hostile clients', () => {
  let camplex: CamplexProcess;
  let port: number;
  let viewers: Client[] = [];
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  before(async () => {
    camplex = await startCamplexProcess({
      args: ['--demo', '2'],
      config: [
        'auth:',
        '  users:',
        `    alice: "${hashPassword(PASSWORD)}"`,
        '  tokens:',
        `    nvr: ${NVR_TOKEN}`,
        `    other: ${OTHER_TOKEN}`,
        'limits:',
        `  maxMessagesPerSecond: ${MAX_MESSAGES_PER_SECOND}`,
        `  maxSocketsPerIp: ${MAX_SOCKETS_PER_IP}`,
        '  headersTimeoutSeconds: 2',
        `  authFailuresPerMinute: ${LOGIN_ATTEMPTS_PER_MINUTE}`,
        'cameras: {}',
      ].join('\n'),
    });
    void camplex.exited.then((result) => {
      exited = result;
    });
    port = Number(new URL(camplex.url).port);
    viewers = await Promise.all([connect(), connect()]);
    for (const viewer of viewers) {
      const ack = await viewer.reply(JSON.stringify({ cmd: 'subscribe', cameras: CAMERAS }));
      assert.deepEqual(ack, { type: 'subscribed', cameras: CAMERAS });
    }
    await waitFor(() => viewers.every((v) => CAMERAS.every((c) => v.framesOf(c) > 0)), {
      timeoutMs: 20_000,
      what: 'the first frames of both cameras at both viewers',
    });
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.close();
    await camplex?.stop();
  });

  function connect(headers: Record<string, string> = BEARER, localAddress?: string) {
    return connectClient(camplex.wsUrl, { headers, ...(localAddress ? { localAddress } : {}) });
  }

  /** Waits until each legitimate viewer got new frames of each camera. */
  async function assertViewersStillStreaming(): Promise<void> {
    const counted = viewers.map((viewer) => CAMERAS.map((camera) => viewer.framesOf(camera)));
    await waitFor(
      () =>
        viewers.every((viewer, i) =>
          CAMERAS.every((camera, j) => viewer.framesOf(camera) > (counted[i]?.[j] ?? 0)),
        ),
      { timeoutMs: 10_000, what: 'new frames of both cameras at both legitimate viewers' },
    );
    for (const viewer of viewers) {
      assert.equal(viewer.ws.readyState, WebSocket.OPEN, 'a legitimate viewer was closed');
      assert.equal(viewer.badFrames(), 0, 'a legitimate viewer got a broken frame');
    }
    assert.equal(exited, undefined, 'camplex exited');
  }

  function entriesSince(mark: number): LogEntry[] {
    return camplexEntriesSince(camplex, mark);
  }

  async function waitForEntry(mark: number, match: LogMatch, timeoutMs: number) {
    try {
      return await waitFor(() => entriesSince(mark).find((entry) => matches(entry, match)), {
        timeoutMs,
        what: `a log line matching ${String(JSON.stringify(match, regexToString))}`,
      });
    } catch (error) {
      const seen = camplex.lines.slice(mark).slice(-5).join('\n');
      throw new Error(`${(error as Error).message}\nlast lines since the case began:\n${seen}`);
    }
  }

  /** (b) and (c) of every case: the log line, and legitimate viewers still streaming. */
  async function expectAftermath(mark: number, expect: Expectation) {
    const timeoutMs = LOG_WAIT_MS;
    const [streaming, logged] = await Promise.allSettled([
      assertViewersStillStreaming(),
      expect.logged ? waitForEntry(mark, expect.logged, timeoutMs) : Promise.resolve(undefined),
    ]);
    if (streaming.status === 'rejected') throw streaming.reason;
    const since = entriesSince(mark);
    const errors = since.filter((entry) => Number(entry.level) >= 50);
    assert.deepEqual(errors, [], 'camplex logged an error');
    if (expect.allowed) {
      const refusals = since.filter((entry) => entry.limit !== undefined);
      assert.deepEqual(refusals, [], 'an allowed request was logged as refused');
    }
    if (logged.status === 'rejected') throw logged.reason;
  }

  /** Sends a raw request and checks the server then closes the connection. */
  async function refused(request: string, localAddress?: string): Promise<RawResponse> {
    const response = await rawRequest({ port, ...(localAddress ? { localAddress } : {}) }, request);
    await waitFor(() => response.closed.then(() => true), {
      timeoutMs: 5000,
      what: 'the server to close the refused connection',
    });
    return response;
  }

  function upgrade(headers: Record<string, string | undefined>, path?: string): string {
    return handshake({ headers, ...(path ? { path } : {}), host: `127.0.0.1:${port}` }).text;
  }

  function openRaw(): Promise<RawWebSocket> {
    return openRawWebSocket({ port }, { ...BEARER, Host: `127.0.0.1:${port}` });
  }

  describe('the WebSocket handshake', () => {
    it('answers an upgrade without Sec-WebSocket-Key with 400 from ws', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, 'Sec-WebSocket-Key': undefined }));
      assert.equal(response.status, 400);
      assert.equal(response.body, 'Missing or invalid Sec-WebSocket-Key header\n');
      await expectAftermath(mark, {
        logged: { msg: /Sec-WebSocket-Key/ },
      });
    });

    it('answers an unknown Sec-WebSocket-Version with 400 naming versions 13 and 8', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, 'Sec-WebSocket-Version': '12' }));
      // ws answers 400 (not 426) and lists what it speaks.
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('sec-websocket-version'), '13, 8');
      assert.equal(response.body, 'Missing or invalid Sec-WebSocket-Version header\n');
      await expectAftermath(mark, {
        logged: { msg: /Sec-WebSocket-Version/ },
      });
    });

    it('answers an upgrade by POST with 405 from ws', async () => {
      const mark = camplex.lines.length;
      const { text } = handshake({
        method: 'POST',
        host: `127.0.0.1:${port}`,
        headers: { ...BEARER, 'Content-Length': '0' },
      });
      const response = await refused(text);
      assert.equal(response.status, 405);
      assert.equal(response.body, 'Invalid HTTP method\n');
      await expectAftermath(mark, {
        logged: { msg: /HTTP method|405/ },
      });
    });

    it('answers an Upgrade header other than websocket with 400 from ws', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, Upgrade: 'h2c' }));
      assert.equal(response.status, 400);
      assert.equal(response.body, 'Invalid Upgrade header\n');
      await expectAftermath(mark, {
        logged: { msg: /Upgrade header/ },
      });
    });

    it('treats a handshake without Upgrade header as a plain request: 404 JSON', async () => {
      const mark = camplex.lines.length;
      const response = await rawRequest(
        { port },
        upgrade({ ...BEARER, Upgrade: undefined, Connection: 'close' }),
      );
      assert.equal(response.status, 404);
      assert.deepEqual(JSON.parse(response.body), {
        error: { code: 'CAMPLEX_ERR_NOT_FOUND', message: 'nothing at /ws/cameras' },
      });
      response.socket.destroy();
      await expectAftermath(mark, {
        logged: { msg: /ws\/cameras|404/ },
      });
    });

    it('answers request headers over 16 KiB with 431 and closes', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, 'X-Padding': 'a'.repeat(17 * 1024) }));
      assert.equal(response.status, 431);
      await expectAftermath(mark, {
        logged: { msg: /431|header overflow|too large/i },
      });
    });

    it('cuts off a slowloris client after headersTimeout with 408', async () => {
      const mark = camplex.lines.length;
      const streaming = assertViewersStillStreaming(); // during the attack
      // One header line every 250 ms, at most 40 (10 s), never the end of the head.
      const slow = await trickleHeaders(
        { port },
        `GET /ws/cameras HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`,
        { maxLines: 40, intervalMs: 250 },
      );
      assert.equal(slow.closedBy, 'server');
      assert.match(slow.received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      await streaming;
      await expectAftermath(mark, {
        logged: { msg: /408|timeout/i },
      });
    });

    it('answers an upgrade to another path with 404', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade(BEARER, '/ws/../ws/other'));
      assert.equal(response.status, 404);
      assert.equal(response.body, 'no WebSocket endpoint at /ws/../ws/other\n');
      await expectAftermath(mark, {
        logged: { msg: /no WebSocket endpoint/ },
      });
    });

    it('refuses an upgrade without credentials with 401', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({}));
      assert.equal(response.status, 401);
      assert.equal(response.body, 'authentication required\n');
      await expectAftermath(mark, {
        logged: {
          limit: 'unauthenticated',
          msg: 'upgrade refused with 401: authentication required',
        },
      });
    });

    it('answers 401, not 400, to a malformed handshake without credentials', async () => {
      const mark = camplex.lines.length;
      const response = await refused(
        upgrade({ 'Sec-WebSocket-Key': 'not base64', 'Sec-WebSocket-Version': 'x' }),
      );
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('refuses a wrong bearer token with 401', async () => {
      const mark = camplex.lines.length;
      const response = await refused(
        upgrade({ Authorization: `Bearer ${NVR_TOKEN.replace('nvr', 'nvR')}` }),
      );
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('refuses a wrong token in the camplex.token subprotocol with 401', async () => {
      const mark = camplex.lines.length;
      const response = await refused(
        upgrade({ 'Sec-WebSocket-Protocol': `camplex.v1, camplex.token.${'x'.repeat(40)}` }),
      );
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('accepts the valid token of another user (tokens see every camera)', async () => {
      const mark = camplex.lines.length;
      const other = await connect({ Authorization: `Bearer ${OTHER_TOKEN}` });
      const ack = await other.reply(JSON.stringify({ cmd: 'subscribe', cameras: CAMERAS }));
      assert.deepEqual(ack, { type: 'subscribed', cameras: CAMERAS });
      await waitFor(() => CAMERAS.every((camera) => other.framesOf(camera) > 0), {
        timeoutMs: 10_000,
        what: 'frames of both cameras for the other user',
      });
      other.ws.close(1000);
      assert.equal((await other.closed).code, 1000);
      await expectAftermath(mark, {
        allowed: true,
        logged: { msg: 'viewer disconnected', remote: / other$/ },
      });
    });

    it('refuses a forged session cookie with 401', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ Cookie: 'camplex_session=admin; role=admin' }));
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('refuses an unknown, well-formed session cookie with 401', async () => {
      const mark = camplex.lines.length;
      const cookie = `camplex_session=${Buffer.alloc(32, 7).toString('base64url')}`;
      const response = await refused(upgrade({ Cookie: cookie }));
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('closes the sockets of a session at logout (1008), then refuses its cookie', async () => {
      const mark = camplex.lines.length;
      const login = await httpRequest(port, '/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user: 'alice', password: PASSWORD }).toString(),
      });
      assert.equal(login.status, 303);
      const cookie = /^(camplex_session=[^;]+);/.exec(String(login.headers['set-cookie']))?.[1];
      assert.ok(cookie, 'a session cookie');
      const alice = await connect({ Cookie: cookie });
      const logout = await httpRequest(port, '/logout', {
        method: 'POST',
        headers: { Cookie: cookie },
      });
      assert.equal(logout.status, 303);
      assert.deepEqual(await alice.closed, { code: 1008, reason: 'logged out' });
      const response = await refused(upgrade({ Cookie: cookie }));
      assert.equal(response.status, 401);
      await waitForEntry(
        mark,
        { msg: 'closing a socket: its credential changed', reason: 'logged out' },
        LOG_WAIT_MS,
      );
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });

    it('refuses an Origin of another site with 403', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, Origin: 'https://evil.example' }));
      assert.equal(response.status, 403);
      assert.equal(response.body, 'this Origin may not open camplex sockets\n');
      await expectAftermath(mark, {
        logged: { limit: 'origin', origin: 'https://evil.example' },
      });
    });

    it('refuses Origin: null with 403', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({ ...BEARER, Origin: 'null' }));
      assert.equal(response.status, 403);
      await expectAftermath(mark, { logged: { limit: 'origin', origin: 'null' } });
    });

    it('does not take a token from the query string: 401', async () => {
      const mark = camplex.lines.length;
      const response = await refused(upgrade({}, `/ws/cameras?token=${NVR_TOKEN}`));
      assert.equal(response.status, 401);
      await expectAftermath(mark, { logged: { limit: 'unauthenticated' } });
    });
  });

  describe('frames after a valid handshake', () => {
    const subscribe = JSON.stringify({ cmd: 'subscribe', cameras: ['demo-01'] });
    const violations: Array<{
      name: string;
      frames: () => Buffer[];
      code: number;
      logged: LogMatch;
    }> = [
      {
        name: 'closes with 1002 on an unmasked client frame',
        frames: () => [buildFrame({ opcode: Opcode.TEXT, payload: subscribe, masked: false })],
        code: 1002,
        logged: { code: 'WS_ERR_EXPECTED_MASK' },
      },
      {
        name: 'closes with 1002 when RSV1 is set without an extension',
        frames: () => [buildFrame({ opcode: Opcode.TEXT, payload: subscribe, rsv: Rsv.RSV1 })],
        code: 1002,
        logged: { code: 'WS_ERR_UNEXPECTED_RSV_1' },
      },
      {
        name: 'closes with 1002 when RSV2 and RSV3 are set',
        frames: () => [buildFrame({ opcode: Opcode.TEXT, payload: subscribe, rsv: 0x30 })],
        code: 1002,
        logged: { code: 'WS_ERR_UNEXPECTED_RSV_2_3' },
      },
      {
        name: 'closes with 1002 on an unknown opcode',
        frames: () => [buildFrame({ opcode: 0x3, payload: 'x' })],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_OPCODE', err: 'Invalid WebSocket frame: invalid opcode 3' },
      },
      {
        name: 'closes with 1002 on a continuation frame with nothing to continue',
        frames: () => [buildFrame({ opcode: Opcode.CONTINUATION, payload: subscribe })],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_OPCODE', err: /invalid opcode 0/ },
      },
      {
        name: 'closes with 1002 on a new text frame inside a fragmented message',
        frames: () => [
          buildFrame({ opcode: Opcode.TEXT, payload: '{"cmd":', fin: false }),
          buildFrame({ opcode: Opcode.TEXT, payload: subscribe }),
        ],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_OPCODE', err: /invalid opcode 1/ },
      },
      {
        name: 'closes with 1002 on a fragmented control frame',
        frames: () => [buildFrame({ opcode: Opcode.PING, payload: 'hi', fin: false })],
        code: 1002,
        logged: { code: 'WS_ERR_EXPECTED_FIN' },
      },
      {
        name: 'closes with 1002 on a control frame over 125 bytes',
        frames: () => [buildFrame({ opcode: Opcode.PING, payload: Buffer.alloc(126, 1) })],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', err: /length 126/ },
      },
      {
        name: 'closes with 1007 on a text message that is not UTF-8',
        frames: () => [buildFrame({ opcode: Opcode.TEXT, payload: Buffer.from([0x7b, 0xc3]) })],
        code: 1007,
        logged: { limit: 'invalid-utf8', code: 'WS_ERR_INVALID_UTF8' },
      },
      {
        name: 'closes with 1007 on a close reason that is not UTF-8',
        frames: () => [
          buildFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, Buffer.from([0xff])) }),
        ],
        code: 1007,
        logged: { limit: 'invalid-utf8', code: 'WS_ERR_INVALID_UTF8' },
      },
      {
        name: 'closes with 1002 on an invalid close code',
        frames: () => [buildFrame({ opcode: Opcode.CLOSE, payload: closePayload(999) })],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_CLOSE_CODE', err: /invalid status code 999/ },
      },
      {
        name: 'closes with 1002 on a close frame with a 1-byte payload',
        frames: () => [buildFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) })],
        code: 1002,
        logged: { code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', err: /length 1$/ },
      },
      {
        name: 'closes with 1003 on a binary message',
        frames: () => [buildFrame({ opcode: Opcode.BINARY, payload: Buffer.from(subscribe) })],
        code: 1003,
        logged: { limit: 'binary-message' },
      },
      {
        name: 'closes with 1008 on a message in more than 16,384 fragments (ws)',
        frames: () => [
          buildFrame({ opcode: Opcode.TEXT, payload: '{', fin: false }),
          ...Array.from({ length: 16_400 }, () =>
            buildFrame({ opcode: Opcode.CONTINUATION, payload: ' ', fin: false }),
          ),
        ],
        code: 1008,
        logged: { code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS', err: /Too many message fragments/ },
      },
      {
        name: 'closes with 1009 as soon as a frame announces more than 64 KiB',
        // Only the header and a few bytes: the announcement alone must be enough.
        frames: () => [
          buildFrame({ opcode: Opcode.TEXT, payload: '{"cmd"', declaredLength: 1 << 30 }),
        ],
        code: 1009,
        logged: { limit: 'message-size', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' },
      },
      {
        name: 'closes with 1009 when fragments under 64 KiB add up to more',
        frames: () =>
          [0, 1, 2].map((i) =>
            buildFrame({
              opcode: i === 0 ? Opcode.TEXT : Opcode.CONTINUATION,
              payload: Buffer.alloc(30_000, 0x20),
              fin: i === 2,
            }),
          ),
        code: 1009,
        logged: { limit: 'message-size', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' },
      },
    ];

    for (const violation of violations) {
      it(violation.name, async () => {
        const mark = camplex.lines.length;
        const raw = await openRaw();
        try {
          for (const frame of violation.frames()) raw.write(frame);
          const close = await raw.closeFrame();
          assert.equal(close.code, violation.code);
          if (violation.code === 1003)
            assert.equal(close.reason, 'binary messages are not accepted');
        } finally {
          raw.destroy();
        }
        await expectAftermath(mark, { logged: violation.logged });
      });
    }

    it('reassembles a command split in fragments around a ping', async () => {
      const mark = camplex.lines.length;
      const raw = await openRaw();
      try {
        raw.write(buildFrame({ opcode: Opcode.TEXT, payload: '{"cmd":"subs', fin: false }));
        raw.write(buildFrame({ opcode: Opcode.PING, payload: 'mid' }));
        raw.write(
          buildFrame({ opcode: Opcode.CONTINUATION, payload: 'cribe","cameras":', fin: false }),
        );
        raw.write(buildFrame({ opcode: Opcode.CONTINUATION, payload: '["demo-01"]}' }));
        const pong = await raw.frame((f) => f.opcode === Opcode.PONG, 5000);
        assert.equal(pong?.payload.toString(), 'mid');
        const ack = await raw.frame(
          (f) => f.opcode === Opcode.TEXT && f.payload.includes('"subscribed"'),
          5000,
        );
        assert.deepEqual(JSON.parse(String(ack?.payload)), {
          type: 'subscribed',
          cameras: ['demo-01'],
        });
      } finally {
        raw.destroy();
      }
      await expectAftermath(mark, { allowed: true, logged: { msg: 'viewer disconnected' } });
    });

    it('cuts off a burst of 2,000 pings once 60 pongs are pending (ws)', async () => {
      const mark = camplex.lines.length;
      const raw = await openRaw();
      const count = 2000;
      try {
        const pings = Array.from({ length: count }, (_, i) => {
          const payload = Buffer.alloc(4);
          payload.writeUInt32BE(i);
          return buildFrame({ opcode: Opcode.PING, payload });
        });
        const streaming = assertViewersStillStreaming(); // during the flood
        raw.write(Buffer.concat(pings));
        await waitFor(() => raw.closed.then(() => true), {
          timeoutMs: 10_000,
          what: 'the server to end the flooding connection',
        });
        // ws answers pings until 60 pongs wait to be written (maxPendingAutoPongs), then
        // terminates the connection: no close frame, and never all 2,000 answered.
        const pongs = raw.frames.filter((f) => f.opcode === Opcode.PONG);
        assert.ok(pongs.length >= 60 && pongs.length < count, `${pongs.length} pongs`);
        assert.deepEqual(
          pongs.map((f) => f.payload.readUInt32BE(0)),
          Array.from({ length: pongs.length }, (_, i) => i),
        );
        assert.equal(raw.frames.filter((f) => f.opcode === Opcode.CLOSE).length, 0);
        await streaming;
      } finally {
        raw.destroy();
      }
      await waitForEntry(mark, { msg: 'viewer disconnected', code: 1006 }, LOG_WAIT_MS);
      // ws ends the flood itself (it stops after 60 unanswered pongs); the drop is what is logged.
      await expectAftermath(mark, { logged: { msg: 'viewer disconnected', code: 1006 } });
    });
  });

  describe('control messages', () => {
    const refusals: Array<{ name: string; text: () => string; reply: Record<string, unknown> }> = [
      {
        name: 'refuses malformed JSON with CAMPLEX_ERR_BAD_JSON',
        text: () => '{"cmd":"subscribe","cameras":["demo-01"]',
        reply: { code: 'CAMPLEX_ERR_BAD_JSON', message: 'control message is not valid JSON' },
      },
      {
        name: 'refuses a JSON array with CAMPLEX_ERR_BAD_MESSAGE',
        text: () => JSON.stringify(['subscribe', ['demo-01']]),
        reply: {
          code: 'CAMPLEX_ERR_BAD_MESSAGE',
          message: 'control message must be a JSON object',
        },
      },
      {
        name: 'refuses 10,000 levels of nesting under the size limit and stays up',
        text: () => `{"cmd":"subscribe","cameras":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        reply: {
          code: 'CAMPLEX_ERR_BAD_MESSAGE',
          message: '"subscribe" needs "cameras": an array of camera id strings',
        },
      },
      {
        name: 'refuses 1,025 ids with CAMPLEX_ERR_TOO_MANY_CAMERAS',
        text: () =>
          JSON.stringify({
            cmd: 'subscribe',
            cameras: Array.from({ length: 1025 }, (_, i) => `cam-${i}`),
          }),
        reply: {
          code: 'CAMPLEX_ERR_TOO_MANY_CAMERAS',
          message: '"subscribe" names 1025 cameras; at most 1024 per message',
        },
      },
      {
        name: 'refuses an unknown camera id and names it',
        text: () => JSON.stringify({ cmd: 'subscribe', cameras: ['porch'] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: 'unknown camera "porch"',
          cameras: ['porch'],
        },
      },
      {
        name: 'treats ../etc/passwd as an unknown camera id',
        text: () => JSON.stringify({ cmd: 'subscribe', cameras: ['../etc/passwd'] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: 'unknown camera "../etc/passwd"',
          cameras: ['../etc/passwd'],
        },
      },
      {
        name: 'treats %00 as an unknown camera id',
        text: () => JSON.stringify({ cmd: 'subscribe', cameras: ['demo-01%00'] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: 'unknown camera "demo-01%00"',
          cameras: ['demo-01%00'],
        },
      },
      {
        name: 'treats __proto__ and constructor as unknown camera ids',
        text: () => JSON.stringify({ cmd: 'unsubscribe', cameras: ['__proto__', 'constructor'] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: 'unknown cameras "__proto__", "constructor"',
          cameras: ['__proto__', 'constructor'],
        },
      },
      {
        name: 'echoes a 300-byte id clipped to 64 characters',
        text: () => JSON.stringify({ cmd: 'subscribe', cameras: ['a'.repeat(300)] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: `unknown camera "${'a'.repeat(64)}..."`,
          cameras: [`${'a'.repeat(64)}...`],
        },
      },
      {
        name: 'refuses an unknown command',
        text: () => JSON.stringify({ cmd: 'exec', cameras: ['demo-01'] }),
        reply: {
          code: 'CAMPLEX_ERR_UNKNOWN_COMMAND',
          message:
            'unknown command "exec": expected "subscribe", "unsubscribe", "ack", "batch" or "ptz"',
        },
      },
      {
        name: 'refuses an ack of bytes it was never sent',
        text: () => JSON.stringify({ cmd: 'ack', bytes: 2 ** 40 }),
        reply: {
          code: 'CAMPLEX_ERR_BAD_MESSAGE',
          message: '"ack" of 1099511627776 bytes, but only 0 were sent',
        },
      },
      {
        name: 'refuses an ack beyond the safe integers',
        text: () => '{"cmd":"ack","bytes":1e300}',
        reply: {
          code: 'CAMPLEX_ERR_BAD_MESSAGE',
          message: '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
        },
      },
    ];

    for (const refusal of refusals) {
      it(refusal.name, async () => {
        const mark = camplex.lines.length;
        const probe = await connect();
        try {
          const text = refusal.text();
          assert.ok(Buffer.byteLength(text) <= MAX_MESSAGE_BYTES, 'under the size limit');
          const reply = await probe.reply(text);
          assert.deepEqual(reply, { type: 'error', ...refusal.reply });
          // Refused, not closed: the same socket still works.
          const ack = await probe.reply(JSON.stringify({ cmd: 'unsubscribe', cameras: [] }));
          assert.deepEqual(ack, { type: 'unsubscribed', cameras: [] });
        } finally {
          probe.ws.close();
        }
        await expectAftermath(mark, {
          logged: {
            msg: `control message refused: ${String(refusal.reply.message)}`,
            code: String(refusal.reply.code),
          },
        });
      });
    }

    it('keeps an id with a newline from forging a log line', async () => {
      const mark = camplex.lines.length;
      const forged = 'x\n{"level":60,"name":"camplex","msg":"forged"}';
      const probe = await connect();
      try {
        const reply = await probe.reply(JSON.stringify({ cmd: 'subscribe', cameras: [forged] }));
        assert.deepEqual(reply, {
          type: 'error',
          code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
          message: `unknown camera ${JSON.stringify(forged)}`,
          cameras: [forged],
        });
      } finally {
        probe.ws.close();
      }
      await expectAftermath(mark, { logged: { code: 'CAMPLEX_ERR_UNKNOWN_CAMERA' } });
      assert.equal(
        entriesSince(mark).filter((entry) => entry.msg === 'forged').length,
        0,
        'a forged line',
      );
    });

    it('closes with 1009 on 1 MiB of JSON', async () => {
      const mark = camplex.lines.length;
      const probe = await connect();
      probe.ws.send(JSON.stringify({ cmd: 'subscribe', cameras: ['x'.repeat(1 << 20)] }));
      assert.equal((await probe.closed).code, 1009);
      await expectAftermath(mark, { logged: { limit: 'message-size' } });
    });

    it('closes with 1009 on a subscribe naming 100,000 ids (over the size limit)', async () => {
      const mark = camplex.lines.length;
      const probe = await connect();
      const ids = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
      const text = JSON.stringify({ cmd: 'subscribe', cameras: ids });
      assert.ok(Buffer.byteLength(text) > MAX_MESSAGE_BYTES);
      probe.ws.send(text);
      assert.equal((await probe.closed).code, 1009);
      await expectAftermath(mark, { logged: { limit: 'message-size' } });
    });

    it('closes with 1008 on a flood of acks that acknowledge nothing new', async () => {
      const mark = camplex.lines.length;
      const probe = await connect();
      const streaming = assertViewersStillStreaming(); // during the flood
      const ack = JSON.stringify({ cmd: 'ack', bytes: 0 });
      for (let i = 0; i < MAX_MESSAGES_PER_SECOND * 5; i++) probe.ws.send(ack);
      assert.deepEqual(await probe.closed, { code: 1008, reason: 'too many control messages' });
      await streaming;
      await expectAftermath(mark, {
        logged: { limit: 'message-rate', perSecond: MAX_MESSAGES_PER_SECOND },
      });
    });

    it('closes with 1008 on more control messages per second than allowed', async () => {
      const mark = camplex.lines.length;
      const probe = await connect();
      const streaming = assertViewersStillStreaming(); // during the flood
      const command = JSON.stringify({ cmd: 'unsubscribe', cameras: [] });
      for (let i = 0; i < MAX_MESSAGES_PER_SECOND * 5; i++) probe.ws.send(command);
      assert.deepEqual(await probe.closed, { code: 1008, reason: 'too many control messages' });
      const acks = probe.messages.filter((m) => m.type === 'unsubscribed').length;
      assert.equal(acks, MAX_MESSAGES_PER_SECOND);
      await streaming;
      await expectAftermath(mark, {
        logged: { limit: 'message-rate', perSecond: MAX_MESSAGES_PER_SECOND },
      });
    });
  });

  describe('sockets', () => {
    it('refuses the connection past maxSocketsPerIp with 503, for that address only', async () => {
      const mark = camplex.lines.length;
      const crowd = await Promise.all(
        Array.from({ length: MAX_SOCKETS_PER_IP }, () => connect(BEARER, CROWD_ADDRESS)),
      );
      try {
        const response = await refused(upgrade(BEARER), CROWD_ADDRESS);
        assert.equal(response.status, 503);
        assert.deepEqual(JSON.parse(response.body), {
          error: {
            code: 'CAMPLEX_ERR_TOO_MANY_CONNECTIONS',
            message: 'too many connections from your address',
          },
        });
        await waitForEntry(mark, { limit: 'sockets-per-ip', address: CROWD_ADDRESS }, LOG_WAIT_MS);
        // Another address still gets in.
        const probe = await connect();
        probe.ws.close();
      } finally {
        for (const client of crowd) client.ws.close();
      }
      await Promise.all(crowd.map((client) => client.closed));
      // Once they are gone the address may connect again.
      const again = await waitFor(() => connect(BEARER, CROWD_ADDRESS).catch(() => undefined), {
        timeoutMs: 5000,
        what: 'a socket from the crowd address after it left',
      });
      again.ws.close();
      await expectAftermath(mark, { logged: { limit: 'sockets-per-ip' } });
    });
  });

  describe('HTTP routes', () => {
    const FILE_CONTENT = /devDependencies|"name": "camplex"|root:x:0:0/;

    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/app.js/..%2f..%2fpackage.json',
      '//etc/passwd',
    ]) {
      it(`answers ${path} with 404 and no file contents`, async () => {
        const mark = camplex.lines.length;
        const response = await httpRequest(port, path, { headers: BEARER });
        assert.equal(response.status, 404);
        assert.doesNotMatch(response.body, FILE_CONTENT);
        assert.deepEqual(JSON.parse(response.body), {
          error: { code: 'CAMPLEX_ERR_NOT_FOUND', message: `nothing at ${path}` },
        });
        await expectAftermath(mark, {
          logged: { msg: /nothing at|404/ },
        });
      });
    }

    it('answers snapshots of traversal ids with 404', async () => {
      const mark = camplex.lines.length;
      const encoded = await httpRequest(port, '/snapshot/..%2f..%2fetc%2fpasswd.jpg', {
        headers: BEARER,
      });
      assert.equal(encoded.status, 404);
      assert.equal(JSON.parse(encoded.body).error.code, 'CAMPLEX_ERR_NOT_FOUND');
      const dots = await httpRequest(port, '/snapshot/...jpg', { headers: BEARER });
      assert.equal(dots.status, 404);
      assert.deepEqual(JSON.parse(dots.body), {
        error: { code: 'CAMPLEX_ERR_UNKNOWN_CAMERA', message: 'unknown camera ".."' },
      });
      await expectAftermath(mark, {
        logged: { msg: /unknown camera|404/ },
      });
    });

    it('answers MJPEG streams of traversal ids with 404', async () => {
      const mark = camplex.lines.length;
      const encoded = await httpRequest(port, '/mjpeg/..%2f..%2fetc%2fpasswd', {
        headers: BEARER,
      });
      assert.equal(encoded.status, 404);
      assert.equal(JSON.parse(encoded.body).error.code, 'CAMPLEX_ERR_NOT_FOUND');
      const dots = await httpRequest(port, '/mjpeg/..', { headers: BEARER });
      assert.equal(dots.status, 404);
      assert.deepEqual(JSON.parse(dots.body), {
        error: { code: 'CAMPLEX_ERR_UNKNOWN_CAMERA', message: 'unknown camera ".."' },
      });
      await expectAftermath(mark, {
        logged: { msg: /unknown camera|404/ },
      });
    });

    it('refuses /api/cameras without credentials: 401 JSON with WWW-Authenticate', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/api/cameras');
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="camplex"');
      assert.deepEqual(JSON.parse(response.body), {
        error: {
          code: 'CAMPLEX_ERR_UNAUTHENTICATED',
          message: 'sign in or send Authorization: Bearer <token>',
        },
      });
      await expectAftermath(mark, {
        logged: { limit: 'unauthenticated', path: '/api/cameras' },
      });
    });

    it('sends a browser without credentials to /login with 303', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/', { headers: { Accept: 'text/html' } });
      assert.equal(response.status, 303);
      assert.equal(response.headers.location, '/login');
      await expectAftermath(mark, { logged: { limit: 'unauthenticated', path: '/' } });
    });

    it('answers GET /healthz without credentials with 200', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/healthz');
      assert.equal(response.status, 200);
      assert.equal(JSON.parse(response.body).status, 'ok');
      await expectAftermath(mark, { allowed: true });
    });

    it('refuses a wrong bearer token with 401', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/api/cameras', {
        headers: { Authorization: `Bearer ${'z'.repeat(40)}` },
      });
      assert.equal(response.status, 401);
      assert.equal(JSON.parse(response.body).error.code, 'CAMPLEX_ERR_UNAUTHENTICATED');
      await expectAftermath(mark, {
        logged: { limit: 'unauthenticated', path: '/api/cameras' },
      });
    });

    it('accepts the token of another user with 200', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/api/cameras', {
        headers: { Authorization: `Bearer ${OTHER_TOKEN}` },
      });
      assert.equal(response.status, 200);
      const { cameras } = JSON.parse(response.body) as { cameras: Array<{ id: string }> };
      assert.deepEqual(
        cameras.map((camera) => camera.id),
        CAMERAS,
      );
      await expectAftermath(mark, { allowed: true });
    });

    it('answers a wrong password with 401 and the login page', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'user=alice&password=wrong',
      });
      assert.equal(response.status, 401);
      assert.match(response.body, /Wrong user name or password\./);
      await expectAftermath(mark, {
        logged: { limit: 'unauthenticated', msg: 'login failed', user: 'alice' },
      });
    });

    it('refuses a login POST from a foreign Origin with 403', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/login', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Origin: 'https://evil.example',
        },
        body: new URLSearchParams({ user: 'alice', password: PASSWORD }).toString(),
      });
      assert.equal(response.status, 403);
      assert.equal(response.headers['set-cookie'], undefined);
      assert.deepEqual(JSON.parse(response.body), {
        error: { code: 'CAMPLEX_ERR_ORIGIN', message: 'login from this origin is not allowed' },
      });
      await expectAftermath(mark, {
        logged: { limit: 'origin', origin: 'https://evil.example' },
      });
    });

    it('refuses a login form over 4 KiB with 400', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `user=alice&password=${'x'.repeat(8 * 1024)}`,
      });
      assert.equal(response.status, 400);
      assert.deepEqual(JSON.parse(response.body), {
        error: {
          code: 'CAMPLEX_ERR_BAD_REQUEST',
          message: 'expected a form with user and password',
        },
      });
      await expectAftermath(mark, {
        logged: { msg: /form|400/ },
      });
    });

    it('answers PUT / with 405 and Allow', async () => {
      const mark = camplex.lines.length;
      const response = await httpRequest(port, '/', { method: 'PUT', body: 'x' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.allow, 'GET, HEAD');
      assert.deepEqual(JSON.parse(response.body), {
        error: { code: 'CAMPLEX_ERR_METHOD_NOT_ALLOWED', message: 'PUT is not allowed' },
      });
      await expectAftermath(mark, {
        logged: { msg: /PUT|405/ },
      });
    });

    it('answers login attempts past the per-minute limit with 429 and Retry-After', async () => {
      const mark = camplex.lines.length;
      const attempt = () =>
        httpRequest(port, '/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'user=alice&password=guess',
          localAddress: LOGIN_FLOOD_ADDRESS,
        });
      for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i++) {
        assert.equal((await attempt()).status, 401, `attempt ${i + 1}`);
      }
      const limited = await attempt();
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '60');
      assert.deepEqual(JSON.parse(limited.body), {
        error: {
          code: 'CAMPLEX_ERR_RATE_LIMITED',
          message: 'too many failed sign-ins from your address: try again in 60 s',
        },
      });
      await expectAftermath(mark, {
        logged: { limit: 'login-rate', address: LOGIN_FLOOD_ADDRESS },
      });
    });
  });

  describe('fuzzing', () => {
    it('survives random bytes on authenticated sockets for 5 s', async (t) => {
      const seed = seeded('CAMPLEX_FUZZ_SEED');
      t.diagnostic(`fuzz ${seed.replay}`);
      console.log(`fuzz ${seed.replay}`);
      await withSeed(seed, async (random) => {
        const mark = camplex.lines.length;
        const deadline = Date.now() + 5000;
        const outcomes = { closedByServer: 0, cutByUs: 0 };
        let iterations = 0;
        const streaming = assertViewersStillStreaming(); // during the run
        while (Date.now() < deadline && iterations < 400) {
          iterations++;
          const raw = await openRaw();
          raw.write(randomChunk(random));
          // A server waiting for the rest of a frame is fine too: cut it off after a while.
          const ended = await Promise.race([raw.closed.then(() => true), delay(300, false)]);
          if (ended) outcomes.closedByServer++;
          else outcomes.cutByUs++;
          raw.destroy();
        }
        t.diagnostic(`${iterations} iterations: ${JSON.stringify(outcomes)}`);
        await streaming;
        assert.equal(exited, undefined, 'camplex exited');
        // Every fuzzed socket was let go: only the two legitimate viewers remain.
        await waitFor(
          async () => {
            const health = await httpRequest(port, '/healthz');
            assert.equal(health.status, 200);
            return (JSON.parse(health.body) as { viewers: number }).viewers === viewers.length;
          },
          { timeoutMs: 5000, what: 'healthz to count only the legitimate viewers' },
        );
        const disconnected = () =>
          entriesSince(mark).filter((entry) => entry.msg === 'viewer disconnected').length;
        await waitFor(() => disconnected() === iterations, {
          timeoutMs: 5000,
          what: `${iterations} "viewer disconnected" lines`,
        });
        await expectAftermath(mark, {
          logged: { msg: 'websocket protocol error: closed by ws', code: /^WS_ERR_/ },
        });
      });
    });
  });
});

/** A few bytes of a hostile client: frames with random fields, or plain noise. */
function randomChunk(random: () => number): Buffer {
  const int = (n: number) => Math.floor(random() * n);
  if (random() < 0.3) return Buffer.from(Array.from({ length: 1 + int(256) }, () => int(256)));
  const pieces = [
    '{"cmd":"subscribe","cameras":[',
    '{"cmd":"unsubscribe","cameras":[',
    '"demo-01"',
    '"demo-02"',
    '"../x"',
    ']}',
    ',',
    '{',
    '[',
    'null',
    '1e999',
    '"\\u0000"',
    '\u00e9',
  ];
  const opcodes = [0x0, 0x1, 0x1, 0x1, 0x2, 0x8, 0x9, 0xa, int(16)];
  const frames: Buffer[] = [];
  for (let n = 1 + int(4); n > 0; n--) {
    const text = random() < 0.7;
    const payload = text
      ? Buffer.from(Array.from({ length: int(8) }, () => pieces[int(pieces.length)]).join(''))
      : Buffer.from(Array.from({ length: int(140) }, () => int(256)));
    frames.push(
      buildFrame({
        opcode: opcodes[int(opcodes.length)] ?? 0x1,
        payload,
        fin: random() < 0.85,
        rsv: random() < 0.1 ? [Rsv.RSV1, Rsv.RSV2, Rsv.RSV3][int(3)] : 0,
        masked: random() < 0.95,
        maskKey: Buffer.from([int(256), int(256), int(256), int(256)]),
        ...(random() < 0.05 ? { declaredLength: int(1 << 20) } : {}),
      }),
    );
  }
  return Buffer.concat(frames);
}

function regexToString(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? String(value) : value;
}
