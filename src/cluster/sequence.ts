/**
 * Which relayed frames a receiving node hands on, in order: none twice (the key-unit cache and
 * the live units overlap), none after a gap until the next key unit (a delta after a gap decodes
 * to garbage), and a new publisher (a new owner, whose frame counter is its own, maybe lower)
 * starts afresh from its next key unit.
 */
export interface Numbered {
  seq: number;
  key: boolean;
  /** Who published it: a node and its start. */
  from: string;
}

export class RelayedSequence {
  private from: string | undefined;
  private lastSeq = -1;
  private needKey = true;

  /** Whether `frame` is handed on. */
  accept(frame: Numbered): boolean {
    if (frame.from !== this.from) {
      this.from = frame.from;
      this.lastSeq = -1;
      this.needKey = true;
    }
    if (frame.seq <= this.lastSeq) return false;
    if (this.lastSeq >= 0 && frame.seq !== this.lastSeq + 1) this.needKey = true;
    this.lastSeq = frame.seq;
    if (this.needKey && !frame.key) return false;
    this.needKey = false;
    return true;
  }
}
