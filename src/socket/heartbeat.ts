/**
 * Viewer liveness: a viewer that vanished without a FIN (a sleeping laptop, a frozen process)
 * never closes its socket; a ping every interval finds it, and two left unanswered in a row
 * terminate it, which frees its subscriptions.
 */
import type { WebSocket } from 'ws';
import type { Log } from '../common/log.js';

/** Pings left unanswered in a row before a viewer is taken for gone. */
const MAX_MISSED_PONGS = 2;

export class Heartbeat {
  private readonly missed = new Map<WebSocket, number>();
  private readonly timer: NodeJS.Timeout;

  /** `onTick` runs at every beat too (the endpoint closes expired logins' sockets there). */
  constructor(intervalMs: number, log: Log, onTick: () => void) {
    this.timer = setInterval(() => {
      for (const [ws, missed] of this.missed) {
        if (missed >= MAX_MISSED_PONGS) {
          log.warn({ missed }, `viewer missed ${missed} pongs: terminating its socket`);
          this.missed.delete(ws);
          ws.terminate();
          continue;
        }
        this.missed.set(ws, missed + 1);
        if (ws.readyState === ws.OPEN) ws.ping();
      }
      onTick();
    }, intervalMs);
    this.timer.unref();
  }

  /** Pings `ws` from now until it closes. */
  watch(ws: WebSocket): void {
    this.missed.set(ws, 0);
    ws.on('pong', () => this.missed.set(ws, 0));
    ws.once('close', () => this.missed.delete(ws));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
