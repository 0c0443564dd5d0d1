import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { connectionCaps, DEFAULT_PER_ADDRESS, descriptorLimit } from './descriptors.js';

describe('descriptor limit and connection caps', () => {
  it('reads the same soft limit the shell reports', () => {
    const shell = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    const expected = shell === 'unlimited' ? Number.POSITIVE_INFINITY : Number(shell);
    assert.equal(descriptorLimit(), expected);
  });

  it('fits the total cap below the limit, leaving room for cameras', () => {
    assert.deepEqual(connectionCaps({}, 1024, 16), {
      total: 1024 - 64 - 64,
      perAddress: DEFAULT_PER_ADDRESS,
    });
    assert.deepEqual(connectionCaps({}, 100, 16), { total: 16, perAddress: 16 });
    assert.equal(connectionCaps({}, Number.POSITIVE_INFINITY, 1).total, 1_000_000);
    assert.equal(connectionCaps({}, undefined, 0).total, 1024 - 64);
  });

  it('keeps configured caps as they are', () => {
    assert.deepEqual(connectionCaps({ total: 50, perAddress: 5 }, 1024, 2), {
      total: 50,
      perAddress: 5,
    });
    assert.deepEqual(connectionCaps({ perAddress: 500 }, 1024, 0), { total: 960, perAddress: 500 });
  });
});
