/** Small response helpers shared by the HTTP routes: JSON bodies, errors, security headers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../protocol/errors.js';

type Headers = Record<string, string | string[]>;

/** Headers every camplex response carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

/** For HTML pages: only camplex's own scripts, styles, images and sockets. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
  "form-action 'self'";

/** Under TLS: browsers that saw camplex over HTTPS once never try plain HTTP for it again. */
export const STRICT_TRANSPORT_SECURITY = 'max-age=15552000';

/** True for a person in a browser (who should see a page), not a script (who reads JSON). */
export function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Headers = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/** `{"error":{"code","message"}}`: the body of every HTTP error camplex answers. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  headers: Headers = {},
): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Headers = {},
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : html);
}

export function redirect(res: ServerResponse, location: string, headers: Headers = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, Location: location, 'Content-Length': 0, ...headers });
  res.end();
}
