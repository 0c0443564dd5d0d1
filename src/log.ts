/** The logger every module receives: pino, JSON lines on stdout. */
import { pino } from 'pino';

export type Log = pino.Logger;

/** A logger at `level`; `destination` is for tests that read what was logged. */
export function createLog(
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): Log {
  const options: pino.LoggerOptions = { level, base: { name: 'camplex' } };
  return destination ? pino(options, destination) : pino(options);
}
