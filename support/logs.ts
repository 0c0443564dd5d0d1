/** A logger for tests that read what was logged: every line kept, as written. */
import { Writable } from 'node:stream';
import { createLog, type Log } from '../src/common/log.js';

export function capturedLog(level = 'info'): { log: Log; lines: string[] } {
  const lines: string[] = [];
  const log = createLog({
    level,
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { log, lines };
}
