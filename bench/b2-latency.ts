/**
 * B2, latency added by the hub: the B1 load (16 cameras x 15 fps) to 20 viewers using the
 * extended layout, whose `sentAt` is the moment a frame left the splitter. Each received frame
 * gives `receive time - sentAt`. The bare baseline stamps its frames at the same point (just
 * before building the message), so camplex minus bare is the hub's and session's share.
 */

import { recordedFrames } from './lib/frames.js';
import { alternate, CAMERAS, compare, FPS, otherLoadNote, type RunResult } from './lib/rig.js';
import { median } from './lib/stats.js';
import type { BenchOptions, BenchResult } from './lib/types.js';

export const LATENCY_TARGET_MS = 2;
/** Batches of at most this many ms add at most that to the latency (PROTOCOL.md, batches). */
const BATCH_MS = 8;

export async function run(options: BenchOptions): Promise<BenchResult> {
  await recordedFrames();
  const clients = options.quick ? 5 : 20;
  const repeats = options.quick ? 1 : 4;
  const base = {
    clients,
    extended: true,
    warmupMs: options.quick ? 1000 : 2000,
    seconds: options.seconds,
  };
  const [bare = [], camplex = [], batched = []] = await alternate(
    [
      { ...base, mode: 'bare' },
      { ...base, mode: 'camplex' },
      // As the dashboard asks: frames within 8 ms of a write may wait for one batch.
      { ...base, mode: 'camplex', batchMs: BATCH_MS },
    ],
    repeats,
    (line) => process.stderr.write(`B2${line}\n`),
  );
  const latency = (runs: RunResult[], key: 'p50' | 'p99' | 'max') =>
    median(runs.map((run) => run.clients.latency?.[key] ?? Number.NaN));
  const worst = (runs: RunResult[]) =>
    Math.max(...runs.map((run) => run.clients.latency?.max ?? Number.NaN));
  const p99 = latency(camplex, 'p99');
  const bareP99 = latency(bare, 'p99');
  const loopDelay = median(camplex.map((run) => run.clients.eventLoopDelay.p99));
  const samples = median(camplex.map((run) => run.clients.latency?.count ?? 0));
  const figures = [
    compare(
      `p50 latency, splitter -> client, ${clients} clients`,
      'ms',
      latency(camplex, 'p50'),
      latency(bare, 'p50'),
    ),
    {
      ...compare(`p99 latency, splitter -> client, ${clients} clients`, 'ms', p99, bareP99),
      target: `<= ${LATENCY_TARGET_MS} ms`,
      met: p99 <= LATENCY_TARGET_MS,
    },
    compare(`max latency (worst run), ${clients} clients`, 'ms', worst(camplex), worst(bare)),
    {
      name: "hub's share of p99 (camplex p99 - bare p99)",
      value: p99 - bareP99,
      unit: 'ms',
    },
    {
      ...compare(
        `p99 latency, ${clients} clients asking for batches of ${BATCH_MS} ms`,
        'ms',
        latency(batched, 'p99'),
        bareP99,
      ),
      target: `<= ${LATENCY_TARGET_MS + BATCH_MS} ms`,
      met: latency(batched, 'p99') <= LATENCY_TARGET_MS + BATCH_MS,
    },
    compare(
      `p50 latency, ${clients} clients asking for batches of ${BATCH_MS} ms`,
      'ms',
      latency(batched, 'p50'),
      latency(bare, 'p50'),
    ),
  ];
  return {
    id: 'B2',
    title: 'Latency: frame out of the splitter -> message received by a client',
    figures,
    notes: [
      `${CAMERAS} cameras x ${FPS} fps to ${clients} extended-layout clients; medians of ` +
        `${repeats} alternating run(s) per mode, ${options.seconds} s each (~${samples} ` +
        'samples per camplex run); max is the worst run.',
      'Each sample spans: the hub and session (camplex only), ws framing, the loopback TCP ' +
        'write, and the wait in the client process until its event loop reads that socket ' +
        `(client event-loop delay p99 ${loopDelay.toFixed(2)} ms, all viewers in one process). ` +
        'The bare server stamps its frames at the same point, so the difference is the hub.',
      'Both processes read performance.timeOrigin + performance.now(), i.e. the same system ' +
        'clock; no clock offset between them is corrected for.',
      otherLoadNote([...bare, ...camplex, ...batched]),
    ],
  };
}
