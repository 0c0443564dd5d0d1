import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckCadence } from './ack-cadence.js';

describe('AckCadence', () => {
  it('acknowledges the running total about every eighth of the window', () => {
    const acks = new AckCadence(8000); // a step of 1000 bytes
    const sent = [300, 300, 300, 300, 2500, 10, 990].map((bytes) => acks.take(bytes));
    assert.deepEqual(sent, [undefined, undefined, undefined, 1200, 3700, undefined, 4700]);
  });

  it('flushes what is left once, and nothing when all is acknowledged', () => {
    const acks = new AckCadence(8000);
    assert.equal(acks.flush(), undefined);
    acks.take(400);
    assert.equal(acks.pending, true);
    assert.equal(acks.flush(), 400);
    assert.equal(acks.pending, false);
    assert.equal(acks.flush(), undefined);
    assert.equal(acks.take(1000), 1400, 'the step counts from the last ack');
  });

  it('acknowledges every message without a window (a server that does not announce one)', () => {
    const acks = new AckCadence();
    assert.deepEqual(
      [5, 7, 1].map((bytes) => acks.take(bytes)),
      [5, 12, 13],
    );
  });

  it('starts again from zero on a new socket and takes a new window as it goes', () => {
    const acks = new AckCadence();
    acks.take(50);
    acks.reset(800); // step 100
    assert.equal(acks.take(60), undefined);
    assert.equal(acks.take(60), 120);
    acks.setWindow(8000); // step 1000, counts go on
    assert.equal(acks.take(500), undefined);
    assert.equal(acks.take(500), 1120);
  });
});
