/**
 * The dashboard in Chromium through haproxy (the config docs/CLUSTER.md shows) in front of three
 * camplex nodes sharing 12 cameras over NATS: whichever node serves the page and the socket,
 * every tile draws, and each camera runs once in the cluster.
 *
 * Chromium only: what it proves (one ffmpeg per camera, any node serving page and socket) is on
 * the server side; the page only shows it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LaunchedChromium, launchChromium } from '../../support/browser.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { type LoadBalancer, startLoadBalancer } from '../../support/haproxy.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { countDescendants } from '../../support/processes.js';

const CAMERAS = Array.from({ length: 12 }, (_, i) => `cam${String(i + 1).padStart(2, '0')}`);
const SCREENSHOT = fileURLToPath(new URL('../../test-results/cluster.png', import.meta.url));
const CLUSTER_DOC = fileURLToPath(new URL('../../docs/CLUSTER.md', import.meta.url));

describe('the dashboard through a load balancer in front of three nodes', () => {
  let nats: NatsServer;
  const nodes: CamplexProcess[] = [];
  let balancer: LoadBalancer;
  let chromium: LaunchedChromium;

  before(async () => {
    nats = await startNatsServer();
    for (const node of ['n1', 'n2', 'n3']) {
      const config = [
        'server: { trustedProxies: [127.0.0.1] }',
        `cluster: { nats: "${nats.url}", node: ${node} }`,
        'cameras:',
        ...CAMERAS.map((id, i) => `  ${id}: { url: "demo:${i + 1}", fps: 10, width: 320 }`),
      ].join('\n');
      nodes.push(await startCamplexProcess({ config }));
    }
    balancer = await startLoadBalancer(nodes.map((node) => node.url));
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await balancer?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop();
  });

  it('draws every tile, each camera running once in the cluster', async () => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(balancer.url);
    await page.waitForSelector('[data-camera="cam12"]');
    await page.click('#stream-all');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-camera]')].every(
          (tile) => Number(tile.dataset.frames) >= 10,
        ),
      undefined,
      { timeout: 30_000 },
    );
    const ffmpegs = nodes.map((node) => countDescendants(node.pid, 'ffmpeg'));
    assert.equal(
      ffmpegs.reduce((a, b) => a + b, 0),
      CAMERAS.length,
      `ffmpeg per node: ${ffmpegs}`,
    );
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('runs the balancer config docs/CLUSTER.md shows', () => {
    const documented = readFileSync(CLUSTER_DOC, 'utf8');
    for (const line of balancer.config.split('\n')) {
      if (line.trim() === '' || /bind |server n\d/.test(line)) continue; // ports differ
      if (/^global$|stats socket/.test(line)) continue; // the test's own window into haproxy
      assert.ok(documented.includes(line), `docs/CLUSTER.md lacks: ${line}`);
    }
  });
});
