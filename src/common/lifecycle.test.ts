import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Lifecycle } from './lifecycle.js';
import { createLog } from './log.js';

function quietLog(lines: string[]) {
  return createLog({
    level: 'info',
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
}

describe('Lifecycle', () => {
  it('stops the parts last built first, once, and goes on past one that throws', async () => {
    const lines: string[] = [];
    const lifecycle = new Lifecycle(quietLog(lines));
    const stopped: string[] = [];
    lifecycle.add('cluster', () => stopped.push('cluster'));
    lifecycle.add('cameras', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      stopped.push('cameras');
    });
    lifecycle.add('http', () => {
      throw new Error('boom');
    });
    lifecycle.add('listener', () => stopped.push('listener'));
    await Promise.all([lifecycle.close(), lifecycle.close()]);
    await lifecycle.close();
    assert.deepEqual(stopped, ['listener', 'cameras', 'cluster']);
    assert.equal(lines.filter((line) => line.includes('stopping http failed')).length, 1);
  });
});
