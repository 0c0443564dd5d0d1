/**
 * The KV calls a cluster Lease makes, in memory, for one key: JetStream's revision checks and
 * their errors, a renewal whose answer is lost, another node's write and the bucket's expiry.
 * One MemoryKv shared by several Leases is several nodes on one bucket.
 */
export class MemoryKv {
  private entry: { value: string; revision: number; operation: 'PUT' | 'DEL' } | undefined;
  private revisions = 0;
  /** A renewal that lands but whose answer is lost (the client timed out): it throws after. */
  loseNextUpdateAnswer = false;
  /** A create that lands but whose answer is lost, likewise. */
  loseNextCreateAnswer = false;
  /** A renewal that lands at once but whose answer waits until `answerHeld()`. */
  holdNextUpdateAnswer = false;
  private heldAnswer: (() => void) | undefined;
  /** Every write that landed, in order: `PUT n1`, `DEL`. */
  readonly history: string[] = [];
  /** Calls of `create`, landed or not: a node trying to take the key. */
  creates = 0;

  async create(_key: string, value: string): Promise<number> {
    this.creates++;
    if (this.entry?.operation === 'PUT') throw new Error('wrong last sequence: 1');
    const revision = this.put(value);
    if (this.loseNextCreateAnswer) {
      this.loseNextCreateAnswer = false;
      throw new Error('TIMEOUT');
    }
    return revision;
  }

  async update(_key: string, value: string, revision: number): Promise<number> {
    if (this.entry?.revision !== revision) {
      throw new Error(`wrong last sequence: ${this.entry?.revision}`);
    }
    const next = this.put(value);
    if (this.loseNextUpdateAnswer) {
      this.loseNextUpdateAnswer = false;
      throw new Error('TIMEOUT');
    }
    if (this.holdNextUpdateAnswer) {
      this.holdNextUpdateAnswer = false;
      await new Promise<void>((resolve) => {
        this.heldAnswer = resolve;
      });
    }
    return next;
  }

  /** The held renewal's answer reaches the client. */
  answerHeld(): void {
    this.heldAnswer?.();
    this.heldAnswer = undefined;
  }

  async delete(_key: string, options: { previousSeq: number }): Promise<void> {
    if (this.entry?.revision !== options.previousSeq) throw new Error('wrong last sequence');
    this.revisions++;
    this.entry = { value: '', revision: this.revisions, operation: 'DEL' };
    this.history.push('DEL');
  }

  async get(_key: string) {
    const entry = this.entry;
    return entry && { ...entry, string: () => entry.value };
  }

  /** Another node writes the key. */
  steal(node: string): void {
    this.put(node);
  }

  /** The key reached the bucket's max age without a write: gone, as if never written. */
  expire(): void {
    this.entry = undefined;
    this.history.push('expired');
  }

  holder(): string | undefined {
    return this.entry?.operation === 'PUT' ? this.entry.value : undefined;
  }

  private put(value: string): number {
    this.revisions++;
    this.entry = { value, revision: this.revisions, operation: 'PUT' };
    this.history.push(`PUT ${value}`);
    return this.revisions;
  }
}
