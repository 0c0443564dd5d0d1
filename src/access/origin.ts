/**
 * Which pages may open the WebSocket, and which Host names camplex answers to. Browsers send
 * Origin on every WebSocket upgrade, so a page on another site (Cross-Site WebSocket
 * Hijacking) is refused before the 101. Host is checked when no authentication is configured,
 * so a DNS-rebinding page cannot reach an open loopback camplex under a name of its own.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { ProxyTrust } from '../guard/client-address.js';

export interface OriginPolicy {
  /** Extra exact origins allowed besides the server's own, e.g. https://cams.example.org */
  readonly allowedOrigins: readonly string[];
  /** Extra Host names accepted when access is open, besides IP literals and localhost. */
  readonly allowedHosts: readonly string[];
  readonly secure: boolean;
  /** Proxies whose X-Forwarded-Host names the Host a page asked for, and that may end TLS. */
  readonly trust?: ProxyTrust;
}

/** True when the request comes from no browser page, or from an allowed origin. */
export function isAllowedOrigin(req: IncomingMessage, policy: OriginPolicy): boolean {
  const origin = req.headers.origin;
  return (
    isOwnOrigin(req, policy) || (origin !== undefined && policy.allowedOrigins.includes(origin))
  );
}

/**
 * True when the request comes from no browser page, or from a page camplex itself served: an
 * Origin of camplex's scheme whose host and port are the Host asked for. Through a trusted proxy
 * (`server.trustedProxies`) the page may be https where camplex speaks http (the proxy ends
 * TLS), and its host may be the proxy's X-Forwarded-Host.
 */
export function isOwnOrigin(req: IncomingMessage, policy: OriginPolicy): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser: scripts must authenticate anyway
  const page = originParts(origin);
  if (page === undefined) return false;
  const proxied = policy.trust?.isTrusted(req.socket?.remoteAddress ?? '') === true;
  if (!proxied && page.scheme !== (policy.secure ? 'https' : 'http')) return false;
  const asked = [req.headers.host];
  const forwarded = req.headers['x-forwarded-host'];
  if (proxied && forwarded !== undefined) asked.push(String(forwarded).split(',')[0]?.trim());
  return asked.some((name) => name !== undefined && name.toLowerCase() === page.host);
}

/** The scheme and `host[:port]` (lower case, a default port left out) of an http(s) origin. */
function originParts(origin: string): { scheme: string; host: string } | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return { scheme: url.protocol.slice(0, -1), host: url.host.toLowerCase() };
  } catch {
    return undefined;
  }
}

/** True when Host is an IP literal, localhost, or an allowed name (with any port). */
export function isTrustedHost(req: IncomingMessage, policy: OriginPolicy): boolean {
  const name = hostName(req.headers.host);
  if (name === undefined) return false;
  if (isIP(name) !== 0 || name === 'localhost') return true;
  const allowed = [
    ...policy.allowedHosts,
    ...policy.allowedOrigins.map((origin) => safeHostname(origin)),
  ];
  return allowed.includes(name);
}

/**
 * The host name of a Host header (lower case, no port, no brackets), or undefined unless the
 * whole header is `name`, `name:port`, `[ipv6]` or `[ipv6]:port`: `[::1]evil.com` is not ::1.
 */
export function hostName(host: string | undefined): string | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::\d{1,5})?$/.exec(host ?? '');
  if (!match) return undefined;
  const [, bracketed, name] = match;
  if (bracketed !== undefined) return isIP(bracketed) === 6 ? bracketed.toLowerCase() : undefined;
  return name?.toLowerCase();
}

function safeHostname(origin: string): string {
  try {
    return new URL(origin).hostname.toLowerCase();
  } catch {
    return '';
  }
}
