import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../test/helpers/random.js';
import { viewerReason } from '../camera/redact.js';
import { createLog } from '../common/log.js';
import { parseConfig } from '../config/load.js';
import { redactorFor } from '../config/secrets.js';
import { Redactor } from './redactor.js';

const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...' /@:%?#&=+"\'\\*.-_~!$',
  'é',
  'ß',
  '漢',
  '🔑',
  '\t',
];

function randomText(next: () => number, min: number, max: number): string {
  const length = min + Math.floor(next() * (max - min + 1));
  let text = '';
  while ([...text].length < length) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return text;
}

/** Every line a pino logger with `redactor` wrote for `write`. */
function logged(redactor: Redactor, write: (log: ReturnType<typeof createLog>) => void): string[] {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  write(createLog({ level: 'info', destination, redact: (line) => redactor.redactJsonLine(line) }));
  return lines;
}

describe('Redactor', () => {
  it('hides a password with spaces that URL-shape matching misses', () => {
    const redactor = new Redactor();
    redactor.addUrl('rtsp://admin:correct horse battery staple@10.0.0.5:554/x');
    const line = 'rtsp://admin:correct horse battery staple@10.0.0.5:554/x: Connection refused';
    assert.equal(redactor.redact(line), 'rtsp://***@10.0.0.5:554/x: Connection refused');
    assert.equal(viewerReason(redactor.redact(line)), 'Connection refused');
  });

  it('hides both readings of a password with "/" in it (ffmpeg cuts the URL there)', () => {
    const redactor = new Redactor();
    redactor.addUrl('rtsp://admin:pa/ss@10.0.0.5/x');
    const text = redactor.redact('rtsp://admin:pa/ss@10.0.0.5/x: Invalid argument');
    assert.equal(text, 'rtsp://***@10.0.0.5/x: Invalid argument');
  });

  it('hides user info of URLs it was never told about, by shape', () => {
    const redactor = new Redactor();
    assert.equal(
      redactor.redact('open rtsp://a:s3cret@h/x and HTTP://Cam:Pa55@e:8080/f now'),
      'open rtsp://***@h/x and HTTP://***@e:8080/f now',
    );
    assert.equal(redactor.redact('rtsp://admin:p@ss@10.0.0.5/x'), 'rtsp://***@10.0.0.5/x');
  });

  it('replaces a user name only as URL user info, not in other words', () => {
    const redactor = new Redactor();
    redactor.addUser('admin');
    assert.equal(redactor.redact('admin says rtsp://admin@h/x'), 'admin says rtsp://***@h/x');
  });

  it('leaves text without secrets or user info alone', () => {
    const redactor = new Redactor();
    redactor.addSecret('hunter22');
    for (const line of [
      'http://10.0.0.5/snapshot?mail=a@b.c',
      '[tcp @ 0x55d1c0] Connection to tcp://1.2.3.4:554?timeout=0 failed: Connection refused',
      '{"level":30,"msg":"camera live"}',
      '',
    ]) {
      assert.equal(redactor.redact(line), line);
      assert.equal(redactor.redactJsonLine(line), line);
    }
  });

  it('keeps a log line valid JSON when a secret looks like its syntax', () => {
    const redactor = new Redactor();
    redactor.addSecret('30');
    const line = '{"level":30,"msg":"code 30 from rtsp://u:30@h"}\n';
    const out = redactor.redactJsonLine(line);
    assert.deepEqual(JSON.parse(out), { level: 30, msg: 'code *** from rtsp://***@h' });
  });

  it('never lets a configured password or user out, whatever it holds (property)', () => {
    const seed = Number(process.env.CAMPLEX_REDACT_SEED ?? Date.now() % 1_000_000);
    const next = mulberry32(seed);
    for (let round = 0; round < 300; round++) {
      const password = randomText(next, 6, 24);
      const user = randomText(next, 4, 12).replace(/[/:@\s]/g, 'u');
      if (/^\**$/.test(password)) continue; // "***" is what redaction writes
      const context = `seed ${seed} round ${round}: user ${JSON.stringify(user)} password ${JSON.stringify(password)}`;
      const inUrl = `rtsp://${user}:${password}@127.0.0.1:554/stream1`;
      const config = parseConfig(
        [
          'cameras:',
          `  in-url: { url: ${JSON.stringify(inUrl)} }`,
          `  in-keys: { url: "rtsp://127.0.0.1:554/stream2", user: ${JSON.stringify(user)}, password: ${JSON.stringify(password)} }`,
        ].join('\n'),
        'test.yaml',
      );
      const redactor = redactorFor(config, {});
      const composed = config.cameras.find((camera) => camera.id === 'in-keys')?.url ?? '';
      // What ffmpeg writes for each camera: the URL it was given, and the credentials decoded.
      const leaks = [inUrl, composed, `${user}:${password}`].flatMap((url) => [
        `${url}: Connection refused`,
        `[rtsp @ 0x5581a2] method DESCRIBE failed: 401 Unauthorized (${url})`,
        `Error opening input file ${url}.`,
      ]);
      for (const leak of leaks) {
        const reason = viewerReason(redactor.redact(leak));
        const lines = logged(redactor, (log) => {
          log.warn({ detail: redactor.redact(leak), raw: leak }, `camera failed: ${leak}`);
        });
        for (const text of [redactor.redact(leak), reason, ...lines]) {
          assert.ok(!text.includes(password), `${context}: password in ${JSON.stringify(text)}`);
          assert.ok(
            !text.includes(JSON.stringify(password).slice(1, -1)),
            `${context}: escaped password in ${text}`,
          );
          assert.ok(
            !text.includes(encodeURIComponent(password)),
            `${context}: encoded password in ${text}`,
          );
          assert.ok(!text.includes(`://${user}`), `${context}: user info in ${text}`);
        }
        for (const line of lines) JSON.parse(line); // still one valid JSON object per line
      }
    }
  });
});
