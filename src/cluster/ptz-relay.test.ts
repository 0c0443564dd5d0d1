import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CamplexError, type ErrorCode, ErrorCodes } from '../common/errors.js';
import { createLog } from '../common/log.js';
import type { PtzCommand } from '../protocol/wire.js';
import type { PtzMover } from '../ptz/ptz-camera.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import { type PtzBus, PtzRelay } from './ptz-relay.js';

/** One in-process bus for several nodes: a message reaches every node listening on its subject. */
class Bus {
  readonly listeners = new Map<string, Array<(text: string) => void>>();
  readonly published: string[] = [];
  owner: string | undefined;
  for(node: string): PtzBus {
    return {
      node,
      ownerOf: () => this.owner,
      publish: (subject, data) => {
        this.published.push(subject);
        for (const handle of this.listeners.get(subject) ?? []) handle(data);
      },
      listen: (subject, _what, handle) => {
        this.listeners.set(subject, [...(this.listeners.get(subject) ?? []), handle]);
      },
    };
  }
}

/** A node's own PTZ: records who asked what; refuses commands while `refuse` is set. */
class LocalPtz implements PtzControl {
  readonly log: string[] = [];
  refuse: CamplexError | undefined;
  private readonly names = new Map<PtzMover, string>();
  presetsOf() {
    return [];
  }
  command(mover: PtzMover, command: PtzCommand): void {
    if (this.refuse) throw this.refuse;
    this.log.push(`${this.nameOf(mover)} ${command.action}`);
  }
  release(mover: PtzMover): void {
    if (this.names.has(mover)) this.log.push(`${this.nameOf(mover)} released`);
  }
  private nameOf(mover: PtzMover): string {
    if (!this.names.has(mover)) this.names.set(mover, `mover${this.names.size + 1}`);
    return this.names.get(mover) ?? '';
  }
}

class Page implements PtzMover {
  readonly errors: string[] = [];
  ptzError(camera: string, code: ErrorCode, message: string): void {
    this.errors.push(`${camera} ${code} ${message}`);
  }
}

const MOVE: PtzCommand = { cmd: 'ptz', camera: 'dome', action: 'move', pan: 1, tilt: 0 };
const log = createLog({ level: 'silent' });

function twoNodes() {
  const bus = new Bus();
  const [ptz1, ptz2] = [new LocalPtz(), new LocalPtz()];
  const n1 = new PtzRelay(bus.for('n1'), ptz1, log);
  const n2 = new PtzRelay(bus.for('n2'), ptz2, log);
  return { bus, ptz1, ptz2, n1, n2 };
}

describe('PtzRelay', () => {
  it('moves a camera on the node that runs it, and tells it when the page goes', () => {
    const { bus, ptz1, ptz2, n2 } = twoNodes();
    bus.owner = 'n1';
    const page = new Page();
    n2.command(page, MOVE);
    n2.command(page, MOVE);
    assert.deepEqual(ptz1.log, ['mover1 move', 'mover1 move'], 'one mover for the page');
    assert.deepEqual(ptz2.log, []);
    n2.release(page);
    assert.deepEqual(ptz1.log.at(-1), 'mover1 released');
  });

  it('moves it here when this node runs it, or when none does', () => {
    const { bus, ptz2, n2 } = twoNodes();
    const page = new Page();
    bus.owner = undefined;
    n2.command(page, MOVE);
    bus.owner = 'n2';
    n2.command(page, MOVE);
    assert.deepEqual(ptz2.log, ['mover1 move', 'mover1 move']);
    assert.deepEqual(bus.published, [], 'nothing on the bus');
  });

  it('brings the owner’s refusal back to the page that sent the command', () => {
    const { bus, ptz1, n2 } = twoNodes();
    bus.owner = 'n1';
    ptz1.refuse = new CamplexError(ErrorCodes.RATE_LIMITED, 'camera "dome" takes at most 5');
    const page = new Page();
    n2.command(page, MOVE);
    assert.deepEqual(page.errors, [
      `dome ${ErrorCodes.RATE_LIMITED} camera "dome" takes at most 5`,
    ]);
  });

  it('checks a command from the bus as one from a page', () => {
    const { bus, ptz1 } = twoNodes();
    const hostile = { from: 'n9', mover: '1', command: { ...MOVE, pan: 40 } };
    assert.throws(
      () => bus.for('n9').publish('camplex.ptz.n1', JSON.stringify(hostile)),
      /"ptz" "move" needs "pan": a speed from -1 to 1/,
    );
    assert.deepEqual(ptz1.log, []);
  });
});
