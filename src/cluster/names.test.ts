import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CAMERA_ID_PATTERN } from '../common/camera-id.js';
import { decodeName, encodeName } from './names.js';

/** What NATS accepts as one subject token and as a KV key. */
const SUBJECT_TOKEN = /^[^.*>\s]+$/;
const KV_KEY = /^[-/=.\w]+$/;

describe('camera ids as subject tokens and KV keys', () => {
  it('escapes what NATS cannot take and round-trips every id', () => {
    const ids = ['.x', 'a..b', 'a.b', 'cam_1', '_', '__', 'front-door', 'Z9', '.', '_2e', 'a_5fb'];
    for (const id of ids) {
      assert.ok(CAMERA_ID_PATTERN.test(id), `${id} is a camplex id`);
      const name = encodeName(id);
      assert.match(name, SUBJECT_TOKEN, name);
      assert.match(name, KV_KEY, name);
      assert.ok(!name.includes('.'), name);
      assert.equal(decodeName(name), id);
    }
    assert.equal(encodeName('front-door'), 'front-door', 'plain ids stay readable');
    assert.notEqual(encodeName('a.b'), encodeName('a_2eb'), 'no two ids meet');
  });

  it('maps different ids to different names', () => {
    const alphabet = ['a', '.', '_', '2', 'e', '5', 'f'];
    const seen = new Map<string, string>();
    for (const x of alphabet) {
      for (const y of alphabet) {
        for (const z of alphabet) {
          const id = x + y + z;
          const name = encodeName(id);
          assert.equal(seen.get(name) ?? id, id, `${id} and ${seen.get(name)} meet at ${name}`);
          seen.set(name, id);
        }
      }
    }
  });
});
