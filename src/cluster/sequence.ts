/**
 * Which relayed frames a receiving node hands on, in order: none twice (the key-unit cache and
 * the live units overlap), no picture after a gap until the next key unit (a delta after a gap
 * decodes to garbage), and a new publisher (a new owner, whose frame counters are its own, maybe
 * lower) starts afresh from its next key unit. Pictures and sound frames are numbered apart;
 * a sound frame needs nothing before it.
 */
import { type Codec, isAudio } from '../frames/codecs.js';

export interface Numbered {
  seq: number;
  key: boolean;
  codec: Codec;
  /** Who published it: a node and its start. */
  from: string;
}

export class RelayedSequence {
  private from: string | undefined;
  private lastSeq = -1;
  private lastSoundSeq = -1;
  private needKey = true;

  /** Whether `frame` is handed on. */
  accept(frame: Numbered): boolean {
    if (frame.from !== this.from) {
      this.from = frame.from;
      this.lastSeq = -1;
      this.lastSoundSeq = -1;
      this.needKey = true;
    }
    if (isAudio(frame.codec)) {
      if (frame.seq <= this.lastSoundSeq) return false;
      this.lastSoundSeq = frame.seq;
      return true;
    }
    if (frame.seq <= this.lastSeq) return false;
    if (this.lastSeq >= 0 && frame.seq !== this.lastSeq + 1) this.needKey = true;
    this.lastSeq = frame.seq;
    if (this.needKey && !frame.key) return false;
    this.needKey = false;
    return true;
  }
}
