/** The logger every module receives: pino, JSON lines on stdout, secrets redacted. */
import { pino } from 'pino';

export type Log = pino.Logger;

/** Log bytes held while stdout's reader is slow; past this, lines are dropped, never awaited. */
const MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024;

export interface LogOptions {
  level?: string;
  /** For tests that read what was logged. */
  destination?: pino.DestinationStream;
  /** Applied to every finished line (camplex passes its redactor: no secret gets out). */
  redact?: (line: string) => string;
}

/**
 * A logger. The default writes stdout asynchronously with a bounded buffer: a stalled log
 * reader must never block the event loop (pino's synchronous mode would spin on EAGAIN) nor
 * grow memory without end.
 */
export function createLog(options: LogOptions = {}): Log {
  const { redact } = options;
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { name: 'camplex' },
      ...(redact ? { hooks: { streamWrite: redact } } : {}),
    },
    options.destination ??
      pino.destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES }),
  );
}
