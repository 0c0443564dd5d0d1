import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import type { CameraInfo } from '../camera/states.js';
import { STATE, STATE_EVERY_MS, STATE_FORGET_MS, StateGossip } from './state-gossip.js';

const idle = (id: string): CameraInfo => ({ id, name: id.toUpperCase(), state: 'idle' });

/** A node `n1` whose hub has cameras `door` and `yard`, running the ones in `runs`. */
function setup() {
  const clock = new FakeClock();
  const runs = new Set<string>();
  const published: Array<{ subject: string; info: CameraInfo; owner: string }> = [];
  const announced: string[] = [];
  const local = new Map<string, CameraInfo>([
    ['door', idle('door')],
    ['yard', idle('yard')],
  ]);
  const gossip = new StateGossip({
    node: 'n1',
    clock,
    runs: (id) => runs.has(id),
    running: () => runs,
    publish: (subject, data, owner) =>
      published.push({ subject, info: JSON.parse(data) as CameraInfo, owner }),
  });
  gossip.attach({ info: (id) => local.get(id), announce: (id) => announced.push(id) });
  /** Another node's state message for `info`. */
  const hear = (info: CameraInfo, owner: string) =>
    gossip.onMessage(`${STATE}.${info.id}`, new TextEncoder().encode(JSON.stringify(info)), owner);
  return { clock, runs, published, announced, local, gossip, hear };
}

describe('StateGossip', () => {
  it('tells the states of the streams this node runs, at once and again every 2 s', () => {
    const { clock, runs, published, gossip } = setup();
    gossip.onLocalState({ ...idle('door'), state: 'live' });
    assert.equal(published.length, 0, 'not ours: nothing told');
    runs.add('door');
    gossip.onLocalState({
      ...idle('door'),
      state: 'live',
      owner: 'n9',
      substream: idle('door@sub'),
    });
    assert.deepEqual(
      published.map((p) => [
        p.subject,
        p.info.state,
        p.owner,
        'substream' in p.info,
        'owner' in p.info,
      ]),
      [[`${STATE}.door`, 'live', 'n1', false, false]],
      'the sub-stream is told on its own (not run here), the owner only in the header',
    );
    published.length = 0;
    for (let t = 0; t < 4 * STATE_EVERY_MS; t += 1000) {
      clock.advance(1000);
      gossip.sweep();
    }
    assert.equal(published.length, 4, 'once per STATE_EVERY_MS on a 1 s sweep');
  });

  it('shows what owners tell, announces changes only, and forgets an owner gone quiet', () => {
    const { clock, announced, gossip, hear } = setup();
    hear({ ...idle('door'), state: 'live', codecString: 'avc1.42C01E' }, 'n2');
    assert.deepEqual(announced, ['door']);
    assert.deepEqual(gossip.describe(idle('door')), {
      ...idle('door'),
      state: 'live',
      codecString: 'avc1.42C01E',
      owner: 'n2',
    });
    assert.equal(gossip.ownerOf('door'), 'n2');
    const receiving = { ...idle('door'), state: 'live' as const, width: 640 };
    assert.deepEqual(gossip.describe(receiving), { ...receiving, owner: 'n2' }, 'own view, named');
    hear({ ...idle('door'), state: 'live', codecString: 'avc1.42C01E' }, 'n2');
    assert.deepEqual(announced, ['door'], 'the same state again: no announcement');
    hear({ ...idle('door'), state: 'retrying', reason: 'no route' }, 'n2');
    assert.deepEqual(announced, ['door', 'door']);
    clock.advance(STATE_FORGET_MS + 1);
    gossip.sweep();
    assert.deepEqual(announced, ['door', 'door', 'door'], 'forgotten, and said so');
    assert.deepEqual(gossip.describe(idle('door')), idle('door'));
    assert.equal(gossip.ownerOf('door'), undefined);
  });

  it('ignores its own messages, unknown streams, mismatched ids and bytes that are not JSON', () => {
    const { announced, gossip, hear } = setup();
    hear({ ...idle('door'), state: 'live' }, 'n1');
    hear({ ...idle('garage'), state: 'live' }, 'n2');
    gossip.onMessage(`${STATE}.door`, new TextEncoder().encode(JSON.stringify(idle('yard'))), 'n2');
    gossip.onMessage(`${STATE}.door`, new TextEncoder().encode('{oops'), 'n2');
    gossip.onMessage(`${STATE}.door`, new TextEncoder().encode('null'), 'n2');
    gossip.onMessage(
      `${STATE}.door`,
      new TextEncoder().encode(JSON.stringify(idle('door'))),
      undefined,
    );
    assert.deepEqual(announced, []);
    assert.deepEqual(gossip.describe(idle('door')), idle('door'));
  });

  it('names this node the owner of what it runs, whatever others say', () => {
    const { runs, gossip, hear } = setup();
    hear({ ...idle('door'), state: 'live' }, 'n2');
    runs.add('door');
    assert.equal(gossip.ownerOf('door'), 'n1');
    assert.equal(gossip.describe({ ...idle('door'), state: 'live' }).owner, 'n1');
  });
});
