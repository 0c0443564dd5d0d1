/** The logger every module receives: pino, JSON lines on stdout. */
import { pino } from 'pino';

export type Log = pino.Logger;

/** Log bytes held while stdout's reader is slow; past this, lines are dropped, never awaited. */
const MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024;

/**
 * A logger at `level`; `destination` is for tests that read what was logged. The default
 * writes stdout asynchronously with a bounded buffer: a stalled log reader must never block
 * the event loop (pino's synchronous mode would spin on EAGAIN) nor grow memory without end.
 */
export function createLog(
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): Log {
  const options: pino.LoggerOptions = { level, base: { name: 'camplex' } };
  return pino(
    options,
    destination ?? pino.destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES }),
  );
}
