/**
 * One timer for the batches of every socket: a socket that holds frames back (a client that
 * asked for batches) joins the next flush, and when it comes every socket waiting sends its
 * batch. Sockets that watch the same cameras get frames at about the same moments, so one
 * wakeup serves them all instead of one timer per socket per batch; a socket that joins late
 * only goes a little earlier than it had to.
 */
import type { Clock } from '../common/clock.js';

/** What waits for the flush: a socket's batch. */
export interface Batched {
  sendBatch(): void;
}

export class Batches {
  private readonly waiting = new Set<Batched>();
  private timer: unknown;
  private readonly timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>;

  constructor(timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>) {
    this.timers = timers;
  }

  /** `socket` has a batch that must go within `ms`. */
  add(socket: Batched, ms: number): void {
    this.waiting.add(socket);
    this.timer ??= this.timers.setTimeout(this.flush, ms);
  }

  /** `socket` sent its batch itself (before a control message) or closed. */
  remove(socket: Batched): void {
    this.waiting.delete(socket);
    if (this.waiting.size === 0 && this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private readonly flush = () => {
    this.timer = undefined;
    const due = [...this.waiting];
    this.waiting.clear();
    for (const socket of due) socket.sendBatch();
  };
}
