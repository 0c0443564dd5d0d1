/**
 * When a client acknowledges the frame bytes it received (flow control, PROTOCOL.md): every
 * eighth of the server's window, not every message. An ack is a message the server reads and
 * parses, so a wall of 16 cameras acking each of its 240 frames a second costs the server as
 * much work again as sending them; at an eighth of the window the server still has seven
 * eighths of it to send while the ack travels, so a fast reader never waits on one. A client
 * calls `flush()` a moment after frames stop, so what it took last is acknowledged too.
 */

/** Acks per window: the server's window is never more than this fraction short. */
export const ACKS_PER_WINDOW = 8;

export class AckCadence {
  private received = 0;
  private acked = 0;
  private step: number;

  /** `windowBytes`: the server's `maxUnackedBytes` from hello; without it, every message. */
  constructor(windowBytes?: number) {
    this.step = AckCadence.stepOf(windowBytes);
  }

  private static stepOf(windowBytes: number | undefined): number {
    return windowBytes !== undefined && windowBytes > 0
      ? Math.max(1, Math.floor(windowBytes / ACKS_PER_WINDOW))
      : 1;
  }

  /** A new socket (counts start at 0), with the window its hello announces. */
  reset(windowBytes?: number): void {
    this.received = 0;
    this.acked = 0;
    this.step = AckCadence.stepOf(windowBytes);
  }

  /** The window changed (a later hello): counts go on. */
  setWindow(windowBytes: number | undefined): void {
    this.step = AckCadence.stepOf(windowBytes);
  }

  /** A binary message of `bytes` arrived: the total to acknowledge now, or undefined. */
  take(bytes: number): number | undefined {
    this.received += bytes;
    if (this.received - this.acked < this.step) return undefined;
    this.acked = this.received;
    return this.received;
  }

  /** Whether bytes wait to be acknowledged. */
  get pending(): boolean {
    return this.received > this.acked;
  }

  /** The total to acknowledge now that frames stopped, or undefined when all is acknowledged. */
  flush(): number | undefined {
    if (this.received === this.acked) return undefined;
    this.acked = this.received;
    return this.received;
  }
}
