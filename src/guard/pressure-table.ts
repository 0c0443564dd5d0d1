/**
 * A bounded map for limiters that must survive table pressure: when it is full, the oldest
 * harmless entry goes first, and a limited one only when nothing else is left. Clearing the
 * table when it fills (or a plain LRU) would let 10,000 cheap requests from fresh addresses
 * wipe out the limit of the one address that is guessing passwords.
 */
export class PressureTable<E> {
  private readonly harmless = new Map<string, E>();
  private readonly limited = new Map<string, E>();
  private readonly maxEntries: number;
  private readonly isLimited: (entry: E) => boolean;

  constructor(maxEntries: number, isLimited: (entry: E) => boolean) {
    this.maxEntries = maxEntries;
    this.isLimited = isLimited;
  }

  get(key: string): E | undefined {
    return this.harmless.get(key) ?? this.limited.get(key);
  }

  /** Stores `entry` under `key`, filed by whether it is limited now; evicts when full. */
  set(key: string, entry: E): void {
    const known = this.harmless.delete(key) || this.limited.delete(key);
    if (!known && this.size >= this.maxEntries) this.evictOne();
    (this.isLimited(entry) ? this.limited : this.harmless).set(key, entry);
  }

  delete(key: string): void {
    this.harmless.delete(key) || this.limited.delete(key);
  }

  get size(): number {
    return this.harmless.size + this.limited.size;
  }

  /** How many entries are limited now (for tests and metrics). */
  get limitedCount(): number {
    return this.limited.size;
  }

  private evictOne(): void {
    const from = this.harmless.size > 0 ? this.harmless : this.limited;
    const oldest = from.keys().next().value;
    if (oldest !== undefined) from.delete(oldest);
  }
}
