/** What every camplex HTTP error looks like, and the policy its pages load under. */
import type { FastifyReply } from 'fastify';
import type { ErrorCode } from '../common/errors.js';

/**
 * For HTML pages: only camplex's own scripts, styles, images, media and sockets (Media Source
 * players play a blob: URL).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
  "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
  "form-action 'self'";

/** Sends an HTML page under camplex's Content-Security-Policy. */
export function replyHtml(reply: FastifyReply, html: string | Buffer, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .send(html);
}

/** `{"error":{"code","message"}}`: the body of every HTTP error camplex answers. */
export function replyError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}
