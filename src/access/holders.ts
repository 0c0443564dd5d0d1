/**
 * Everything open that was let in on a principal: viewer sockets and MJPEG streams. A principal
 * is checked once, when the connection opens; after that, a reload, a sign-out, an expiry or a
 * password change may take its credential away or narrow what it may watch. `recheck` asks
 * Access about each holder and closes the revoked (saying why) and rescopes the narrowed, so
 * no connection keeps rights its credential no longer has.
 */
import type { Log } from '../common/log.js';
import type { Access, Principal } from './access.js';

export interface HolderHandlers {
  /** Its credential is gone: close, with `reason` for the client. */
  revoke(reason: string): void;
  /** What it may watch changed: stop what it may no longer watch, tell it the new list. */
  rescope(principal: Principal): void;
}

export interface Held {
  /** It closed: forget it. */
  release(): void;
}

interface Entry {
  principal: Principal;
  readonly handlers: HolderHandlers;
}

export class Holders {
  private readonly entries = new Set<Entry>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Tracks a connection let in on `principal` until it is released. */
  hold(principal: Principal, handlers: HolderHandlers): Held {
    const entry: Entry = { principal, handlers };
    this.entries.add(entry);
    return { release: () => this.entries.delete(entry) };
  }

  /** Checks every holder's principal again (after a reload, at every heartbeat). */
  recheck(access: Access): void {
    let revoked = 0;
    let rescoped = 0;
    for (const entry of [...this.entries]) {
      const now = access.recheck(entry.principal);
      if ('revoked' in now) {
        this.entries.delete(entry);
        revoked++;
        this.run(() => entry.handlers.revoke(now.revoked));
        continue;
      }
      const before = entry.principal;
      entry.principal = now;
      if (sameScope(before, now)) continue;
      rescoped++;
      this.run(() => entry.handlers.rescope(now));
    }
    if (revoked + rescoped > 0) {
      this.log.info({ revoked, rescoped }, 'credentials changed: connections closed or narrowed');
    }
  }

  /** Closes the holders whose principal `matches` with `reason` (a sign-out). */
  revokeWhere(matches: (principal: Principal) => boolean, reason: string): void {
    for (const entry of [...this.entries]) {
      if (!matches(entry.principal)) continue;
      this.entries.delete(entry);
      this.run(() => entry.handlers.revoke(reason));
    }
  }

  /** One holder that throws must not keep the others open. */
  private run(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.log.error({ err: error }, 'closing or narrowing a connection failed');
    }
  }
}

function sameScope(a: Principal, b: Principal): boolean {
  if (a.user !== b.user || a.ptz !== b.ptz) return false;
  if (!a.cameras || !b.cameras) return a.cameras === b.cameras;
  return a.cameras.size === b.cameras.size && [...a.cameras].every((id) => b.cameras?.has(id));
}
