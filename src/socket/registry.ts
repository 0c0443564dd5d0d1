/**
 * The open viewer sockets, by the login that opened them: logging out or a login expiring
 * closes that login's sockets with 1008; shutting down closes them all.
 */
import type { WebSocket } from 'ws';
import { CloseCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';

export class SocketRegistry {
  private readonly all = new Set<WebSocket>();
  private readonly byLogin = new Map<string, Set<WebSocket>>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** Tracks `ws` until it closes; `login` is the login session's token, if it has one. */
  add(ws: WebSocket, login: string | undefined): void {
    this.all.add(ws);
    if (login !== undefined) {
      const sockets = this.byLogin.get(login) ?? new Set();
      sockets.add(ws);
      this.byLogin.set(login, sockets);
    }
    ws.once('close', () => {
      this.all.delete(ws);
      if (login === undefined) return;
      const sockets = this.byLogin.get(login);
      sockets?.delete(ws);
      if (sockets?.size === 0) this.byLogin.delete(login);
    });
  }

  /** Closes the sockets opened by login `token` with 1008 and `reason`. */
  closeLogin(token: string, reason: string): void {
    const sockets = this.byLogin.get(token);
    if (!sockets) return;
    this.byLogin.delete(token);
    this.log.info({ sockets: sockets.size, reason }, 'closing the sockets of a login session');
    for (const ws of sockets) ws.close(CloseCodes.POLICY_VIOLATION, reason);
  }

  /** Closes the sockets of every login that `isLive` no longer knows. */
  closeExpired(isLive: (token: string) => boolean): void {
    for (const token of this.byLogin.keys()) {
      if (!isLive(token)) this.closeLogin(token, 'session expired');
    }
  }

  /** Closes every socket; resolves once all are closed (ws cuts off peers that never answer). */
  closeAll(code: number, reason: string): Promise<void> {
    return Promise.all(
      [...this.all].map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close(code, reason);
          }),
      ),
    ).then(() => undefined);
  }
}
