/**
 * What a reloaded config may not change under the running listener. The listener keeps the
 * host it started with until a restart, so a file without `auth:` (or half written, saved before
 * its `auth:` section) must not open a LAN listener to everyone: the file's own check reads
 * the file's host, which may be the loopback default.
 */
import { type Config, isLoopback } from '../config/schema.js';

/** Why `next` may not be applied while camplex listens on `host`, or undefined when it may. */
export function unfitForListener(host: string, next: Config): string | undefined {
  const { users, tokens, open } = next.auth;
  const authenticated = Object.keys(users).length > 0 || Object.keys(tokens).length > 0;
  if (authenticated || open || isLoopback(host)) return undefined;
  return (
    `it has no auth.users or auth.tokens, and camplex listens on ${host}: ` +
    'that would let anyone who can reach it watch every camera (keep the users or tokens, ' +
    'or set auth.open: true to mean it)'
  );
}
