/**
 * The soak script itself, run briefly: it starts camplex, samples it, stops it with SIGTERM
 * and reports a flat ffmpeg count with frames flowing in every interval.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../support/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CAMERAS = 4;
const VIEWERS = 5;

interface SoakReport {
  samples: Array<{ ffmpeg: number; framesPerSecond: number; starvedViewers: number }>;
  summary: { ffmpeg: { min: number; max: number }; problems: string[] };
}

describe('soak script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-soak-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs camplex for a while and reports a flat ffmpeg count and a clean exit', async () => {
    const json = join(dir, 'samples.json');
    const args = ['--minutes', '0.3', '--interval-seconds', '2'];
    args.push('--viewers', String(VIEWERS), '--cameras', String(CAMERAS), '--json', json);
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/soak.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    try {
      // 18 s of samples plus start-up, warm-up and shutdown.
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, {
        timeoutMs: 120_000,
        what: 'the soak script to finish',
      });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    const output = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    assert.equal(child.exitCode, 0, output);
    assert.match(stdout, /^summary: 9 samples over /m, output);
    assert.match(stdout, /^ {2}rss: +first [\d.]+ MiB, last [\d.]+ MiB, min .* drift [+-][\d.]+%/m);
    assert.match(stdout, /^ {2}fds: +first \d+, last \d+, min \d+, max \d+, drift [+-][\d.]+%$/m);
    assert.match(stdout, new RegExp(`^ {2}ffmpeg: +min ${CAMERAS}, max ${CAMERAS} `, 'm'));
    assert.match(stdout, /^ {2}frames\/s: +mean [\d.]+/m);
    assert.match(stdout, /^result: ok$/m);

    const report = JSON.parse(readFileSync(json, 'utf8')) as SoakReport;
    assert.equal(report.samples.length, 9);
    assert.deepEqual(report.summary.problems, []);
    assert.deepEqual(
      report.samples.map((sample) => sample.ffmpeg),
      report.samples.map(() => CAMERAS),
    );
    // Every viewer's frames kept flowing: none went a whole interval without one.
    for (const sample of report.samples) {
      assert.ok(sample.framesPerSecond > 0, output);
      assert.equal(sample.starvedViewers, 0, output);
    }
  });
});
