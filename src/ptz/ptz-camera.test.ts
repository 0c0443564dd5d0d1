import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { CamplexError, ErrorCodes } from '../common/errors.js';
import { createLog } from '../common/log.js';
import type { PtzCommand } from '../protocol/wire.js';
import type { PtzDevice, Velocity } from './device.js';
import {
  CALL_DEADLINE_MS,
  DEADMAN_MS,
  ONVIF_MOVE_TIMEOUT_MS,
  PtzCamera,
  type PtzMover,
  RATE_BURST,
  RENEW_MS,
} from './ptz-camera.js';

/** A device that records calls; each call waits until the test settles it (or settles at once). */
class FakeDevice implements PtzDevice {
  readonly presets = [{ token: 'p1', name: 'Gate' }];
  readonly calls: string[] = [];
  held = false;
  failNext = false;
  private waiting: Array<() => void> = [];

  move(velocity: Velocity, timeoutMs: number): Promise<void> {
    return this.call(`move ${velocity.pan},${velocity.tilt},${velocity.zoom} for ${timeoutMs}`);
  }
  stop(): Promise<void> {
    return this.call('stop');
  }
  gotoPreset(token: string): Promise<void> {
    return this.call(`preset ${token}`);
  }
  /** Settles the call in flight. */
  settle(): void {
    this.waiting.shift()?.();
  }
  private call(name: string): Promise<void> {
    this.calls.push(name);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('socket hang up'));
    }
    if (!this.held) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

