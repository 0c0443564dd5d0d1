import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { createLog } from '../common/log.js';
import { parseConfig } from '../config/load.js';
import { unfitForListener } from './listener-fit.js';
import { type ReloadChanges, Reloader, type ReloaderOptions } from './reloader.js';

const SETTLE_MS = 300;
const NOTHING: ReloadChanges = { added: [], removed: [], changed: [], needRestart: [] };

function setup(overrides: Partial<ReloaderOptions<string>> = {}) {
  const clock = new FakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  let file = 'v1';
  const applied: string[] = [];
  const reloader = new Reloader<string>({
    load: () => file,
    check: () => undefined,
    apply: async (next) => {
      applied.push(next);
      return NOTHING;
    },
    redact: (text) => text.replaceAll('hunter2', '***'),
    log: createLog({ level: 'info', destination }),
    clock,
    settleMs: SETTLE_MS,
    ...overrides,
  });
  /** Lets the reloader's awaits run, then moves the clock past the settle time. */
  const settle = async () => {
    await flush();
    clock.advance(SETTLE_MS);
    await flush();
  };
  return {
    reloader,
    applied,
    lines,
    clock,
    settle,
    setFile: (text: string) => {
      file = text;
    },
  };
}

/** Runs every callback already queued (promise jobs and immediates). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Reloader', () => {
  it('makes one reload of a SIGHUP and a file save that come together', async () => {
    const { reloader, applied, settle, lines } = setup();
    const first = reloader.request('SIGHUP');
    const second = reloader.request('file saved');
    await settle();
    assert.deepEqual(await first, { outcome: 'applied', ...NOTHING });
    assert.equal(await second, await first);
    assert.deepEqual(applied, ['v1']);
    assert.equal(
      lines.find((line) => line.msg === 'config reloaded: no camera changed')?.cause,
      'SIGHUP + file saved',
    );
  });

  it('reads a file written in pieces once the writing stops, and one written all the time at the latest after 10 settle times', async () => {
    const { reloader, applied, setFile, clock } = setup();
    setFile('half');
    const report = reloader.request('file saved');
    for (let piece = 0; piece < 3; piece++) {
      await flush();
      clock.advance(SETTLE_MS - 1);
      await flush();
      assert.deepEqual(applied, [], `not read while pieces come (piece ${piece})`);
      setFile(piece === 2 ? 'whole' : 'half');
      void reloader.request('file saved');
    }
    await flush();
    clock.advance(SETTLE_MS);
    await flush();
    assert.deepEqual(await report, { outcome: 'applied', ...NOTHING });
    assert.deepEqual(applied, ['whole']);

    // A file written all the time: put off by each request, but read at the latest 10 settle
    // times after the first.
    const start = clock.now();
    let readAt: number | undefined;
    void reloader.request('file saved');
    for (let step = 0; step < 15 && readAt === undefined; step++) {
      await flush();
      clock.advance(SETTLE_MS - 1);
      await flush();
      if (applied.length === 2) readAt = clock.now();
      else void reloader.request('file saved');
    }
    const after = (readAt ?? Number.POSITIVE_INFINITY) - start;
    assert.ok(after > 5 * SETTLE_MS && after < 11 * SETTLE_MS, `read ${after} ms after`);
  });

  it('runs one more reload, after the running one, for requests made while it runs', async () => {
    let release: () => void = () => {};
    const applied: string[] = [];
    const { reloader, settle, setFile } = setup({
      apply: async (next) => {
        applied.push(`start ${next}`);
        if (next === 'v1') await new Promise<void>((resolve) => (release = resolve));
        applied.push(`end ${next}`);
        return NOTHING;
      },
    });
    const first = reloader.request('SIGHUP');
    await settle(); // v1 is being applied
    setFile('v2');
    const again = [reloader.request('file saved'), reloader.request('SIGHUP')];
    await settle();
    assert.deepEqual(applied, ['start v1'], 'the second reload waits for the first');
    release();
    await first;
    await flush();
    await Promise.all(again);
    assert.deepEqual(applied, ['start v1', 'end v1', 'start v2', 'end v2']);
  });

  it('waits for writes to stop again when they came while the last reload finished', async () => {
    let release: () => void = () => {};
    const applied: string[] = [];
    const { reloader, settle, setFile, clock } = setup({
      apply: async (next) => {
        if (next === 'v1') await new Promise<void>((resolve) => (release = resolve));
        applied.push(next);
        return NOTHING;
      },
    });
    const first = reloader.request('SIGHUP');
    await settle(); // v1 is being applied, for longer than a settle time
    setFile('half');
    const next = reloader.request('file saved');
    await settle(); // quiet since its request, but the running reload holds it
    clock.advance(SETTLE_MS - 1);
    setFile('whole');
    void reloader.request('file saved'); // the rest of the file, just before v1 ends
    release();
    await first;
    await flush();
    assert.deepEqual(applied, ['v1'], 'not read right after v1: a write just came');
    await settle();
    assert.equal((await next).outcome, 'applied');
    assert.deepEqual(applied, ['v1', 'whole']);
  });

  it('reports a file that fails to load or to check as refused, and applies nothing', async () => {
    const { reloader, applied, settle, lines, setFile } = setup({
      load: () => {
        throw new Error('camplex.yaml: cameras.front.url: expected a URL (password hunter2)');
      },
    });
    const refused = reloader.request('SIGHUP');
    await settle();
    assert.deepEqual(await refused, {
      outcome: 'refused',
      reason: 'camplex.yaml: cameras.front.url: expected a URL (password ***)',
    });
    assert.deepEqual(applied, []);
    assert.ok(lines.some((line) => line.msg === 'config reload refused: the running config stays'));
    setFile('v2');

    const unfit = setup({ check: (next) => (next === 'v1' ? 'auth would go away' : undefined) });
    const report = unfit.reloader.request('SIGHUP');
    await unfit.settle();
    assert.deepEqual(await report, { outcome: 'refused', reason: 'auth would go away' });
    assert.deepEqual(unfit.applied, []);
  });

  it('turns an error while applying into a failed report, and the next reload still runs', async () => {
    let calls = 0;
    const { reloader, settle, lines } = setup({
      apply: async () => {
        calls++;
        if (calls === 1) throw new TypeError('spawn: argument must not contain null bytes');
        return { ...NOTHING, added: ['garage'] };
      },
    });
    const failed = reloader.request('SIGHUP');
    await settle();
    assert.deepEqual(await failed, {
      outcome: 'failed',
      reason: 'spawn: argument must not contain null bytes',
    });
    assert.ok(lines.some((line) => line.msg === 'config reload failed while applying'));
    const next = reloader.request('file saved');
    await settle();
    assert.deepEqual(await next, { outcome: 'applied', ...NOTHING, added: ['garage'] });
  });

  it('says which sections need a restart', async () => {
    const { reloader, settle, lines } = setup({
      apply: async () => ({ ...NOTHING, needRestart: ['server', 'limits'] }),
    });
    const report = reloader.request('SIGHUP');
    await settle();
    await report;
    assert.ok(
      lines.some(
        (line) =>
          line.msg === 'config sections server, limits changed: they take effect after a restart',
      ),
    );
  });
});

describe('unfitForListener', () => {
  const config = (auth: string, server = '') =>
    parseConfig(`${server}${auth}cameras:\n  front: { url: "demo:1" }\n`, 'camplex.yaml');
  const TOKEN = 'a'.repeat(32);

  it('refuses a file without auth under a LAN listener, even when the file says loopback', () => {
    const reason = unfitForListener('0.0.0.0', config(''));
    assert.match(reason ?? '', /no auth\.users or auth\.tokens, and camplex listens on 0\.0\.0\.0/);
    assert.ok(unfitForListener('192.168.1.10', config('', 'server: { host: 127.0.0.1 }\n')));
  });

  it('lets it through with tokens, with auth.open, or on a loopback listener', () => {
    assert.equal(
      unfitForListener('0.0.0.0', config(`auth: { tokens: { nvr: "${TOKEN}" } }\n`)),
      undefined,
    );
    assert.equal(unfitForListener('0.0.0.0', config('auth: { open: true }\n')), undefined);
    assert.equal(unfitForListener('127.0.0.1', config('')), undefined);
    assert.equal(unfitForListener('::1', config('')), undefined);
  });
});
