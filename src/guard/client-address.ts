/**
 * Who a request really comes from. Behind a reverse proxy every connection's peer is the
 * proxy, so `X-Forwarded-For` is believed from the peers listed in `server.trustedProxies`
 * and from no one else. Limits count per address key: an IPv4 address, or an IPv6 /64 (one
 * host usually holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv4 } from 'node:net';

/** `a.b.c.d` and `a.b.c.d/n`, `x:y::z` and `x:y::z/n`: what trustedProxies may list. */
export function isAddressOrCidr(text: string): boolean {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

/** The proxies whose `X-Forwarded-For` is believed. */
export class ProxyTrust {
  private readonly list = new BlockList();
  readonly empty: boolean;

  /** `entries` were checked with isAddressOrCidr when the config was loaded. */
  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address = '', prefix] = entry.split('/');
      const type = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
  }

  isTrusted(address: string): boolean {
    if (this.empty) return false;
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client behind `peer`: walking `X-Forwarded-For` from the right (the hop nearest to
   * camplex), the first address that is not a trusted proxy. A malformed entry ends the walk
   * at the hop that wrote it, which is then the client.
   */
  clientOf(peer: string, forwardedFor: string | string[] | undefined): string {
    let client = unmapped(peer);
    if (!this.isTrusted(client) || forwardedFor === undefined) return client;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i] ?? '');
      if (hop === undefined) return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }
}

/** The client address of `req`, through trusted proxies. */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  return trust.clientOf(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for']);
}

/** What per-address limits count by: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4. */
export function addressKey(address: string): string {
  const plain = unmapped(address);
  if (isIP(plain) !== 6) return plain;
  return `${expandIpv6(plain).slice(0, 4).join(':')}::/64`;
}

/** `::ffff:1.2.3.4` (an IPv4 client of a dual-stack socket) -> `1.2.3.4`. */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
}

/** One X-Forwarded-For entry (`1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`) as an address. */
function hopAddress(text: string): string | undefined {
  let hop = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(hop);
  if (bracketed) hop = bracketed[1] ?? '';
  else if (/^[\d.]+:\d{1,5}$/.test(hop)) hop = hop.slice(0, hop.lastIndexOf(':'));
  return isIP(hop) === 0 ? undefined : unmapped(hop);
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address.split('%')[0] ?? address; // no zone id
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    // An embedded IPv4 tail (::ffff:0:1.2.3.4 and the like) is the last two groups.
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}
