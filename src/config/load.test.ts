import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { hashPassword } from '../access/password.js';
import { ErrorCodes } from '../common/errors.js';
import { ConfigError, loadConfig, parseConfig } from './load.js';
import { redactorFor } from './secrets.js';

const ORIGIN = 'cameras.yaml';
const ONE_CAMERA = 'cameras:\n  front:\n    url: rtsp://10.0.0.5/stream\n';

/** Asserts that parsing `text` fails with a ConfigError whose message is exactly `message`. */
function assertConfigError(
  text: string,
  message: string | RegExp,
  overrides?: Parameters<typeof parseConfig>[2],
): void {
  assert.throws(
    () => parseConfig(text, ORIGIN, overrides),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
      assert.equal(error.code, ErrorCodes.CONFIG);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

describe('parseConfig', () => {
  describe('rejects', () => {
    it('a camera url that is not a string, naming the file and the key', () => {
      assertConfigError(
        'cameras:\n  front:\n    url: 5\n',
        `${ORIGIN}: cameras.front.url: expected a camera URL (rtsp://, http(s)://, file:// or ` +
          'demo:N)',
      );
    });

    it('a camera url with an unsupported scheme', () => {
      assertConfigError(
        'cameras:\n  front:\n    url: ftp://10.0.0.5/x\n',
        `${ORIGIN}: cameras.front.url: expected a URL starting with rtsp://, rtsps://, http://, ` +
          'https://, file:// or demo:',
      );
    });

    it('control characters in a url or sub-stream (a NUL would make spawn throw)', () => {
      for (const [key, value] of [
        ['url', '"rtsp://10.0.0.5/x\\0y"'],
        ['substream', '"rtsp://10.0.0.5/sub\\nx"'],
      ] as const) {
        const extra = key === 'url' ? '' : '    url: rtsp://10.0.0.5/x\n';
        assertConfigError(
          `cameras:\n  front:\n${extra}    ${key}: ${value}\n`,
          `${ORIGIN}: cameras.front.${key}: must not contain control characters (NUL, line breaks, tabs)`,
        );
      }
      // user and password are URL-encoded into the URL: any character works there.
      const config = parseConfig(
        'cameras:\n  front: { url: "rtsp://10.0.0.5/x", user: "a\\tb", password: "p\\0w" }\n',
        ORIGIN,
      );
      assert.equal(config.cameras[0]?.url, 'rtsp://a%09b:p%00w@10.0.0.5/x');
    });

    it('a group naming a camera that does not exist, naming the group and the place', () => {
      assertConfigError(
        `${ONE_CAMERA}groups:\n  outside: [front, garage]\n`,
        `${ORIGIN}: groups.outside.1: unknown camera "garage" (not a key of cameras)`,
      );
    });

    it('a group without cameras, and a group name that could not be a tab', () => {
      assertConfigError(
        `${ONE_CAMERA}groups:\n  outside: []\n`,
        `${ORIGIN}: groups.outside: expected at least one camera id`,
      );
      assertConfigError(
        `${ONE_CAMERA}groups:\n  "<b>": [front]\n`,
        /groups\."<b>": group names must be 1-64 characters/,
      );
    });

    it('an fps that is not a number', () => {
      assertConfigError(
        `${ONE_CAMERA}    fps: fast\n`,
        `${ORIGIN}: cameras.front.fps: expected number, received string`,
      );
    });

    it('a width that is not a whole number', () => {
      assertConfigError(
        `${ONE_CAMERA}    width: 640.5\n`,
        `${ORIGIN}: cameras.front.width: expected a whole number of pixels`,
      );
      assertConfigError(
        `${ONE_CAMERA}    width: "640"\n`,
        `${ORIGIN}: cameras.front.width: expected a whole number of pixels`,
      );
    });

    it('an unknown key, so a typo does not pass silently', () => {
      assertConfigError(`${ONE_CAMERA}    fsp: 5\n`, `${ORIGIN}: cameras.front: unknown key "fsp"`);
      assertConfigError(
        `${ONE_CAMERA}    fsp: 5\n    wdith: 640\n`,
        `${ORIGIN}: cameras.front: unknown keys "fsp", "wdith"`,
      );
      assertConfigError(
        `${ONE_CAMERA}server:\n  prot: 8080\n`,
        `${ORIGIN}: server: unknown key "prot"`,
      );
      assertConfigError(
        `${ONE_CAMERA}camera: {}\n`,
        `${ORIGIN}: (top level): unknown key "camera"`,
      );
    });

    it('a camera id that could not appear in a URL or on the wire', () => {
      const rule =
        'camera ids must be 1-64 characters of A-Z a-z 0-9 . _ - (they appear in URLs and on ' +
        'the wire)';
      assertConfigError(
        'cameras:\n  front door:\n    url: rtsp://x/y\n',
        `${ORIGIN}: cameras."front door": ${rule}`,
      );
      assertConfigError(
        `cameras:\n  ${'a'.repeat(65)}:\n    url: rtsp://x/y\n`,
        `${ORIGIN}: cameras."${'a'.repeat(65)}": ${rule}`,
      );
    });

    it('text that is not YAML', () => {
      assertConfigError(
        'cameras:\n  front: [\n',
        new RegExp(`^${ORIGIN}: invalid YAML: [^\\n]+ at line \\d+, column \\d+$`),
      );
    });

    it('a key given twice', () => {
      assertConfigError(
        `${ONE_CAMERA}  front:\n    url: rtsp://10.0.0.6/stream\n`,
        `${ORIGIN}: invalid YAML: key "front" given twice in one map, at line 4, column 3`,
      );
      assertConfigError(
        'cameras:\n  front: { url: "rtsp://a/1", url: "rtsp://a/2" }\n',
        `${ORIGIN}: invalid YAML: key "url" given twice in one map, at line 2, column 31`,
      );
    });

    it('a port out of range in the file or on the command line', () => {
      assertConfigError(
        `${ONE_CAMERA}server:\n  port: 70000\n`,
        `${ORIGIN}: server.port: expected a port number from 0 to 65535, got 70000`,
      );
      assertConfigError(
        `${ONE_CAMERA}server:\n  port: -1\n`,
        `${ORIGIN}: server.port: expected a port number from 0 to 65535, got -1`,
      );
      assertConfigError(
        `${ONE_CAMERA}server:\n  port: "18085"\n`,
        `${ORIGIN}: server.port: expected a port number from 0 to 65535, got the text "18085" (a number is written without quotes)`,
      );
      assertConfigError(ONE_CAMERA, '--port: expected a port number from 0 to 65535, got 65536', {
        port: 65536,
      });
      assertConfigError(ONE_CAMERA, '--port: expected a port number from 0 to 65535, got 80.5', {
        port: 80.5,
      });
    });

    it('a config without cameras', () => {
      const message =
        `${ORIGIN}: cameras: expected at least one camera (run without --config for demo ` +
        'cameras)';
      assertConfigError('', message);
      assertConfigError('cameras: {}\n', message);
      assertConfigError('server:\n  port: 9000\n', message);
    });

    it('a --demo count that is not a whole number from 0 to 256', () => {
      for (const demo of [-1, 1.5, 257, Number.NaN]) {
        assertConfigError(
          ONE_CAMERA,
          `--demo: expected a whole number of demo cameras from 0 to 256, got ${demo}`,
          { demo },
        );
      }
    });

    it('a camera whose id clashes with a --demo camera', () => {
      assertConfigError(
        'cameras:\n  demo-02:\n    url: rtsp://x/y\n',
        `${ORIGIN}: cameras.demo-02: clashes with a --demo camera id`,
        { demo: 2 },
      );
    });
  });

  it('fills in defaults: host 127.0.0.1, port 8080, 10 s grace, finite limits', () => {
    const config = parseConfig(ONE_CAMERA, ORIGIN);
    assert.equal(config.source, ORIGIN);
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 8080,
      allowedOrigins: [],
      allowedHosts: [],
      trustedProxies: [],
    });
    assert.deepEqual(config.ffmpeg, {});
    assert.equal(config.stream.graceMs, 10_000);
    assert.ok(Number.isFinite(config.stream.maxFrameBytes) && config.stream.maxFrameBytes > 0);
    assert.ok(
      Number.isFinite(config.stream.maxBufferedBytes) && config.stream.maxBufferedBytes > 0,
    );
  });

  it('folds user and password into the URL, URL-encoded, so any character works', () => {
    const config = parseConfig(
      `cameras:\n  door:\n    url: rtsp://10.0.0.5:554/s?x=1\n    user: ad min\n    password: "p@s/s: wé"\n`,
      ORIGIN,
    );
    assert.equal(
      config.cameras[0]?.url,
      'rtsp://ad%20min:p%40s%2Fs%3A%20w%C3%A9@10.0.0.5:554/s?x=1',
    );
    assert.equal(config.cameras[0]?.password, 'p@s/s: wé');
  });

  it('refuses credentials both in the URL and in user/password, and on non-network URLs', () => {
    assert.throws(
      () => parseConfig('cameras:\n  door:\n    url: rtsp://a:b@h/x\n    password: c\n', ORIGIN),
      /cameras\.door: the url has credentials already: put them in user\/password, not in both/,
    );
    assert.throws(
      () => parseConfig('cameras:\n  door:\n    url: demo:1\n    password: c\n', ORIGIN),
      /cameras\.door: user\/password need an rtsp:\/\/ or http\(s\):\/\/ url/,
    );
  });

  it('accepts trusted proxies as addresses or CIDRs and names a bad one', () => {
    const config = parseConfig(
      `${ONE_CAMERA}server:\n  trustedProxies: [127.0.0.1, 10.0.0.0/8, "fd00::/8"]\n`,
      ORIGIN,
    );
    assert.deepEqual(config.server.trustedProxies, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    assert.throws(
      () => parseConfig(`${ONE_CAMERA}server:\n  trustedProxies: [proxy.lan]\n`, ORIGIN),
      /server\.trustedProxies\.0: expected an IP address or a CIDR like 10\.0\.0\.0\/8/,
    );
  });

  it('leaves the connection caps to the descriptor limit unless they are set', () => {
    const config = parseConfig(ONE_CAMERA, ORIGIN);
    assert.equal(config.limits.maxSockets, undefined);
    assert.equal(config.limits.maxSocketsPerIp, undefined);
    assert.equal(config.limits.idleMs, 10_000);
    assert.equal(config.limits.authFailuresPerMinute, 10);
    const set = parseConfig(
      `${ONE_CAMERA}limits: { maxSockets: 500, maxSocketsPerIp: 8 }\n`,
      ORIGIN,
    );
    assert.equal(set.limits.maxSockets, 500);
    assert.equal(set.limits.maxSocketsPerIp, 8);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    assert.throws(
      () => parseConfig(`${ONE_CAMERA}limits: { requestTimeoutSeconds: 2 }\n`, ORIGIN),
      /limits\.headersTimeoutSeconds: 10 is longer than limits\.requestTimeoutSeconds \(2\)/,
    );
  });

  it('refuses a YAML alias bomb with the usual one-line message', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    assert.throws(
      () => parseConfig(bomb, ORIGIN),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message ===
          `${ORIGIN}: invalid YAML: Excessive alias count indicates a resource exhaustion attack`,
    );
  });

  it('converts the grace period from seconds to milliseconds', () => {
    const config = parseConfig(`${ONE_CAMERA}stream:\n  graceSeconds: 2.5\n`, ORIGIN);
    assert.equal(config.stream.graceMs, 2500);
  });

  it('keeps a token limited to some cameras apart from its value, and checks the ids', () => {
    const token = 'abcdefghijklmnopqrstuvwxyz0123456789+/==';
    const config = parseConfig(
      `${ONE_CAMERA}auth:\n  tokens:\n    panel:\n      token: "${token}"\n      cameras: [front]\n`,
      ORIGIN,
    );
    assert.deepEqual(config.auth.tokens, { panel: token });
    assert.deepEqual(config.auth.scopes.tokens, { panel: { cameras: ['front'], ptz: false } });
    assertConfigError(
      `${ONE_CAMERA}auth:\n  tokens:\n    panel:\n      token: "${token}"\n      cameras: [back]\n`,
      `${ORIGIN}: auth.tokens.panel.cameras.0: unknown camera "back" (not a key of cameras)`,
    );
  });

  it('scopes users like tokens: cameras and groups resolved to ids, PTZ for bare hashes only', () => {
    const hash = hashPassword('nursery rhyme');
    const config = parseConfig(
      [
        'cameras:',
        '  nursery: { url: rtsp://10.0.0.5/a }',
        '  garden: { url: rtsp://10.0.0.6/a }',
        '  porch: { url: rtsp://10.0.0.7/a }',
        'groups:',
        '  outside: [garden, porch]',
        'auth:',
        '  users:',
        `    admin: "${hash}"`,
        '    nanny:',
        `      password: "${hash}"`,
        '      cameras: [nursery]',
        '    gardener:',
        `      password: "${hash}"`,
        '      cameras: [garden]',
        '      groups: [outside]',
        '      ptz: true',
        '  tokens:',
        '    panel: { token: "abcdefghijklmnopqrstuvwxyz0123456789", ptz: true }',
        '',
      ].join('\n'),
      ORIGIN,
    );
    assert.deepEqual(config.auth.users, { admin: hash, nanny: hash, gardener: hash });
    assert.deepEqual(config.auth.scopes.users, {
      admin: { ptz: true },
      nanny: { cameras: ['nursery'], ptz: false },
      gardener: { cameras: ['garden', 'porch'], ptz: true },
    });
    assert.deepEqual(config.auth.scopes.tokens, { panel: { ptz: true } });
    const nanny = `auth:\n  users:\n    nanny:\n      password: "${hash}"\n`;
    assertConfigError(
      `${ONE_CAMERA}${nanny}      groups: [inside]\n`,
      `${ORIGIN}: auth.users.nanny.groups.0: unknown group "inside" (not a key of groups)`,
    );
    assertConfigError(
      `${ONE_CAMERA}${nanny}      cameras: [back]\n`,
      `${ORIGIN}: auth.users.nanny.cameras.0: unknown camera "back" (not a key of cameras)`,
    );
    assertConfigError(
      `${ONE_CAMERA}${nanny}      ptz: yes please\n`,
      `${ORIGIN}: auth.users.nanny.ptz: expected boolean, received string`,
    );
  });

  it('refuses one token value under two names (which one counts would depend on the order)', () => {
    const token = 'abcdefghijklmnopqrstuvwxyz0123456789';
    assertConfigError(
      `${ONE_CAMERA}auth:\n  tokens:\n    ha: "${token}"\n    kiosk: { token: "${token}", cameras: [front] }\n`,
      `${ORIGIN}: auth.tokens.kiosk: the same token as auth.tokens.ha: give each its own`,
    );
  });

  it('reads a camera’s ONVIF PTZ, keeps its password secret, and refuses credentials in the URL', () => {
    const dome = (onvif: string) =>
      `cameras:\n  dome:\n    url: rtsp://10.0.0.9/a\n    ptz: { onvif: "${onvif}", user: admin, password: "s3cret-ptz" }\n`;
    const config = parseConfig(dome('http://10.0.0.9/onvif/device_service'), ORIGIN);
    assert.deepEqual(config.cameras[0]?.ptz, {
      onvif: 'http://10.0.0.9/onvif/device_service',
      user: 'admin',
      password: 's3cret-ptz',
    });
    assert.equal(redactorFor(config, {}).redact('fault for s3cret-ptz'), 'fault for ***');
    assertConfigError(
      dome('http://10.0.0.9:99999/onvif/device_service'),
      `${ORIGIN}: cameras.dome.ptz.onvif: expected the ONVIF device service URL like http://192.168.1.20/onvif/device_service (credentials go in user/password)`,
    );
    assertConfigError(
      'cameras:\n  dome:\n    url: rtsp://10.0.0.9/a\n    ptz: { onvif: "http://10.0.0.9/", password: "pässword" }\n',
      `${ORIGIN}: cameras.dome.ptz.password: expected a password of printable ASCII (the ONVIF client hashes it as ASCII)`,
    );
    assertConfigError(
      dome('http://admin:pw@10.0.0.9/onvif/device_service'),
      `${ORIGIN}: cameras.dome.ptz.onvif: expected the ONVIF device service URL like http://192.168.1.20/onvif/device_service (credentials go in user/password)`,
    );
  });

  it('reads a cluster section: NATS URL, node name (default: the host name), lease, sign-in', () => {
    const config = parseConfig(
      `${ONE_CAMERA}cluster:\n  nats: nats://10.0.0.2:4222\n  node: n1\n  leaseSeconds: 4\n` +
        '  user: camplex\n  password: "bus secret"\n  tls: { ca: ca.pem }\n',
      ORIGIN,
    );
    assert.deepEqual(config.cluster, {
      nats: 'nats://10.0.0.2:4222',
      node: 'n1',
      leaseMs: 4000,
      user: 'camplex',
      password: 'bus secret',
      tls: { caFile: resolve('ca.pem') },
    });
    const unnamed = parseConfig(
      `${ONE_CAMERA}cluster: { nats: "nats://127.0.0.1:4222" }\n`,
      ORIGIN,
    );
    assert.equal(unnamed.cluster?.node, hostname());
    assert.equal(unnamed.cluster?.leaseMs, 6000);
    assert.equal(
      parseConfig(ONE_CAMERA, ORIGIN).cluster,
      undefined,
      'no cluster: a single process',
    );
    assertConfigError(
      `${ONE_CAMERA}cluster: { nats: "http://h:4222" }\n`,
      `${ORIGIN}: cluster.nats: expected a NATS URL like nats://127.0.0.1:4222`,
    );
  });

  it('refuses a NATS on another machine without credentials, credentials in its URL, and two ways at once', () => {
    assertConfigError(
      `${ONE_CAMERA}cluster: { nats: "nats://10.0.0.2:4222" }\n`,
      /cluster\.nats: refusing a NATS server on 10\.0\.0\.2 without credentials/,
    );
    assertConfigError(
      `${ONE_CAMERA}cluster: { nats: "nats://u:p@127.0.0.1:4222" }\n`,
      /cluster\.nats: credentials in the NATS URL are ignored by the client/,
    );
    assertConfigError(
      `${ONE_CAMERA}cluster: { nats: "nats://10.0.0.2:4222", token: t, user: u, password: p }\n`,
      /cluster: give one way to sign in to NATS/,
    );
    assertConfigError(
      `${ONE_CAMERA}cluster: { nats: "nats://10.0.0.2:4222", user: u }\n`,
      /cluster\.password: user and password go together/,
    );
    const insecure = parseConfig(
      `${ONE_CAMERA}cluster: { nats: "nats://10.0.0.2:4222", insecure: true }\n`,
      ORIGIN,
    );
    assert.equal(insecure.cluster?.nats, 'nats://10.0.0.2:4222', 'on purpose');
    const token = parseConfig(
      `${ONE_CAMERA}cluster: { nats: "tls://nats.lan:4222", token: "bus-token" }\n`,
      ORIGIN,
    );
    assert.equal(token.cluster?.token, 'bus-token');
    assert.equal(redactorFor(token, {}).redact('token bus-token refused'), 'token *** refused');
  });

  it('keeps camera groups as written, and none when there are none', () => {
    const config = parseConfig(`${ONE_CAMERA}groups:\n  Outside door: [front]\n`, ORIGIN);
    assert.deepEqual(config.groups, { 'Outside door': ['front'] });
    assert.deepEqual(parseConfig(ONE_CAMERA, ORIGIN).groups, {});
  });

  it('names a camera after its id unless the config names it', () => {
    const config = parseConfig(
      `${ONE_CAMERA}  garage:\n    url: demo:2\n    name: Garage door\n    fps: 5\n`,
      ORIGIN,
    );
    assert.deepEqual(config.cameras, [
      { id: 'front', name: 'front', url: 'rtsp://10.0.0.5/stream' },
      { id: 'garage', name: 'Garage door', url: 'demo:2', fps: 5 },
    ]);
  });

  it('returns a deeply frozen config', () => {
    const config = parseConfig(ONE_CAMERA, ORIGIN, { demo: 1 });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.server));
    assert.ok(Object.isFrozen(config.stream));
    assert.ok(Object.isFrozen(config.ffmpeg));
    assert.ok(Object.isFrozen(config.cameras));
    for (const camera of config.cameras) assert.ok(Object.isFrozen(camera));
    assert.throws(() => {
      (config.server as { port: number }).port = 1;
    }, TypeError);
  });

  it('applies host, port and demo overrides over the file', () => {
    const config = parseConfig(`${ONE_CAMERA}server:\n  host: 0.0.0.0\n  port: 9000\n`, ORIGIN, {
      host: '::1',
      port: 0,
      demo: 2,
    });
    assert.deepEqual(config.server, {
      host: '::1',
      port: 0,
      allowedOrigins: [],
      allowedHosts: [],
      trustedProxies: [],
    });
    assert.deepEqual(
      config.cameras.map((camera) => camera.id),
      ['front', 'demo-01', 'demo-02'],
    );
  });

  it('keeps the file values when no override is given', () => {
    const config = parseConfig(`${ONE_CAMERA}server:\n  host: 0.0.0.0\n  port: 9000\n`, ORIGIN, {
      noAuth: true,
    });
    assert.deepEqual(config.server, {
      host: '0.0.0.0',
      port: 9000,
      allowedOrigins: [],
      allowedHosts: [],
      trustedProxies: [],
    });
    assert.equal(config.cameras.length, 1);
  });
});

