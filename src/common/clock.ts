/** Time as camplex code sees it: injected so supervision can be tested with a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Read once: `performance.timeOrigin` is a getter that does work on every read. */
const timeOrigin = performance.timeOrigin;

export const systemClock: Clock = {
  // Wall time with sub-millisecond resolution that never steps back: frame timestamps are
  // compared across processes (latency benchmarks) and intervals within one.
  now: () => timeOrigin + performance.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Runs `callback` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, callback: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    handle = clock.setTimeout(tick, ms);
    callback();
  };
  handle = clock.setTimeout(tick, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
