/**
 * Home Assistant and NVRs, as docs/INTEGRATIONS.md tells them: the MJPEG stream and the still
 * picture fetched with HTTP Basic (a token as the password), exactly the URLs, user name and
 * password of the documented Home Assistant entry; Basic is taken on those two paths only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';

const DOC = fileURLToPath(new URL('../../docs/INTEGRATIONS.md', import.meta.url));
const TOKEN = 'ha-token-0123456789abcdefghijklmnopqrstuvwxyz+/=';

interface HomeAssistantCamera {
  mjpeg_url: string;
  still_image_url: string;
  username: string;
  password: string;
  authentication: string;
}

/** The Home Assistant entry of docs/INTEGRATIONS.md, pointed at `base` with TOKEN. */
function documentedCamera(base: string): HomeAssistantCamera {
  const blocks = [...readFileSync(DOC, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)];
  const block = blocks.map((m) => m[1] ?? '').find((text) => text.includes('platform: mjpeg'));
  assert.ok(block, 'docs/INTEGRATIONS.md has a Home Assistant entry');
  const text = block.replace('!secret camplex_token', JSON.stringify(TOKEN));
  const [entry] = (parse(text) as { camera: HomeAssistantCamera[] }).camera;
  assert.ok(entry);
  const local = (url: string) => url.replace('https://camplex.lan:8443/', base);
  return {
    ...entry,
    mjpeg_url: local(entry.mjpeg_url),
    still_image_url: local(entry.still_image_url),
  };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('programs that only speak HTTP Basic', () => {
  let camplex: CamplexProcess;

  before(async () => {
    camplex = await startCamplexProcess({
      config: [
        'auth:',
        '  tokens:',
        '    home-assistant:',
        `      token: "${TOKEN}"`,
        '      cameras: [front-door]',
        'cameras:',
        '  front-door: { url: "demo:1" }',
        '  garage: { url: "demo:2" }',
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
  });

  it('fetch the still picture and the MJPEG stream exactly as documented', async () => {
    const ha = documentedCamera(camplex.url);
    assert.equal(ha.authentication, 'basic');
    const authorization = basic(ha.username, ha.password);
    const still = await fetch(ha.still_image_url, { headers: { authorization } });
    assert.equal(still.status, 200);
    assert.equal(still.headers.get('content-type'), 'image/jpeg');
    const jpeg = new Uint8Array(await still.arrayBuffer());
    assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8]);

    const controller = new AbortController();
    const stream = await fetch(ha.mjpeg_url, {
      headers: { authorization },
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^multipart\/x-mixed-replace/);
    const reader = stream.body?.getReader();
    const first = await reader?.read();
    assert.ok((first?.value?.length ?? 0) > 0, 'the stream sends a part');
    controller.abort();
  });

  it('refuse a wrong password with both challenges, and Basic anywhere else', async () => {
    const ha = documentedCamera(camplex.url);
    const wrong = await fetch(ha.still_image_url, {
      headers: { authorization: basic(ha.username, 'not-the-token-0123456789abcdefghijkl') },
    });
    assert.equal(wrong.status, 401);
    assert.equal(
      wrong.headers.get('www-authenticate'),
      'Bearer realm="camplex", Basic realm="camplex"',
    );
    const elsewhere = await fetch(`${camplex.url}api/cameras`, {
      headers: { authorization: basic(ha.username, TOKEN) },
    });
    assert.equal(elsewhere.status, 401, 'Basic is for the camera image paths only');
    const other = await fetch(`${camplex.url}snapshot/garage.jpg`, {
      headers: { authorization: basic(ha.username, TOKEN) },
    });
    assert.equal(other.status, 404, 'a camera the token may not watch does not exist for it');
  });
});
