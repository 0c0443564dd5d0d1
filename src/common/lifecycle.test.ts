import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capturedLog } from '../../support/logs.js';
import { Lifecycle } from './lifecycle.js';

describe('Lifecycle', () => {
  it('stops the parts last built first, once, and goes on past one that throws', async () => {
    const { log, lines } = capturedLog();
    const lifecycle = new Lifecycle(log);
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
