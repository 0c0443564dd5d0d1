/**
 * Reloading the config (SIGHUP, as `systemctl reload camplex` sends, or the file saved): a bad
 * file is refused and the running config stays; a good one applies without dropping viewers:
 * the camera removed stops and leaves the viewer's list, the one added can be watched, the one
 * unchanged goes on without a gap, one only renamed goes on with the same ffmpeg, and a token
 * added works at once; a socket opened while access was open is closed once a reload asks for
 * sign-in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { descendantPids, waitFor } from '../../support/processes.js';
import { connectViewer, type TestViewer } from '../../support/viewer.js';

const TOKEN = 'reload-token-0123456789abcdefghijklmnopq';
/** The viewer's own token, in every file. */
const VIEWER_TOKEN = 'viewer-token-0123456789abcdefghijklmnop';
const VIEWER_AUTH = ['auth:', '  tokens:', `    viewer: ${VIEWER_TOKEN}`];

/** Demo cameras' ffmpeg command lines name their hue: which of `ids` run under `node`. */
function running(node: CamplexProcess): number[] {
  const hues: number[] = [];
  for (const pid of descendantPids(node.pid)) {
    try {
      const hue = /hue=h=(\d+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
      if (hue) hues.push(Number(hue));
    } catch {
      // gone meanwhile
    }
  }
  return hues.sort((a, b) => a - b);
}

/** demo:N's hue (src/ffmpeg/args.ts). */
const hueOf = (n: number) => ((n - 1) * 137) % 360;

describe('reloading the config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-reload-'));
  const file = join(dir, 'camplex.yaml');
  let camplex: CamplexProcess;
  let viewer: TestViewer;
  const write = (lines: string[]) => writeFileSync(file, `${lines.join('\n')}\n`);

  before(async () => {
    write([
      ...VIEWER_AUTH,
      'cameras:',
      '  front: { url: "demo:1" }',
      '  garage: { url: "demo:2" }',
    ]);
    camplex = await startCamplexProcess({ args: ['--config', file] });
    viewer = await connectViewer(camplex.wsUrl, ['camplex.v1', `camplex.token.${VIEWER_TOKEN}`]);
    viewer.send({ cmd: 'subscribe', cameras: ['front', 'garage'] });
    await waitFor(async () => viewer.framesOf('front') > 5 && viewer.framesOf('garage') > 5, {
      timeoutMs: 15_000,
      what: 'both cameras streaming',
    });
  });

  after(async () => {
    viewer?.ws.terminate();
    await camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const logged = (text: string, after = 0) =>
    waitFor(async () => camplex.lines.slice(after).some((line) => line.includes(text)), {
      timeoutMs: 8000,
      what: `a log line with "${text}"`,
    });

  it('refuses a bad file on SIGHUP and goes on with the running config', async () => {
    const mark = camplex.lines.length;
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config reloaded: no camera changed', mark);
    writeFileSync(file, 'cameras:\n  front: { url: 5 }\n');
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config reload refused: the running config stays', mark);
    const refused = camplex.lines.find((line) => line.includes('config reload refused')) ?? '';
    assert.match(refused, /cameras\.front\.url/, 'names the key');
    const before = viewer.framesOf('garage');
    await waitFor(async () => viewer.framesOf('garage') > before + 5, {
      timeoutMs: 5000,
      what: 'garage still streaming',
    });
  });

  it('applies a saved file: removed stops, added appears, unchanged goes on without a gap', async () => {
    const mark = camplex.lines.length;
    const hellos = viewer.messages.filter((m) => m.type === 'hello').length;
    // front's frame times, to see it never paused
    const arrivals: number[] = [];
    viewer.ws.on('message', (_data, binary) => {
      if (binary) arrivals.push(Date.now());
    });
    write([
      ...VIEWER_AUTH,
      `    panel: ${TOKEN}`,
      'cameras:',
      '  front: { url: "demo:1" }',
      '  yard: { url: "demo:3" }',
    ]);
    // No SIGHUP: saving the file is enough.
    await logged('config reloaded: added yard; removed garage', mark);
    await waitFor(async () => viewer.messages.filter((m) => m.type === 'hello').length > hellos, {
      timeoutMs: 5000,
      what: 'hello again with the new list',
    });
    const hello = viewer.messages.filter((m) => m.type === 'hello').at(-1);
    assert.deepEqual(hello?.type === 'hello' ? hello.cameras.map((camera) => camera.id) : [], [
      'front',
      'yard',
    ]);
    await waitFor(async () => !running(camplex).includes(hueOf(2)), {
      timeoutMs: 5000,
      what: "garage's ffmpeg to stop",
    });
    viewer.send({ cmd: 'subscribe', cameras: ['yard'] });
    await waitFor(async () => viewer.framesOf('yard') > 5, { timeoutMs: 15_000, what: 'yard' });
    // front (10 fps) never paused for long around the reload
    const gaps = arrivals.slice(1).map((at, i) => at - (arrivals[i] ?? at));
    assert.ok(Math.max(...gaps) < 1000, `longest gap between frames: ${Math.max(...gaps)} ms`);
    assert.deepEqual(
      running(camplex),
      [hueOf(1), hueOf(3)].sort((a, b) => a - b),
    );
    // the token added works at once; without it camplex now wants one
    const withToken = await fetch(`${camplex.url}api/cameras`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(withToken.status, 200);
    assert.equal((await fetch(`${camplex.url}api/cameras`)).status, 401);
  });

  it('renames a camera without restarting its ffmpeg, and tells the viewer the new name', async () => {
    const ffmpegOf = (n: number) =>
      descendantPids(camplex.pid).find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`hue=h=${hueOf(n)}`);
        } catch {
          return false;
        }
      });
    const before = ffmpegOf(1);
    assert.ok(before !== undefined, "front's ffmpeg runs");
    const hellos = viewer.messages.filter((m) => m.type === 'hello').length;
    const mark = camplex.lines.length;
    write([
      ...VIEWER_AUTH,
      `    panel: ${TOKEN}`,
      'cameras:',
      '  front: { url: "demo:1", name: "Front door" }',
      '  yard: { url: "demo:3" }',
    ]);
    await logged('config reloaded', mark);
    await waitFor(async () => viewer.messages.filter((m) => m.type === 'hello').length > hellos, {
      timeoutMs: 5000,
      what: 'hello again',
    });
    const hello = viewer.messages.filter((m) => m.type === 'hello').at(-1);
    const front = hello?.type === 'hello' ? hello.cameras.find((c) => c.id === 'front') : undefined;
    assert.equal(front?.name, 'Front door');
    assert.equal(ffmpegOf(1), before, 'the same ffmpeg goes on');
    const frames = viewer.framesOf('front');
    await waitFor(async () => viewer.framesOf('front') > frames + 5, {
      timeoutMs: 5000,
      what: 'front still streaming',
    });
  });

  it('closes sockets whose credential a reload took away: a removed token, then open access', async () => {
    let mark = camplex.lines.length;
    write(['cameras:', '  front: { url: "demo:1" }']);
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config reloaded', mark);
    assert.deepEqual(await viewer.closed, { code: 1008, reason: 'token removed or changed' });
    const anonymous = await connectViewer(camplex.wsUrl);
    mark = camplex.lines.length;
    write([...VIEWER_AUTH, 'cameras:', '  front: { url: "demo:1" }']);
    process.kill(camplex.pid, 'SIGHUP');
    assert.deepEqual(await anonymous.closed, { code: 1008, reason: 'sign-in is required now' });
    const again = await connectViewer(camplex.wsUrl, [
      'camplex.v1',
      `camplex.token.${VIEWER_TOKEN}`,
    ]);
    again.send({ cmd: 'subscribe', cameras: ['front'] });
    await waitFor(async () => again.framesOf('front') > 5, {
      timeoutMs: 10_000,
      what: 'a viewer with the token back streaming',
    });
    again.ws.terminate();
  });
});
