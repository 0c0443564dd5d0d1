/**
 * SIGHUP (what `systemctl reload camplex` sends): camplex checks its config file again instead
 * of dying, names a bad file and keeps the running config, and logs what a good one changes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../helpers/camplex.js';
import { waitFor } from '../helpers/processes.js';

describe('SIGHUP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-sighup-'));
  const file = join(dir, 'camplex.yaml');
  let camplex: CamplexProcess;
  const config = (cameras: string[]) =>
    ['cameras:', ...cameras.map((id, i) => `  ${id}: { url: "demo:${i + 1}" }`)].join('\n');

  before(async () => {
    writeFileSync(file, config(['front']));
    camplex = await startCamplexProcess({ args: ['--config', file] });
  });

  after(async () => {
    await camplex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const logged = (text: string) =>
    waitFor(async () => camplex.lines.some((line) => line.includes(text)), {
      timeoutMs: 5000,
      what: `a log line with "${text}"`,
    });

  it('reads the file again, refuses a bad one and logs what a good one changes, still serving', async () => {
    process.kill(camplex.pid, 'SIGHUP');
    await logged('nothing changed');
    writeFileSync(file, 'cameras:\n  front: { url: 5 }\n');
    process.kill(camplex.pid, 'SIGHUP');
    await logged('config refused, the running one stays');
    const refused = camplex.lines.find((line) => line.includes('config refused')) ?? '';
    assert.match(refused, /cameras\.front\.url/, 'names the key');
    writeFileSync(file, config(['front', 'garage']));
    process.kill(camplex.pid, 'SIGHUP');
    await logged('restart camplex to apply them');
    const change = JSON.parse(
      camplex.lines.find((line) => line.includes('restart camplex to apply them')) ?? '{}',
    ) as { added?: string[] };
    assert.deepEqual(change.added, ['garage']);
    const health = await fetch(`${camplex.url}healthz`);
    assert.equal(health.status, 200, 'still serving');
  });
});
