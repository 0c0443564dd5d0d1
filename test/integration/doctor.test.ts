/**
 * `camplex doctor` against a real GStreamer RTSP camera (with sound), a camera that refuses connections (with
 * a password in the config) and a demo camera: what each sends, what browsers get, advice, the
 * failure and why, exit code 1, progress on stderr, and the password nowhere.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DoctorReport } from '../../src/doctor/doctor.js';
import { startOnvifDevice } from '../../support/onvif-device.js';
import { freePort } from '../../support/processes.js';
import { type RtspCamera, startRtspCamera } from '../../support/rtsp.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const PASSWORD = 'door-pass-7731';

describe('camplex doctor', () => {
  let camera: RtspCamera;
  const dir = mkdtempSync(join(tmpdir(), 'camplex-doctor-'));
  const config = join(dir, 'camplex.yaml');

  before(async () => {
    camera = await startRtspCamera({ width: 1920, height: 1080, fps: 10, audio: 'aac' });
    const closed = await freePort();
    writeFileSync(
      config,
      [
        'cameras:',
        `  front: { url: "${camera.url()}", name: Front door }`,
        `  garage: { url: "rtsp://127.0.0.1:${closed}/x", user: admin, password: "${PASSWORD}" }`,
        '  test: { url: "demo:3" }',
      ].join('\n'),
    );
  });

  after(async () => {
    await camera?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports every camera as camplex would run it, with advice, and fails when one fails', () => {
    const run = spawnSync(process.execPath, [CLI, 'doctor', '--config', config, '--json'], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(run.status, 1, 'a camera failed');
    const report = JSON.parse(run.stdout) as DoctorReport;
    assert.equal(report.ok, false);
    assert.equal(report.ffmpeg.ok, true, `ffmpeg lacks ${report.ffmpeg.missing}`);
    const [front, garage, test] = report.streams;
    assert.ok(front?.ok, front?.reason);
    assert.equal(front.codec, 'h264');
    assert.match(front.codecString ?? '', /^avc1\./);
    assert.deepEqual([front.width, front.height], [1920, 1080]);
    assert.ok(
      Math.abs((front.fps ?? 0) - 10) <= 1.5,
      `fps ${front.fps} (pictures, not sound frames)`,
    );
    assert.deepEqual(
      { ...front.audio, framesPerSecond: undefined },
      { codec: 'aac', rate: 44_100, channels: 1, framesPerSecond: undefined },
    );
    // AAC frames are 1024 samples: 43 a second at 44.1 kHz.
    assert.ok(
      Math.abs((front.audio?.framesPerSecond ?? 0) - 43) <= 5,
      `${front.audio?.framesPerSecond}`,
    );
    assert.match(front.path ?? '', /and sound \(AAC\)/);
    assert.ok((front.keyIntervalSeconds ?? 0) > 0, 'key-frame interval measured');
    assert.equal(front.bframes, false);
    assert.match(front.path ?? '', /passthrough/);
    assert.ok(
      front.advice.some((advice) => /sub-stream/.test(advice)),
      'advises a sub-stream',
    );
    assert.equal(garage?.ok, false);
    assert.match(garage?.reason ?? '', /refused/i);
    assert.ok(garage?.advice.some((advice) => /not reachable/.test(advice)));
    assert.equal(test?.ok, true);
    assert.equal(test?.codec, 'jpeg');
    assert.match(run.stderr, /probing front \(1\/3\)[\s\S]*probing test \(3\/3\)/, 'progress');
    assert.ok(!`${run.stdout}${run.stderr}`.includes(PASSWORD), 'the password is never printed');
  });

  it('prints the same as text and exits 0 when everything works', () => {
    const healthy = join(dir, 'healthy.yaml');
    writeFileSync(healthy, ['cameras:', '  test: { url: "demo:1" }'].join('\n'));
    const run = spawnSync(process.execPath, [CLI, 'doctor', '--config', healthy], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^ffmpeg .*: ok$/m);
    assert.match(run.stdout, /✓ test \(test\): jpeg/);
    assert.match(run.stdout, /1 stream: all ok/);
  });

  it('reports a PTZ camera’s presets, and one whose ONVIF sign-in fails, without its password', async () => {
    // The simulator answers in this process: the CLI runs asynchronously (spawnSync would block it).
    const dome = await startOnvifDevice({ user: 'admin', password: PASSWORD });
    try {
      const file = join(dir, 'ptz.yaml');
      const write = (password: string) =>
        writeFileSync(
          file,
          [
            'cameras:',
            '  dome:',
            '    url: "demo:1"',
            `    ptz: { onvif: "${dome.url}", user: admin, password: "${password}" }`,
          ].join('\n'),
        );
      write(PASSWORD);
      const good = await run([CLI, 'doctor', '--config', file]);
      assert.equal(good.code, 0, good.stdout + good.stderr);
      assert.match(good.stdout, /✓ dome PTZ \(ONVIF\): pan, tilt and zoom; presets: Home, Gate/);
      assert.match(good.stdout, /1 stream: all ok; PTZ ok/);
      write(`${PASSWORD}-wrong`);
      const bad = await run([CLI, 'doctor', '--config', file, '--json']);
      assert.equal(bad.code, 1);
      const report = JSON.parse(bad.stdout) as DoctorReport;
      assert.deepEqual(report.ptz, [
        { id: 'dome', ok: false, reason: 'ONVIF SOAP Fault: Sender not Authorized' },
      ]);
      assert.ok(!`${good.stdout}${bad.stdout}${bad.stderr}`.includes(PASSWORD));
    } finally {
      await dome.close();
    }
  });
});

/** Runs node with `args` without blocking this process; its exit code and output. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        stdout,
        stderr,
      });
    });
  });
}
