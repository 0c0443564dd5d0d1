/**
 * The latest-wins slot of one viewer, WebSocket or MJPEG alike: per camera at most ONE frame
 * waits while the viewer cannot take more, a newer frame replaces it (the older one counts as
 * dropped), and waiting cameras take turns in the order they started waiting, so none starves.
 * Every frame a viewer is sent or loses is counted here, for the viewer and in the hub's totals.
 */
import type { Camera, Frame } from '../camera/camera.js';

export interface DeliveryCounts {
  sent: number;
  dropped: number;
}

export class LatestWins {
  /** This viewer's counts per camera id. */
  readonly counts = new Map<string, DeliveryCounts>();
  /** Per camera: this viewer's counts and the hub's totals, found with one lookup per frame. */
  private readonly tallies = new Map<Camera, { mine: DeliveryCounts; total: DeliveryCounts }>();
  /** Map order is the turn order: a camera goes to the back when its frame is replaced. */
  private readonly waiting = new Map<Camera, Frame>();
  private readonly totals: (camera: Camera) => DeliveryCounts;

  /** `totals` gives the running totals of a camera over every viewer (the hub's). */
  constructor(totals: (camera: Camera) => DeliveryCounts) {
    this.totals = totals;
  }

  /** Frames waiting (one per camera at most). */
  get size(): number {
    return this.waiting.size;
  }

  /** Counts one frame of `camera` as sent to this viewer. */
  sent(camera: Camera): void {
    const tally = this.tallyOf(camera);
    tally.mine.sent++;
    tally.total.sent++;
  }

  /** Keeps `frame` waiting, replacing (and dropping) an older one of its camera. */
  hold(camera: Camera, frame: Frame): void {
    if (this.waiting.delete(camera)) this.dropped(camera);
    this.waiting.set(camera, frame);
  }

  /**
   * Hands waiting frames to `send`, in turn, while `canSend()` says the viewer takes more.
   * Each one handed over is counted as sent.
   */
  flush(canSend: () => boolean, send: (camera: Camera, frame: Frame) => void): void {
    for (const [camera, frame] of this.waiting) {
      if (!canSend()) return;
      this.waiting.delete(camera);
      send(camera, frame);
      this.sent(camera);
    }
  }

  /** Whether a frame of `camera` is waiting. */
  isWaiting(camera: Camera): boolean {
    return this.waiting.has(camera);
  }

  /** Drops the waiting frame of `camera`, if any, and counts `more` frames never held. */
  discard(camera: Camera, more = 0): void {
    if (this.waiting.delete(camera)) this.dropped(camera);
    for (let i = 0; i < more; i++) this.dropped(camera);
  }

  /** Forgets the waiting frame of stream `id`, from its source or transcoder (unsubscribed: not a drop). */
  forget(id: string): void {
    for (const camera of this.waiting.keys()) if (camera.id === id) this.waiting.delete(camera);
  }

  /** Drops every waiting frame (the viewer is gone or cut off), counting each. */
  dropAll(): void {
    for (const camera of this.waiting.keys()) this.dropped(camera);
    this.waiting.clear();
  }

  /** This viewer's counts for camera `id`. */
  countsOf(id: string): DeliveryCounts {
    let counts = this.counts.get(id);
    if (!counts) {
      counts = { sent: 0, dropped: 0 };
      this.counts.set(id, counts);
    }
    return counts;
  }

  private dropped(camera: Camera): void {
    const tally = this.tallyOf(camera);
    tally.mine.dropped++;
    tally.total.dropped++;
  }

  private tallyOf(camera: Camera): { mine: DeliveryCounts; total: DeliveryCounts } {
    let tally = this.tallies.get(camera);
    if (!tally) {
      tally = { mine: this.countsOf(camera.id), total: this.totals(camera) };
      this.tallies.set(camera, tally);
    }
    return tally;
  }
}
