/** A small seeded PRNG (mulberry32), so a failing randomised test can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A seeded generator whose seed every failure names, so the run can be replayed. */
export interface Seeded {
  readonly seed: number;
  readonly next: () => number;
  /** `seed N (replay: VAR=N)`. */
  readonly replay: string;
}

/** The seed in `envVar` when set (a replay), else a fresh one. */
export function seeded(envVar: string, fixed?: number): Seeded {
  const given = process.env[envVar];
  const seed = fixed ?? (given !== undefined ? Number(given) : Math.floor(Math.random() * 2 ** 32));
  return { seed, next: mulberry32(seed), replay: `seed ${seed} (replay: ${envVar}=${seed})` };
}

/**
 * Runs `body` with `seeded`'s generator; whatever it throws (an assertion, a `JSON.parse`
 * SyntaxError, a TypeError) is thrown again with the seed in front of its message.
 */
export async function withSeed<T>(
  seeded: Seeded,
  body: (next: () => number) => T | Promise<T>,
): Promise<T> {
  try {
    return await body(seeded.next);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${seeded.replay}: ${message}`, { cause: error });
  }
}
