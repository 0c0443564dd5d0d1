import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLog } from '../common/log.js';
import { MAX_LOGGED_TEXT, Refusals } from './refusals.js';

/** A Refusals whose log lines are collected, on a clock the test moves. */
function refusals() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const clock = { now: 0 };
  const counter = new Refusals(createLog({ level: 'info', destination }), () => clock.now);
  return { counter, lines, clock };
}

describe('Refusals', () => {
  it('counts every refusal but logs a flood of one kind at a bounded rate', () => {
    const { counter, lines, clock } = refusals();
    for (let i = 0; i < 1000; i++) counter.hit('origin', 'refused');
    assert.equal(Object.fromEntries(counter.entries()).origin, 1000);
    assert.equal(lines.length, 20, 'a burst of 20 lines, then nothing');
    clock.now += 5000;
    for (let i = 0; i < 1000; i++) counter.hit('origin', 'refused');
    assert.equal(lines.length, 25, 'one more line per second');
    assert.equal(lines[20]?.suppressed, 980, 'the next line says how many were left out');
    assert.equal(lines[20]?.count, 1001);
  });

  it('keeps one kind of flood from silencing another', () => {
    const { counter, lines } = refusals();
    for (let i = 0; i < 100; i++) counter.hit('not-found', 'not found: 404');
    counter.hit('unauthenticated', 'login failed');
    assert.equal(lines.at(-1)?.limit, 'unauthenticated');
  });

  it('clips every client-supplied string, in details and message', () => {
    const { counter, lines } = refusals();
    const long = 'x'.repeat(15_000);
    counter.hit('host', `refused ${long}`, { host: long, several: [long, long], port: 80 });
    const line = lines[0] ?? {};
    assert.equal(String(line.host).length, MAX_LOGGED_TEXT + 3);
    assert.equal(String(line.msg).length, MAX_LOGGED_TEXT + 3);
    assert.deepEqual(
      (line.several as string[]).map((text) => text.length),
      [MAX_LOGGED_TEXT + 3, MAX_LOGGED_TEXT + 3],
    );
    assert.equal(line.port, 80);
    assert.ok(JSON.stringify(line).length < 1000);
  });
});
