import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactCredentials, viewerReason } from './redact.js';

describe('redactCredentials', () => {
  it('hides the password of a URL and keeps the user, host and path', () => {
    assert.equal(
      redactCredentials('rtsp://admin:hunter2@10.0.0.5:554/x: Connection refused'),
      'rtsp://admin:***@10.0.0.5:554/x: Connection refused',
    );
  });

  it('hides the password of every URL in the text, whatever the scheme case', () => {
    assert.equal(
      redactCredentials('open rtsp://a:s3cret@h/x and HTTP://Cam:Pa55@e:8080/f now'),
      'open rtsp://a:***@h/x and HTTP://Cam:***@e:8080/f now',
    );
  });

  it('hides a password that contains @, as ffmpeg splits at the last @', () => {
    const redacted = redactCredentials('rtsp://admin:p@ss@10.0.0.5:554/x: Connection refused');
    assert.equal(redacted, 'rtsp://admin:***@10.0.0.5:554/x: Connection refused');
    assert.ok(!redacted.includes('ss@10.0.0.5'), redacted);
  });

  it('hides the password when the user name contains @', () => {
    const redacted = redactCredentials('rtsp://admin@corp:hunter2@10.0.0.5/x');
    assert.equal(redacted, 'rtsp://admin@corp:***@10.0.0.5/x');
  });

  it('hides credentials without a user name', () => {
    assert.equal(redactCredentials('rtsp://:hunter2@10.0.0.5/x'), 'rtsp://***@10.0.0.5/x');
  });

  it('leaves URLs without credentials and @ in paths or log prefixes alone', () => {
    const lines = [
      'http://10.0.0.5/snapshot?mail=a@b.c',
      '[tcp @ 0x55d1c0] Connection to tcp://1.2.3.4:554?timeout=0 failed: Connection refused',
      'no URL here',
      '',
    ];
    for (const line of lines) assert.equal(redactCredentials(line), line);
  });
});

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