describe('security settings', () => {
  const HASH = hashPassword('correct horse');

  it('refuses a non-loopback address without authentication, naming the ways out', () => {
    assert.throws(() => parseConfig(`${ONE_CAMERA}server:\n  host: 0.0.0.0\n`, ORIGIN), {
      message:
        `${ORIGIN}: server.host: refusing to serve 0.0.0.0 without authentication: add auth.users ` +
        '(hashes from `camplex hash-password`) or auth.tokens, set CAMPLEX_PASSWORD or ' +
        'CAMPLEX_TOKEN, or pass --no-auth to accept that anyone who can reach it sees every camera',
    });
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      assert.equal(parseConfig(ONE_CAMERA, ORIGIN, { host }).server.host, host);
    }
  });

  it('serves any address once users, tokens or an environment password are configured', () => {
    const withUser = parseConfig(`${ONE_CAMERA}auth:\n  users:\n    alice: "${HASH}"\n`, ORIGIN, {
      host: '0.0.0.0',
    });
    assert.deepEqual(Object.keys(withUser.auth.users), ['alice']);
    const fromEnv = parseConfig(ONE_CAMERA, ORIGIN, {
      host: '0.0.0.0',
      env: { CAMPLEX_PASSWORD: 'pw', CAMPLEX_USER: 'bob', CAMPLEX_TOKEN: 'x'.repeat(40) },
    });
    assert.deepEqual(Object.keys(fromEnv.auth.users), ['bob']);
    assert.match(fromEnv.auth.users.bob ?? '', /^scrypt\$/);
    assert.deepEqual(fromEnv.auth.tokens, { env: 'x'.repeat(40) });
  });

  it('refuses a user whose password is not a camplex hash, and a short token', () => {
    assertConfigError(
      `${ONE_CAMERA}auth:\n  users:\n    alice: hunter2\n`,
      `${ORIGIN}: auth.users.alice: expected a hash from \`camplex hash-password\` (scrypt$...)`,
    );
    assertConfigError(
      `${ONE_CAMERA}auth:\n  tokens:\n    nvr: short\n`,
      `${ORIGIN}: auth.tokens.nvr: expected a token of 32-512 characters (letters, digits, ._~+/=-)`,
    );
  });

  it('fills $-brace variables from the environment and names a missing one', () => {
    const text = `cameras:\n  front:\n    url: rtsp://admin:${'$'}{CAM_PW}@cam.local/1\n`;
    const config = parseConfig(text, ORIGIN, { env: { CAM_PW: 's3cret' } });
    assert.equal(config.cameras[0]?.url, 'rtsp://admin:s3cret@cam.local/1');
    assert.throws(() => parseConfig(text, ORIGIN, { env: {} }), {
      message: `${ORIGIN}: cameras.front.url: environment variable CAM_PW is not set`,
    });
  });

  it('has a finite default for every limit', () => {
    const { limits, auth } = parseConfig(ONE_CAMERA, ORIGIN);
    for (const [name, value] of Object.entries(limits)) {
      assert.ok(Number.isFinite(value) && value > 0, `${name} = ${value}`);
    }
    assert.equal(limits.maxControlMessageBytes, 64 * 1024);
    assert.equal(auth.sessionMs, 12 * 3600_000);
  });

  it('needs readable PEM files for TLS', () => {
    assertConfigError(
      `${ONE_CAMERA}server:\n  tls:\n    cert: /nonexistent/cert.pem\n    key: /nonexistent/key.pem\n`,
      `${ORIGIN}: server.tls.cert: cannot read /nonexistent/cert.pem: file not found\n` +
        `${ORIGIN}: server.tls.key: cannot read /nonexistent/key.pem: file not found`,
    );
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives 16 demo cameras with distinct ids when there is no config file', () => {
    const config = loadConfig(undefined);
    assert.equal(config.source, 'built-in demo');
    assert.equal(config.cameras.length, 16);
    const ids = config.cameras.map((camera) => camera.id);
    assert.equal(new Set(ids).size, 16);
    assert.deepEqual(ids.slice(0, 2), ['demo-01', 'demo-02']);
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 8080,
      allowedOrigins: [],
      allowedHosts: [],
      trustedProxies: [],
    });
  });

  it('gives the requested number of demo cameras without a config file', () => {
    assert.equal(loadConfig(undefined, { demo: 3 }).cameras.length, 3);
  });

  it('reads a file and names it as the origin', () => {
    const file = join(dir, 'camplex.yaml');
    writeFileSync(file, ONE_CAMERA);
    const config = loadConfig(file, { port: 8181 });
    assert.equal(config.source, file);
    assert.equal(config.server.port, 8181);
    assert.deepEqual(
      config.cameras.map((camera) => camera.id),
      ['front'],
    );
  });

  it('names the file in a validation error', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, `${ONE_CAMERA}    fsp: 5\n`);
    assert.throws(() => loadConfig(file), {
      name: 'ConfigError',
      message: `${file}: cameras.front: unknown key "fsp"`,
    });
  });

  it('names a missing file', () => {
    const file = join(dir, 'missing.yaml');
    assert.throws(() => loadConfig(file), {
      name: 'ConfigError',
      code: ErrorCodes.CONFIG,
      message: `${file}: cannot read config: file not found`,
    });
  });

  it('names a file it cannot read', () => {
    assert.throws(
      () => loadConfig(dir),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(
          error.message.startsWith(`${dir}: cannot read config: `),
          `unexpected message: ${error.message}`,
        );
        assert.match(error.message, /EISDIR/);
        return true;
      },
    );
  });
});
