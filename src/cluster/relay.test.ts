import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import { capturedLog } from '../../support/logs.js';
import type { Camera } from '../camera/camera.js';
import { Frame } from '../camera/frame.js';
import { MAX_PIECES, UnitAssembler } from './bus-format.js';
import { PublishWindow } from './publish-window.js';
import { RelayViewer } from './relay.js';

const WINDOW = 10_000;

/** A media connection whose server confirms a flush only when the test says so. */
function connection(maxPayload = 1024 * 1024) {
  const published: Array<{ subject: string; seq: number; part: string | null; msg: Msg }> = [];
  const flushes: Array<{ confirm(): void; fail(): void }> = [];
  let closed = false;
  const nc = {
    info: { max_payload: maxPayload },
    publish(subject: string, data: Uint8Array, options: { headers: MsgHdrs }) {
      if (closed) throw new Error('CONNECTION_CLOSED');
      published.push({
        subject,
        seq: Number(options.headers.get('seq')),
        part: options.headers.has('part') ? options.headers.get('part') : null,
        msg: { data, headers: options.headers } as unknown as Msg,
      });
    },
    flush: () =>
      new Promise<void>((confirm, fail) => {
        flushes.push({ confirm, fail: () => fail(new Error('closed')) });
      }),
    close: () => {
      closed = true;
    },
  };
  return { nc, published, flushes };
}

function setup(maxPayload?: number) {
  const { nc, published, flushes } = connection(maxPayload);
  const { log, lines } = capturedLog();
  const window = new PublishWindow(nc, WINDOW);
  const relay = new RelayViewer(nc as never, window, log, 'camplex.media', 'n1 1');
  const camera = { id: 'door' } as Camera;
  let seq = 0;
  /** The camera's next unit, `bytes` long; a key every `gop`. */
  const unit = (bytes: number, key: boolean) =>
    relay.sendFrame(new Frame(new Uint8Array(bytes), ++seq, 0, 'h264', key), camera);
  return { nc, published, flushes, lines, window, unit };
}

/** Lets promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RelayViewer', () => {
  it('stops publishing once the server has not confirmed a window, and goes on from a key unit', async () => {
    const { published, flushes, lines, window, unit } = setup();
    unit(1000, true);
    for (let i = 0; i < 30; i++) unit(1000, false);
    // Deltas may fill half of the 10 000 bytes, each unit costing its bytes and 256 more.
    assert.equal(published.length, 3, 'the key unit and two deltas went out');
    assert.ok(window.unconfirmed <= WINDOW / 2);
    assert.equal(flushes.length, 1, 'one flush at a time, asked for after a quarter window');
    assert.equal(lines.filter((line) => line.includes('NATS is slower')).length, 1);
    unit(1000, true);
    assert.equal(published.length, 4, 'a key unit still finds room in the other half');

    flushes[0]?.confirm();
    await settle();
    // The flush confirmed what was out when it was asked for (two units); two went after it.
    assert.equal(window.unconfirmed, 2 * 1256);
    assert.equal(flushes.length, 2, 'and the next flush is asked for at once');
    unit(1000, false);
    assert.equal(published.length, 5, 'the key unit went, so its deltas go');
    assert.deepEqual(
      published.map((p) => p.seq),
      [1, 2, 3, 32, 33],
    );
  });

  it('asks for no flush per unit on a fast link, and never throws into the frame path', async () => {
    const { nc, published, flushes, unit } = setup();
    let asked = 0;
    for (let i = 0; i < 100; i++) {
      unit(100, i % 10 === 0);
      for (const flush of flushes.splice(0)) {
        asked++;
        flush.confirm();
      }
      await settle();
    }
    assert.equal(published.length, 100, 'every unit went out');
    // A quarter window is 2500 bytes, 8 units of 356 bytes: one flush per 8 units, not 100.
    assert.equal(asked, 12);
    nc.close();
    assert.doesNotThrow(() => unit(100, true));
  });

  it('keeps a failed flush from spinning, and asks again on the next unit', async () => {
    const { flushes, unit } = setup();
    for (let i = 0; i < 40; i++) unit(1000, i === 0);
    assert.equal(flushes.length, 1);
    flushes[0]?.fail();
    await settle();
    await settle();
    assert.equal(flushes.length, 1, 'no flush after a failed one until a unit comes');
    unit(1000, true);
    assert.equal(flushes.length, 2);
  });

  it('sends a unit larger than the window when nothing is out', () => {
    const { published, unit } = setup(64 * 1024);
    unit(WINDOW * 2, true);
    assert.equal(published.length, 1);
  });

  it('relays a unit over max_payload in pieces the receiver joins whole', () => {
    const { published, lines, unit } = setup(2000);
    unit(300, true);
    unit(3000, false); // pieces of at most 2000 - 256 bytes: two
    unit(300, false);
    assert.deepEqual(
      published.map((p) => [p.seq, p.part]),
      [
        [1, null],
        [2, '0/2'],
        [2, '1/2'],
        [3, null],
      ],
    );
    const assembler = new UnitAssembler();
    const joined = published.map((p) => assembler.take(p.msg)).filter((frame) => frame);
    assert.deepEqual(
      joined.map((frame) => [frame?.seq, frame?.data.length]),
      [
        [1, 300],
        [2, 3000],
        [3, 300],
      ],
    );
    assert.ok(!lines.some((line) => line.includes('max_payload')));
  });

  it('relays no unit that would take more than MAX_PIECES, nor the deltas after it', () => {
    const { published, lines, unit } = setup(2000);
    unit(1000, true);
    unit((2000 - 256) * MAX_PIECES + 1, false);
    unit(500, false);
    unit(500, true);
    assert.deepEqual(
      published.map((p) => p.seq),
      [1, 4],
    );
    assert.equal(lines.filter((line) => line.includes('larger than NATS max_payload')).length, 1);
  });
});

describe('PublishWindow.whenRoom', () => {
  it('waits for confirmations instead of refusing, and gives up after its rounds or a failed flush', async () => {
    const { nc, flushes } = connection();
    const window = new PublishWindow(nc, WINDOW);
    assert.ok(window.admit(4000, false));
    let admitted: boolean | undefined;
    window.whenRoom(4000, 2).then((ok) => {
      admitted = ok;
    });
    await settle();
    assert.equal(admitted, undefined, 'waits: 8000 unconfirmed is past half the window');
    flushes[0]?.confirm();
    await settle();
    await settle();
    assert.equal(admitted, true, 'once the server confirmed the first 4000');
    window.whenRoom(4000, 0).then((ok) => {
      admitted = ok;
    });
    await settle();
    assert.equal(admitted, false, 'no rounds: refused at once');
    window.whenRoom(4000, 5).then((ok) => {
      admitted = ok;
    });
    flushes.at(-1)?.fail();
    await settle();
    await settle();
    assert.equal(admitted, false, 'a failed flush ends the wait');
  });
});
