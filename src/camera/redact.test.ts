import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { viewerReason } from './redact.js';

describe('viewerReason', () => {
  it('drops a leading URL with credentials and keeps the error', () => {
    assert.equal(
      viewerReason('rtsp://admin:hunter2@10.0.0.5:554/x: Connection refused'),
      'Connection refused',
    );
    assert.equal(
      viewerReason('rtsp://admin:***@10.0.0.5:554/x: Invalid data found when processing input'),
      'Invalid data found when processing input',
    );
  });

  it('drops the [tcp @ 0x...] prefix and replaces a URL inside the line', () => {
    assert.equal(
      viewerReason(
        '[tcp @ 0x55d1c0] Connection to tcp://1.2.3.4:554?timeout=0 failed: Connection refused',
      ),
      'Connection to <url> failed: Connection refused',
    );
    assert.equal(
      viewerReason('[rtsp @ 0x5581a2] method DESCRIBE failed: 401 Unauthorized'),
      'method DESCRIBE failed: 401 Unauthorized',
    );
  });

  it('never shows a host or a credential from any URL in the line', () => {
    const lines = [
      'Could not open rtsp://admin:hunter2@10.0.0.5/x',
      'rtsp://admin:p@ss@10.0.0.5:554/x: Connection refused',
      'Error opening input file http://admin:hunter2@10.0.0.5/video.mjpg.',
    ];
    for (const line of lines) {
      const reason = viewerReason(line);
      for (const secret of ['hunter2', 'admin', '10.0.0.5', 'p@ss', '://']) {
        assert.ok(!reason.includes(secret), `${JSON.stringify(reason)} shows ${secret}`);
      }
    }
    assert.equal(viewerReason(lines[0]!), 'Could not open <url>');
  });

  it('shortens a long line to 120 characters', () => {
    const reason = viewerReason(`Error: ${'x'.repeat(200)}`);
    assert.equal(reason.length, 120);
    assert.ok(reason.endsWith('...'));
    assert.equal(viewerReason('x'.repeat(120)), 'x'.repeat(120));
  });

  it('trims surrounding whitespace', () => {
    assert.equal(viewerReason('  Connection timed out \n'), 'Connection timed out');
  });
});
