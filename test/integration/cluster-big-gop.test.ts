/**
 * Nothing on the bus can stop a reader. A camera with a 10 s GOP at 2 Mbit/s, viewed from a
 * node that does not run it, on a nats-server whose max_payload is 16 KiB: the late-join
 * cache (every unit since the last key) is far larger than one message may be, and so are the
 * camera's key units. The cache once went as one reply, `respond` threw inside nats.js's
 * subscription callback, and the owner's media connection stopped reading: it got no relayed
 * camera for minutes; and a unit over max_payload was not relayed at all. Now the cache comes
 * in several replies under max_payload, a large unit in pieces, the viewer on the other node
 * paints from both, and the owner keeps receiving the camera the other node runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const MAX_PAYLOAD = 16 * 1024;

describe('a GOP larger than NATS max_payload, viewed from another node', () => {
  let nats: NatsServer;
  let rtsp: RtspCamera;
  const nodes: CamplexProcess[] = [];
  const viewers: TestViewer[] = [];

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    rtsp = await startRtspCamera({ pattern: 'snow', fps: 15, keyInterval: 150, bitrate: 2000 });
    for (const node of ['n1', 'n2']) {
      const config = [
        `cluster: { nats: "${nats.url}", node: ${node}, leaseSeconds: 3 }`,
        'stream: { graceSeconds: 2 }',
        'cameras:',
        `  big: { url: "${rtsp.url()}", codec: h264 }`,
        '  small: { url: "demo:1", fps: 10 }',
      ].join('\n');
      nodes.push(await startCamplexProcess({ config, env: { LOG_LEVEL: 'debug' } }));
    }
  });

  after(async () => {
    for (const viewer of viewers) viewer.ws.terminate();
    await Promise.all(nodes.map((node) => node.stop()));
    await rtsp?.stop();
    await nats?.stop({ forget: true });
  });

  /**
   * Counts binary frames of `camera` (the test viewer counts only whole JPEGs), and of those
   * larger than one NATS message may be.
   */
  const unitsOf = (viewer: TestViewer, camera: string) => {
    let units = 0;
    let large = 0;
    viewer.ws.on('message', (data: Buffer, binary: boolean) => {
      if (!binary || data.subarray(1, 1 + (data[0] ?? 0)).toString() !== camera) return;
      units++;
      if (data.length > MAX_PAYLOAD) large++;
    });
    return Object.assign(() => units, { large: () => large });
  };

  it('sends the cache in several replies; the viewer paints and the owner keeps reading', async () => {
    const [n1, n2] = nodes;
    assert.ok(n1 && n2);
    // n1 runs big, n2 runs small; each node's viewer watches both.
    const v1 = await connectViewer(n1.wsUrl);
    viewers.push(v1);
    const v1Big = unitsOf(v1, 'big');
    v1.send({ cmd: 'subscribe', cameras: ['big'], formats: ['h264', 'jpeg'] });
    const v2 = await connectViewer(n2.wsUrl);
    viewers.push(v2);
    v2.send({ cmd: 'subscribe', cameras: ['small'] });
    await waitFor(async () => v1Big() > 0 && v2.framesOf('small') > 3, {
      timeoutMs: 20_000,
      what: 'each node running its camera',
    });
    v1.send({ cmd: 'subscribe', cameras: ['small'] });
    await waitFor(async () => v1.framesOf('small') > 3, {
      timeoutMs: 10_000,
      what: "n2's camera relayed to n1",
    });
    // 5 s into big's 10 s GOP, its cache is about 1.2 MB.
    await delay(5000);
    const mark = n1.lines.length;
    const v2Big = unitsOf(v2, 'big');
    v2.send({ cmd: 'subscribe', cameras: ['big'], formats: ['h264', 'jpeg'] });
    await waitFor(async () => v2Big() > 30, {
      timeoutMs: 3000,
      what: "big painted on n2 from the owner's cache (well before its next key unit)",
    });
    const sent = n1.lines
      .slice(mark)
      .filter((line) => line.startsWith('{')) // nats.js may print a line of its own
      .map((line) => JSON.parse(line) as { msg?: string; messages?: number; bytes?: number })
      .find((entry) => entry.msg === 'key-unit cache sent');
    assert.ok(sent, 'the owner answered the cache');
    assert.ok(
      (sent.bytes ?? 0) > MAX_PAYLOAD && (sent.messages ?? 0) > 1,
      `cache reply: ${JSON.stringify(sent)}`,
    );
    // The next key unit is over max_payload too: relayed live, in pieces, joined on n2.
    const fromCache = v2Big.large();
    assert.ok(fromCache >= 1, 'the cached key unit is larger than one NATS message');
    await waitFor(async () => v2Big.large() > fromCache, {
      timeoutMs: 15_000,
      what: "big's next key unit (over max_payload) relayed live to n2",
    });
    // The owner still reads its NATS connection: n2's camera keeps reaching n1's viewer.
    const small = v1.framesOf('small');
    await waitFor(async () => v1.framesOf('small') > small + 20, {
      timeoutMs: 10_000,
      what: "n2's camera still relayed to n1 after the big cache went out",
    });
  });
});
