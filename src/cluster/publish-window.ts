/**
 * How much a node may have published on a NATS connection that the server has not yet
 * confirmed. nats.js queues every publish in memory without a bound (it writes to the socket
 * and never looks at its backpressure), so a server or link slower than the cameras would let
 * the owner's memory grow by the relayed bitrate, every second, until it runs out. A flush
 * (PING, answered by PONG once the server has read everything before it) confirms what was
 * sent; past `limitBytes` unconfirmed, publishes are refused until a flush answers. Key units
 * may use the whole window, anything else half of it: under a sustained overload the deltas
 * and late-join caches give way first, so every camera's key units still find room (with one
 * window for everything, a camera whose key units kept arriving when other cameras' deltas had
 * just filled it was starved for good). Whatever the window, a unit goes out when nothing is
 * unconfirmed, so a unit larger than the window is never refused on an idle link.
 */

/** What the window needs of a connection: nats.js's `flush`. */
export interface Flushable {
  flush(): Promise<void>;
}

export class PublishWindow {
  private readonly nc: Flushable;
  private readonly limitBytes: number;
  private sent = 0;
  private confirmed = 0;
  private flushing = false;
  /** Settles with the flush under way: true once it confirmed, false if it failed. */
  private confirmation: Promise<boolean> = Promise.resolve(true);

  constructor(nc: Flushable, limitBytes: number) {
    this.nc = nc;
    this.limitBytes = limitBytes;
  }

  /** Bytes sent that the server has not confirmed yet. */
  get unconfirmed(): number {
    return this.sent - this.confirmed;
  }

  /** Whether `bytes` more may be published now (a key unit's or not); if so, they count as sent. */
  admit(bytes: number, key: boolean): boolean {
    const limit = key ? this.limitBytes : this.limitBytes / 2;
    if (this.unconfirmed > 0 && this.unconfirmed + bytes > limit) {
      this.confirmSoon();
      return false;
    }
    this.sent += bytes;
    // One flush at a time, asked for once a quarter of the window is out: a PING per
    // quarter window, not per message.
    if (this.unconfirmed > this.limitBytes / 4) this.confirmSoon();
    return true;
  }

  /**
   * Admits `bytes` (not a key unit's) once the window has room, waiting for at most `rounds`
   * confirmations: a late-join cache larger than half the window goes in turns instead of
   * being cut. False when still refused, or when a flush failed (closed or reconnecting).
   */
  async whenRoom(bytes: number, rounds: number): Promise<boolean> {
    for (let round = 0; ; round++) {
      if (this.admit(bytes, false)) return true;
      if (round >= rounds || !this.flushing) return false;
      if (!(await this.confirmation)) return false;
    }
  }

  private confirmSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    const mark = this.sent;
    this.confirmation = this.nc.flush().then(
      () => {
        this.confirmed = Math.max(this.confirmed, mark);
        this.flushing = false;
        if (this.unconfirmed > this.limitBytes / 4) this.confirmSoon();
        return true;
      },
      () => {
        // Closed or reconnecting: nothing is confirmed, and the next admit asks again (no
        // retry from here, which would spin on a closed connection).
        this.flushing = false;
        return false;
      },
    );
  }
}
