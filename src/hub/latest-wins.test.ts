import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Camera } from '../camera/camera.js';
import { Frame } from '../camera/frame.js';
import { type DeliveryCounts, LatestWins } from './latest-wins.js';

const cameraA = { id: 'a' } as Camera;
const cameraB = { id: 'b' } as Camera;
const frame = (seq: number) => new Frame(new Uint8Array([0xff, 0xd8, seq, 0xff, 0xd9]), seq, 0);

function slots() {
  const totals = new Map<Camera, DeliveryCounts>();
  const total = (camera: Camera) => {
    const counts = totals.get(camera) ?? { sent: 0, dropped: 0 };
    totals.set(camera, counts);
    return counts;
  };
  return { latest: new LatestWins(total), total };
}

describe('LatestWins', () => {
  it('keeps one waiting frame per camera, the newest, counting the ones it replaced', () => {
    const { latest, total } = slots();
    latest.hold(cameraA, frame(1));
    latest.hold(cameraA, frame(2));
    latest.hold(cameraA, frame(3));
    assert.equal(latest.size, 1);
    const sent: number[] = [];
    latest.flush(
      () => true,
      (_camera, f) => sent.push(f.seq),
    );
    assert.deepEqual(sent, [3]);
    assert.deepEqual(latest.countsOf('a'), { sent: 1, dropped: 2 });
    assert.deepEqual(total(cameraA), { sent: 1, dropped: 2 }, 'the totals count too');
  });

  it('hands cameras their turn in the order they started waiting; a replaced one goes last', () => {
    const { latest } = slots();
    latest.hold(cameraA, frame(1));
    latest.hold(cameraB, frame(2));
    latest.hold(cameraA, frame(3));
    const order: string[] = [];
    latest.flush(
      () => true,
      (camera) => order.push(camera.id),
    );
    assert.deepEqual(order, ['b', 'a']);
  });

  it('stops handing over as soon as the viewer takes no more', () => {
    const { latest } = slots();
    latest.hold(cameraA, frame(1));
    latest.hold(cameraB, frame(2));
    let room = 1;
    latest.flush(
      () => room-- > 0,
      () => {},
    );
    assert.equal(latest.size, 1);
  });

  it('forgets an unsubscribed camera without a drop, and drops all when the viewer goes', () => {
    const { latest } = slots();
    latest.hold(cameraA, frame(1));
    latest.hold(cameraB, frame(2));
    latest.forget('a');
    latest.dropAll();
    assert.equal(latest.size, 0);
    assert.deepEqual(latest.countsOf('a'), { sent: 0, dropped: 0 });
    assert.deepEqual(latest.countsOf('b'), { sent: 0, dropped: 1 });
  });
});
