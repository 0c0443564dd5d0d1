/**
 * The one error boundary of every HTTP request: whatever a handler throws or rejects with ends
 * that request only. A client that went away is a refusal like any other (counted, logged at a
 * bounded rate); a bug of ours answers 500 (or cuts the socket once the response began) and is
 * logged as an error. Nothing a client does reaches `unhandledRejection`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clip } from '../common/text.js';
import type { Refusals } from '../guard/refusals.js';
import type { Log } from '../log.js';
import { ErrorCodes } from '../protocol/errors.js';
import { sendError } from './responses.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Error codes of a request that the client broke off or garbled, not of a bug. */
const CLIENT_FAULTS = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

export function withErrorBoundary(handler: Handler, log: Log, refusals: Refusals): Handler {
  return (req, res) => {
    const fail = (error: unknown) => {
      const code = (error as NodeJS.ErrnoException)?.code ?? '';
      const clientFault = CLIENT_FAULTS.has(code) || code.startsWith('HPE_') || req.destroyed;
      if (clientFault) {
        refusals.hit('aborted', `request broken off: ${(error as Error)?.message}`, {
          address: req.socket.remoteAddress,
          code,
        });
      } else {
        log.error(
          { err: error, method: clip(req.method ?? '', 200), path: clip(req.url ?? '', 200) },
          'request failed: 500',
        );
      }
      if (!res.headersSent && res.writable && !req.socket.destroyed) {
        sendError(res, 500, ErrorCodes.INTERNAL, 'internal error');
      } else {
        res.destroy();
      }
    };
    try {
      const result = handler(req, res);
      if (result) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}
