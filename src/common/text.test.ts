import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clip } from './text.js';

describe('clip', () => {
  it('shortens long text to the limit and marks the cut', () => {
    assert.equal(clip('x'.repeat(100), 64), `${'x'.repeat(64)}...`);
    assert.equal(clip('abcdef', 3), 'abc...');
  });

  it('leaves text of at most the limit unchanged', () => {
    assert.equal(clip('x'.repeat(64), 64), 'x'.repeat(64));
    assert.equal(clip('front', 64), 'front');
  });
});
