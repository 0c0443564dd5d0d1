import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { locateFfmpeg } from './locate.js';

describe('locateFfmpeg', () => {
  it('finds ffmpeg on PATH and says which build it is', () => {
    assert.ok(
      existsSync('/usr/bin/ffmpeg'),
      'this test needs Debian ffmpeg: apt-get install ffmpeg',
    );
    const ffmpeg = locateFfmpeg(undefined, { PATH: '/nonexistent:/usr/bin' });
    assert.equal(ffmpeg.path, '/usr/bin/ffmpeg');
    assert.equal(ffmpeg.origin, 'PATH');
    assert.match(ffmpeg.version, /^\d+\.\d+/);
    assert.equal(ffmpeg.rtspTimeoutFlag, '-timeout'); // Debian 12 ships ffmpeg 5.1
  });

  it('prefers ffmpeg.path from the config', () => {
    const ffmpeg = locateFfmpeg('/usr/bin/ffmpeg', { PATH: '' });
    assert.equal(ffmpeg.origin, 'config');
  });

  it('refuses a configured path that is not an executable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'camplex-locate-'));
    const plain = join(dir, 'ffmpeg');
    writeFileSync(plain, 'not a program', { mode: 0o644 });
    try {
      assert.throws(() => locateFfmpeg(plain), {
        message: `ffmpeg.path: ${plain} is not an executable file`,
      });
      assert.throws(() => locateFfmpeg(dir), {
        message: `ffmpeg.path: ${dir} is not an executable file`,
      });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('falls back to the npm-shipped ffmpeg when PATH has none', () => {
    const ffmpeg = locateFfmpeg(undefined, { PATH: '/nonexistent' });
    assert.equal(ffmpeg.origin, '@ffmpeg-installer/ffmpeg');
    assert.match(ffmpeg.path, /node_modules\/@ffmpeg-installer\//);
    // That 2018 build still calls the RTSP socket timeout -stimeout.
    assert.equal(ffmpeg.rtspTimeoutFlag, '-stimeout');
  });
});
