/**
 * The open viewer sockets, so shutting down can close them all. Which principal each was let in
 * on, and closing them when it changes, is access/holders.ts's job.
 */
import type { WebSocket } from 'ws';

export class SocketRegistry {
  private readonly all = new Set<WebSocket>();

  /** Tracks `ws` until it closes. */
  add(ws: WebSocket): void {
    this.all.add(ws);
    ws.once('close', () => this.all.delete(ws));
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