class Mover implements PtzMover {
  readonly failures: string[] = [];
  ptzError(_camera: string, _code: string, message: string): void {
    this.failures.push(message);
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
/**
 * Past the first reconnect delay (1 s, times 0.5-1 for jitter), not past a connect's deadline: the
 * fake clock runs timers synchronously, so a longer jump would let the deadline beat the connect.
 */
const RETRY_MS = 1000;

async function connected(options: { connect?: () => Promise<PtzDevice> } = {}) {
  const clock = new FakeClock(1_000_000);
  const device = new FakeDevice();
  let changes = 0;
  const camera = new PtzCamera({
    id: 'dome',
    connect: options.connect ?? (async () => device),
    clock,
    random: () => 0.5,
    log: createLog({ level: 'silent' }),
    redact: (text) => text.replaceAll('hunter2', '***'),
    onChange: () => changes++,
  });
  camera.start();
  await flush();
  return { clock, device, camera, changes: () => changes };
}

const move = (pan: number, tilt: number): PtzCommand => ({
  cmd: 'ptz',
  camera: 'dome',
  action: 'move',
  pan,
  tilt,
});
const zoom = (speed: number): PtzCommand => ({
  cmd: 'ptz',
  camera: 'dome',
  action: 'zoom',
  zoom: speed,
});
const STOP: PtzCommand = { cmd: 'ptz', camera: 'dome', action: 'stop' };

describe('PtzCamera', () => {
  it('moves with the ONVIF timeout, stops when told, and keeps pan, tilt and zoom together', async () => {
    const { device, camera, changes } = await connected();
    assert.equal(changes(), 1, 'controls appeared');
    assert.deepEqual(camera.presets, [{ token: 'p1', name: 'Gate' }]);
    const page = new Mover();
    camera.command(page, move(0.5, 0));
    await flush();
    camera.command(page, zoom(-1));
    await flush();
    camera.command(page, STOP);
    await flush();
    assert.deepEqual(device.calls, [
      `move 0.5,0,0 for ${ONVIF_MOVE_TIMEOUT_MS}`,
      `move 0.5,0,-1 for ${ONVIF_MOVE_TIMEOUT_MS}`,
      'stop',
    ]);
  });

  it('stops a move whose keep-alive stops (the dead-man), and renews a held one before its ONVIF timeout', async () => {
    const { clock, device, camera } = await connected();
    const page = new Mover();
    camera.command(page, move(0, 1));
    await flush();
    // Held: a keep-alive every 300 ms for 3 s costs a renewal every RENEW_MS, nothing more.
    for (let t = 300; t <= 3000; t += 300) {
      clock.advance(300);
      camera.command(page, move(0, 1));
      await flush();
    }
    // A renewal rides on the first keep-alive at least RENEW_MS after the last call: every 1200 ms
    // here, well inside the 2 s the camera moves on by itself.
    const every = Math.ceil(RENEW_MS / 300) * 300;
    assert.ok(every < ONVIF_MOVE_TIMEOUT_MS);
    const renewals = device.calls.filter((call) => call.startsWith('move')).length;
    assert.equal(renewals, 1 + Math.floor(3000 / every), device.calls.join('; '));
    assert.ok(!device.calls.includes('stop'), 'still held');
    clock.advance(DEADMAN_MS - 1);
    await flush();
    assert.ok(!device.calls.includes('stop'), 'not before the dead-man time');
    clock.advance(1);
    await flush();
    assert.equal(device.calls.at(-1), 'stop', 'stopped once the keep-alives stopped');
  });

  it('stops the camera when the mover goes, but not for another page that moves nothing', async () => {
    const { device, camera } = await connected();
    const page = new Mover();
    const other = new Mover();
    camera.command(page, move(-1, 0));
    await flush();
    camera.release(other);
    await flush();
    assert.deepEqual(device.calls, [`move -1,0,0 for ${ONVIF_MOVE_TIMEOUT_MS}`]);
    camera.release(page);
    await flush();
    assert.equal(device.calls.at(-1), 'stop');
  });

  it('makes one call at a time, toward the latest wanted state: a stop is never overtaken', async () => {
    const { device, camera } = await connected();
    device.held = true;
    const page = new Mover();
    camera.command(page, move(1, 0));
    camera.command(page, move(0.5, 0));
    camera.command(page, move(0.25, 0));
    camera.command(page, STOP);
    assert.deepEqual(device.calls, [`move 1,0,0 for ${ONVIF_MOVE_TIMEOUT_MS}`], 'one in flight');
    device.settle();
    await flush();
    assert.deepEqual(device.calls.slice(1), ['stop'], 'the moves in between were never sent');
    device.settle();
    await flush();
    assert.equal(device.calls.length, 2);
  });

  it('limits changes per camera but never repeats or stops', async () => {
    const { clock, device, camera } = await connected();
    const page = new Mover();
    for (let i = 0; i < RATE_BURST; i++) camera.command(page, move(i % 2 === 0 ? 1 : -1, 0));
    assert.throws(
      () => camera.command(page, move(0, 1)),
      (error: unknown) => error instanceof CamplexError && error.code === ErrorCodes.RATE_LIMITED,
    );
    camera.command(page, move(-1, 0)); // the last state again: a keep-alive, free
    camera.command(page, STOP);
    await flush();
    assert.equal(device.calls.at(-1), 'stop');
    clock.advance(1000);
    camera.command(page, move(0, 1)); // tokens came back
  });

  it('goes to a preset the camera listed, and refuses any other token', async () => {
    const { device, camera } = await connected();
    const page = new Mover();
    camera.command(page, { cmd: 'ptz', camera: 'dome', action: 'preset', preset: 'p1' });
    await flush();
    assert.deepEqual(device.calls, ['preset p1']);
    assert.throws(
      () =>
        camera.command(page, {
          cmd: 'ptz',
          camera: 'dome',
          action: 'preset',
          preset: '</PresetToken><Evil/>',
        }),
      /camera "dome" has no preset "<\/PresetToken><Evil\/>"/,
    );
  });

  it('retries a camera that does not answer, with its reason redacted, and shows controls when it does', async () => {
    let answer = false;
    const device = new FakeDevice();
    const { clock, camera, changes } = await connected({
      connect: async () => {
        if (!answer) throw new Error('connect ECONNREFUSED admin:hunter2@10.0.0.9');
        return device;
      },
    });
    assert.equal(camera.presets, undefined, 'no controls');
    assert.deepEqual(camera.status, {
      connected: false,
      error: 'connect ECONNREFUSED admin:***@10.0.0.9',
    });
    assert.throws(
      () => camera.command(new Mover(), move(1, 0)),
      /^CamplexError: camera "dome" PTZ does not answer$/,
      'the reason is for the log and doctor, not for every page',
    );
    answer = true;
    clock.advance(RETRY_MS);
    await flush();
    assert.equal(changes(), 1);
    assert.deepEqual(camera.status, { connected: true, presets: 1 });
  });

  it('tells the mover when the camera fails a call, then connects again', async () => {
    const { clock, device, camera, changes } = await connected();
    const page = new Mover();
    device.failNext = true;
    camera.command(page, move(1, 0));
    await flush();
    await flush();
    assert.deepEqual(page.failures, ['camera "dome" PTZ failed']);
    assert.equal(camera.presets, undefined, 'controls gone while it does not answer');
    assert.deepEqual(camera.status, { connected: false, error: 'socket hang up' });
    assert.equal(changes(), 2);
    clock.advance(RETRY_MS);
    await flush();
    assert.equal(changes(), 3, 'back');
    assert.ok(camera.presets);
    // The failed move may have reached the camera: a Stop goes first.
    assert.deepEqual(device.calls.slice(-2), [`move 1,0,0 for ${ONVIF_MOVE_TIMEOUT_MS}`, 'stop']);
  });

  it('takes a stop while the camera does not answer, and sends it once it does', async () => {
    const { clock, device, camera } = await connected();
    const page = new Mover();
    device.held = true;
    camera.command(page, move(1, 0)); // reaches the camera, then never answers
    clock.advance(CALL_DEADLINE_MS);
    await flush();
    await flush();
    assert.deepEqual(page.failures, ['camera "dome" PTZ failed'], 'the deadline failed it');
    device.held = false;
    camera.command(page, STOP); // no error: taken
    clock.advance(RETRY_MS);
    await flush();
    assert.equal(device.calls.at(-1), 'stop');
  });

  it('sends a stop after a preset whatever was asked before, and never stops the preset itself', async () => {
    const { device, camera } = await connected();
    const page = new Mover();
    camera.command(page, { cmd: 'ptz', camera: 'dome', action: 'preset', preset: 'p1' });
    await flush();
    assert.deepEqual(device.calls, ['preset p1'], 'travelling');
    camera.command(page, STOP);
    await flush();
    assert.deepEqual(device.calls, ['preset p1', 'stop']);
  });

  it('never limits slowing down: a camera cannot be kept faster than its page asks', async () => {
    const { device, camera } = await connected();
    const page = new Mover();
    for (let i = 0; i < RATE_BURST; i++) camera.command(page, move(i % 2 === 0 ? 1 : -1, 0));
    assert.throws(() => camera.command(page, move(1, 0)), /PTZ changes per second/);
    camera.command(page, move(-0.5, 0)); // slower, same way: taken
    camera.command(page, move(0, 0)); // still: taken
    await flush();
    await flush();
    assert.equal(device.calls.at(-1), 'stop');
  });

  it('never turns a throw while connecting into an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const camera = new PtzCamera({
        id: 'dome',
        connect: async () => new FakeDevice(),
        clock: new FakeClock(0),
        random: () => 0.5,
        log: createLog({ level: 'silent' }),
        redact: (text) => text,
        onChange: () => {
          throw new Error('a listener that throws');
        },
      });
      camera.start();
      await flush();
      await flush();
      assert.deepEqual(unhandled, []);
      assert.deepEqual(camera.status, { connected: true, presets: 1 }, 'connected all the same');
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('stops a moving camera when closed (a reload removed its PTZ)', async () => {
    const { device, camera } = await connected();
    camera.command(new Mover(), move(1, 1));
    await flush();
    camera.close();
    await flush();
    assert.equal(device.calls.at(-1), 'stop');
  });
});
