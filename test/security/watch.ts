/**
 * A camplex under attack and one legitimate viewer of it, for the security suites: after each
 * case, `assertStillServing` checks that the viewer kept getting frames of every camera (and
 * reports the longest gap), that camplex still answers /healthz and has not exited, and that it
 * logged no error.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';
import { type Client, connectClient, httpRequest } from './clients.js';

export type LogEntry = Record<string, unknown>;
export type LogMatch = Record<string, string | number | RegExp>;

export interface Watched {
  readonly camplex: CamplexProcess;
  readonly port: number;
  readonly viewer: Client;
  readonly cameras: readonly string[];
  /** Headers that authenticate (a bearer token), or none when access is open. */
  readonly auth: Record<string, string>;
  /** Set once camplex exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface WatchOptions {
  /** YAML lines of the config. */
  config: string[];
  cameras: string[];
  auth?: Record<string, string>;
  args?: string[];
  descriptorLimit?: number;
}

/** Starts camplex and a viewer subscribed to `cameras`; resolves once both got frames. */
export async function startWatched(options: WatchOptions): Promise<Watched> {
  const camplex = await startCamplexProcess({
    config: options.config.join('\n'),
    args: options.args ?? [],
    ...(options.descriptorLimit !== undefined ? { descriptorLimit: options.descriptorLimit } : {}),
  });
  const auth = options.auth ?? {};
  const viewer = await connectClient(camplex.wsUrl, { headers: auth });
  const watched: Watched = {
    camplex,
    port: Number(new URL(camplex.url).port),
    viewer,
    cameras: options.cameras,
    auth,
    exit: undefined,
  };
  void camplex.exited.then((exit) => {
    watched.exit = exit;
  });
  const ack = await viewer.reply(JSON.stringify({ cmd: 'subscribe', cameras: options.cameras }));
  assert.equal(ack.type, 'subscribed');
  await waitFor(() => options.cameras.every((camera) => viewer.framesOf(camera) > 0), {
    timeoutMs: 20_000,
    what: 'the first frames of every camera at the legitimate viewer',
  });
  return watched;
}

export async function stopWatched(watched: Watched | undefined): Promise<void> {
  watched?.viewer.ws.close();
  await watched?.camplex.stop();
}

/** The log entries camplex wrote since line `mark`. */
export function entriesSince(camplex: CamplexProcess, mark: number): LogEntry[] {
  return camplex.lines.slice(mark).flatMap((line) => {
    try {
      return [JSON.parse(line) as LogEntry];
    } catch {
      return [];
    }
  });
}

/** True when every key of `match` has the value (or matches the pattern) in `entry`. */
export function matches(entry: LogEntry, match: LogMatch): boolean {
  return Object.entries(match).every(([key, want]) => {
    const value = entry[key];
    if (want instanceof RegExp) return value !== undefined && want.test(String(value));
    return value === want;
  });
}

/** Waits for a log line matching `match` written since line `mark`. */
export function waitForEntry(camplex: CamplexProcess, mark: number, match: LogMatch) {
  return waitFor(() => entriesSince(camplex, mark).find((entry) => matches(entry, match)), {
    timeoutMs: 5000,
    what: `a log line matching ${JSON.stringify(match, (_key, value) => (value instanceof RegExp ? String(value) : value))}`,
  });
}

/**
 * The aftermath of a case begun at `since` (Date.now()) and log line `mark`: the viewer got
 * new frames of every camera with no gap over `maxGapMs`, camplex answers and logged no error.
 * Returns the longest gap seen.
 */
export async function assertStillServing(
  watched: Watched,
  since: number,
  mark: number,
  t: TestContext,
  maxGapMs = 2000,
): Promise<number> {
  const { viewer, cameras } = watched;
  const counted = cameras.map((camera) => viewer.framesOf(camera));
  await waitFor(() => cameras.every((camera, i) => viewer.framesOf(camera) > (counted[i] ?? 0)), {
    timeoutMs: 10_000,
    what: 'new frames of every camera at the legitimate viewer',
  });
  const gap = Math.max(...cameras.map((camera) => viewer.longestGap(camera, since)));
  t.diagnostic(`legitimate viewer's longest frame gap: ${gap} ms`);
  assert.ok(gap <= maxGapMs, `the legitimate viewer went ${gap} ms without a frame`);
  assert.equal(viewer.badFrames(), 0, 'the legitimate viewer got a broken frame');
  assert.equal(watched.exit, undefined, 'camplex exited');
  const health = await httpRequest(watched.port, '/healthz');
  assert.equal(health.status, 200, `/healthz answered ${health.status}`);
  const errors = entriesSince(watched.camplex, mark).filter((entry) => Number(entry.level) >= 50);
  assert.deepEqual(errors, [], 'camplex logged an error');
  return gap;
}
