/**
 * B8 wall: 32 cameras at 15 fps (JPEG) in one Chromium tab at 1280x720, a wall of two pages of
 * 16, for 5 minutes (1 with --quick). camplex runs as bench/lib/server.ts does it: the real server
 * with each camera's source replaced by its recorded mpjpeg bytes, so 32 ffmpeg processes do not
 * swamp the machine. The page turns (PageDown, PageUp) at fixed intervals, so both screens are
 * watched. Measured: pictures drawn per second per visible tile over the steady part of each
 * page (data-frames of the tiles shown), main-thread long tasks per minute (a PerformanceObserver
 * installed before the dashboard's script) and the live JS heap (CDP Runtime.getHeapUsage after
 * HeapProfiler.collectGarbage, read at the end of every interval): the first reading (30 s; 10 s
 * with --quick) against the last (300 s; 60 s).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { type LaunchedChromium, launchChromium } from '../support/browser.js';
import { loadAverage } from './lib/dashboard.js';
import { LineChild } from './lib/line-child.js';
import type { ServerStats } from './lib/server.js';
import { round, sum } from './lib/stats.js';
import type { BenchFigure, BenchOptions, BenchResult } from './lib/types.js';

const CAMERAS = 32;
const FPS = 15;
const PER_PAGE = 16;
const PAGES = 2;
const VIEWPORT = { width: 1280, height: 720 };
/** The full run: 10 intervals of 30 s (heap after the first one and at the end). */
const FULL = { intervalSeconds: 30, intervals: 10 };
/** --quick: 6 intervals of 10 s. */
const QUICK = { intervalSeconds: 10, intervals: 6 };
/** After a turn has drawn every new tile, this long before its window opens. */
const SETTLE_MS = 1000;
const DRAWN_SHARE_TARGET = 0.9;
const HEAP_FLAT_RATIO = 1.1;
/** Full collections before a heap reading, and the pause between them. */
const GC_ROUNDS = 2;
const GC_SETTLE_MS = 100;
const SERVER = fileURLToPath(new URL('./lib/server.ts', import.meta.url));
const START_DEADLINE_MS = 60_000;
const PAGE_READY_TIMEOUT_MS = 30_000;
const FIRST_DRAW_TIMEOUT_MS = 30_000;
const TURN_DRAW_TIMEOUT_MS = 15_000;
/** Entries the page keeps at most (long tasks); later ones are counted, not kept. */
const MAX_PAGE_ENTRIES = 100_000;
const MB = 1e6;

/** What the init script keeps in the page, as `globalThis.__b8`. */
interface PageProbe {
  /** [startTime, duration] of every long task (ms, performance.now()). */
  longTasks: Array<[number, number]>;
  overflow: number;
  /** Per camera: when its last picture was shown, and the longest gap since the last reset. */
  last: Record<string, number>;
  maxGap: Record<string, number>;
}

/** The tiles, read in one go in the page. */
interface Snapshot {
  at: number;
  page: string;
  /** Pictures shown so far by each tile shown (not `hidden`). */
  frames: Record<string, number>;
  /** The same for every tile, hidden or not. */
  all: Record<string, number>;
}

/** One steady stretch of one page. */
interface Window {
  page: string;
  seconds: number;
  /** Pictures drawn per visible tile over the window. */
  drawn: Record<string, number>;
  /** Longest gap between two pictures of each visible tile (ms). */
  maxGap: Record<string, number>;
  /** Frames camplex sent (every camera) and dropped over the window. */
  sent: number;
  dropped: number;
}

interface Turn {
  to: string;
  /** ms from the key press until every tile of the new page drew (NaN: not all did). */
  drawnMs: number;
  /** Page-time span of the turn (key press to its window opening): long tasks in it. */
  from: number;
  until: number;
}

interface HeapReading {
  /** Seconds since every tile of page 1 drew. */
  second: number;
  usedSize: number;
  /** Blink's own garbage-collected heap (DOM and other C++ objects), for context. */
  embedderSize: number;
  /** Page-time span of the collections, so their own long task is not counted. */
  gcFrom: number;
  gcUntil: number;
}

/** Runs B8: a 32-camera, two-page JPEG wall in Chromium for 5 minutes (1 with --quick). */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const plan = options.quick ? QUICK : FULL;
  const loadBefore = loadAverage();
  let server: LineChild | undefined;
  let chromium: LaunchedChromium | undefined;
  try {
    server = new LineChild('bench server', SERVER, ['camplex', String(CAMERAS), String(FPS)]);
    const port = await server.waitFor<number>('port', START_DEADLINE_MS);
    chromium = await launchChromium();
    // tsx compiles the functions handed to page.evaluate with esbuild's keepNames, which wraps
    // named inner functions in a `__name(...)` helper that only exists in Node.
    await chromium.context.addInitScript('globalThis.__name = (target) => target;');
    await chromium.context.addInitScript(installProbe, MAX_PAGE_ENTRIES);
    const page = await chromium.context.newPage();
    await page.setViewportSize(VIEWPORT);
    const cdp = await chromium.context.newCDPSession(page);
    const measured = await watchWall(page, cdp, server, `http://127.0.0.1:${port}/`, plan);
    return report(measured, plan, loadBefore);
  } finally {
    await chromium?.close();
    await server?.stop();
  }
}

/** Installed before the dashboard's script: long tasks, and gaps between each tile's pictures. */
function installProbe(maxEntries: number): void {
  const probe: PageProbe = { longTasks: [], overflow: 0, last: {}, maxGap: {} };
  (globalThis as unknown as { __b8: PageProbe }).__b8 = probe;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (probe.longTasks.length < maxEntries) {
        probe.longTasks.push([entry.startTime, entry.duration]);
      } else probe.overflow++;
    }
  }).observe({ type: 'longtask', buffered: true });
  document.addEventListener(
    'camplex-picture',
    (event) => {
      const id = (event.target as HTMLElement).dataset.camera;
      if (id === undefined) return;
      const now = performance.now();
      const previous = probe.last[id];
      if (previous !== undefined) {
        probe.maxGap[id] = Math.max(probe.maxGap[id] ?? 0, now - previous);
      }
      probe.last[id] = now;
    },
    true,
  );
}

interface Measured {
  firstDrawMs: number;
  windows: Window[];
  turns: Turn[];
  /** The live heap at the end of every interval. */
  heap: HeapReading[];
  longTasks: Array<[number, number]>;
  longTaskOverflow: number;
  /** Page time when every tile of page 1 drew, and when the run ended. */
  runFrom: number;
  runUntil: number;
  decoders: string[];
}

async function watchWall(
  page: Page,
  cdp: CDPSession,
  server: LineChild,
  url: string,
  plan: { intervalSeconds: number; intervals: number },
): Promise<Measured> {
  await page.goto(url);
  await page.waitForFunction(
    (count) =>
      document.querySelectorAll('[data-camera]').length === count &&
      document.querySelector<HTMLElement>('#status')?.dataset.connection === 'up' &&
      document.querySelector('#pager .page')?.textContent === '1 / 2',
    CAMERAS,
    { timeout: PAGE_READY_TIMEOUT_MS },
  );
  const clickedAt = await pageNow(page);
  await page.click('#stream-all');
  const runFrom = await waitForVisibleDrawn(page, {}, FIRST_DRAW_TIMEOUT_MS);
  if (runFrom === undefined) throw new Error(`page 1 not drawn in ${FIRST_DRAW_TIMEOUT_MS} ms`);
  const startedAt = performance.now();
  const intervalMs = plan.intervalSeconds * 1000;

  const windows: Window[] = [];
  const turns: Turn[] = [];
  const heap: HeapReading[] = [];
  for (let interval = 0; interval < plan.intervals; interval++) {
    const endsAt = startedAt + (interval + 1) * intervalMs;
    if (interval > 0) {
      // PageDown to page 2, PageUp back to page 1, and so on.
      const before = await snapshot(page);
      const from = await pageNow(page);
      await page.keyboard.press(interval % 2 === 1 ? 'PageDown' : 'PageUp');
      const to = String((interval % PAGES) + 1);
      const timeout = Math.min(TURN_DRAW_TIMEOUT_MS, endsAt - performance.now() - SETTLE_MS);
      const drawnAt = await waitForVisibleDrawn(page, before.all, timeout);
      await delay(SETTLE_MS);
      turns.push({
        to,
        drawnMs: drawnAt === undefined ? Number.NaN : drawnAt - from,
        from,
        until: await pageNow(page),
      });
    } else {
      await delay(SETTLE_MS);
    }
    const start = await snapshot(page);
    await page.evaluate(() => {
      (globalThis as unknown as { __b8: PageProbe }).__b8.maxGap = {};
    });
    const statsStart = await server.ask<ServerStats>({ cmd: 'stats' }, 'stats');
    await delay(Math.max(0, endsAt - performance.now()));
    const end = await snapshot(page);
    const statsEnd = await server.ask<ServerStats>({ cmd: 'stats' }, 'stats');
    const gaps = await page.evaluate(
      () => (globalThis as unknown as { __b8: PageProbe }).__b8.maxGap,
    );
    windows.push(windowOf(start, end, gaps, statsStart, statsEnd, interval));
    // After the window and before the next turn, so it weighs on neither.
    heap.push(await liveHeap(page, cdp, (performance.now() - startedAt) / 1000));
  }
  const runUntil = await pageNow(page);
  const probe = await page.evaluate(() => {
    const { longTasks, overflow } = (globalThis as unknown as { __b8: PageProbe }).__b8;
    const decoders = [...document.querySelectorAll<HTMLElement>('[data-camera]')].map(
      (tile) => tile.dataset.decoder ?? 'none',
    );
    return { longTasks, overflow, decoders: [...new Set(decoders)] };
  });
  return {
    firstDrawMs: runFrom - clickedAt,
    windows,
    turns,
    heap,
    longTasks: probe.longTasks,
    longTaskOverflow: probe.overflow,
    runFrom,
    runUntil,
    decoders: probe.decoders,
  };
}

function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** Every tile's picture count, and which are shown now (not `hidden`), with the page's clock. */
function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => {
    const frames: Record<string, number> = {};
    const all: Record<string, number> = {};
    for (const tile of document.querySelectorAll<HTMLElement>('[data-camera]')) {
      const id = tile.dataset.camera;
      if (id === undefined) continue;
      all[id] = Number(tile.dataset.frames);
      if (!tile.hidden) frames[id] = all[id];
    }
    const pager = document.querySelector<HTMLElement>('#pager');
    return { at: performance.now(), page: pager?.dataset.page ?? '?', frames, all };
  });
}

/**
 * Page time when every tile shown has drawn a picture more than `before` says it had (absent:
 * 0), or undefined when that did not happen within `timeoutMs`.
 */
async function waitForVisibleDrawn(
  page: Page,
  before: Record<string, number>,
  timeoutMs: number,
): Promise<number | undefined> {
  return page.evaluate(
    ({ before, timeoutMs, perPage }) =>
      new Promise<number | undefined>((resolve) => {
        const began = performance.now();
        const check = () => {
          const shown = [...document.querySelectorAll<HTMLElement>('[data-camera]')].filter(
            (tile) => !tile.hidden,
          );
          const drawn = shown.every(
            (tile) => Number(tile.dataset.frames) > (before[tile.dataset.camera ?? ''] ?? 0),
          );
          if (shown.length === perPage && drawn) resolve(performance.now());
          else if (performance.now() - began > timeoutMs) resolve(undefined);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }),
    { before, timeoutMs: Math.max(0, timeoutMs), perPage: PER_PAGE },
  );
}

function windowOf(
  start: Snapshot,
  end: Snapshot,
  gaps: Record<string, number>,
  statsStart: ServerStats,
  statsEnd: ServerStats,
  interval: number,
): Window {
  const ids = Object.keys(start.frames);
  const expected = String((interval % PAGES) + 1);
  if (start.page !== expected || end.page !== start.page || ids.length !== PER_PAGE) {
    throw new Error(
      `interval ${interval + 1}: expected page ${expected} with ${PER_PAGE} tiles, saw page ` +
        `${start.page} -> ${end.page} with ${ids.length} tiles`,
    );
  }
  const drawn: Record<string, number> = {};
  const maxGap: Record<string, number> = {};
  for (const id of ids) {
    const last = end.frames[id];
    if (last === undefined) throw new Error(`interval ${interval + 1}: ${id} was hidden`);
    drawn[id] = last - (start.frames[id] ?? 0);
    maxGap[id] = gaps[id] ?? Number.POSITIVE_INFINITY;
  }
  return {
    page: start.page,
    seconds: (end.at - start.at) / 1000,
    drawn,
    maxGap,
    sent: (statsEnd.counters?.sent ?? 0) - (statsStart.counters?.sent ?? 0),
    dropped: (statsEnd.counters?.dropped ?? 0) - (statsStart.counters?.dropped ?? 0),
  };
}

/** The live JS heap: full collections first (CDP), then V8's used size. */
async function liveHeap(page: Page, cdp: CDPSession, second: number): Promise<HeapReading> {
  const gcFrom = await pageNow(page);
  for (let pass = 0; pass < GC_ROUNDS; pass++) {
    await cdp.send('HeapProfiler.collectGarbage');
    await delay(GC_SETTLE_MS);
  }
  const usage = await cdp.send('Runtime.getHeapUsage');
  return {
    second,
    usedSize: usage.usedSize,
    embedderSize: usage.embedderHeapUsedSize,
    gcFrom,
    gcUntil: await pageNow(page),
  };
}

function report(
  measured: Measured,
  plan: { intervalSeconds: number; intervals: number },
  loadBefore: string,
): BenchResult {
  const { windows, turns, heap } = measured;
  const tileSeconds = sum(windows.map((w) => w.seconds * Object.keys(w.drawn).length));
  const drawnTotal = sum(windows.map((w) => sum(Object.values(w.drawn))));
  const perTile = drawnTotal / tileSeconds;
  const sentPerTile = sum(windows.map((w) => w.sent)) / tileSeconds;
  const dropped = sum(windows.map((w) => w.dropped));
  const tileRates = windows.flatMap((w) => Object.values(w.drawn).map((n) => n / w.seconds));
  const worstGap = Math.max(...windows.flatMap((w) => Object.values(w.maxGap)));
  const pageRate = (page: string) => {
    const mine = windows.filter((w) => w.page === page);
    const frames = sum(mine.map((w) => sum(Object.values(w.drawn))));
    return frames / sum(mine.map((w) => w.seconds * Object.keys(w.drawn).length));
  };

  // Long tasks of the run (from page 1 drawn to the end), but not the heap readings' own GCs.
  const inGc = ([start, duration]: [number, number]) =>
    heap.some((h) => start < h.gcUntil && start + duration > h.gcFrom);
  const inRun = measured.longTasks.filter(([start]) => start >= measured.runFrom);
  const gcTasks = inRun.filter(inGc);
  const counted = inRun.filter((task) => !inGc(task));
  const inTurn = counted.filter(([start]) => turns.some((t) => start >= t.from && start < t.until));
  const before = measured.longTasks.filter(([start]) => start < measured.runFrom);
  const runMinutes = (measured.runUntil - measured.runFrom) / 60_000;
  const longPerMinute = counted.length / runMinutes;
  const durations = (tasks: Array<[number, number]>) =>
    tasks.length === 0
      ? 'none'
      : `${tasks.map(([, duration]) => Math.round(duration)).join(', ')} ms`;

  // Both screens were watched: each page showed its own 16 cameras, all 32 between them.
  const shownOn = (page: string) =>
    new Set(windows.filter((w) => w.page === page).flatMap((w) => Object.keys(w.drawn)));
  const [one, two] = [shownOn('1'), shownOn('2')];
  if ([...one].some((id) => two.has(id)) || one.size + two.size !== CAMERAS) {
    throw new Error(`pages showed ${[...one].join(',')} and ${[...two].join(',')}`);
  }

  const first = heap[0];
  const last = heap[heap.length - 1];
  const warm = heap[1];
  if (!first || !last || !warm) throw new Error('missing heap readings');
  const heapRatio = last.usedSize / first.usedSize;
  const turnDrawn = turns.map((t) => (Number.isNaN(t.drawnMs) ? 'not all' : Math.round(t.drawnMs)));
  const totalSeconds = plan.intervalSeconds * plan.intervals;
  const fpsTarget = DRAWN_SHARE_TARGET * FPS;

  const figures: BenchFigure[] = [
    {
      name: `pictures drawn per second per visible tile, ${PER_PAGE} of ${CAMERAS} at ${FPS} fps`,
      value: round(perTile, 2),
      unit: 'frames/s',
      target: `>= ${fpsTarget} (${DRAWN_SHARE_TARGET} x ${FPS} fps offered)`,
      met: perTile >= fpsTarget,
    },
    {
      name: 'main-thread long tasks per minute (page turns included)',
      value: round(longPerMinute, 2),
      unit: '/min',
      target: '0',
      met: counted.length === 0,
    },
    {
      name: `live JS heap after ${round(last.second, 0)} s (baseline: after ${round(first.second, 0)} s)`,
      value: round(last.usedSize / MB, 3),
      unit: 'MB',
      baseline: round(first.usedSize / MB, 3),
      ratio: round(heapRatio, 3),
      target: `<= ${HEAP_FLAT_RATIO} x (flat)`,
      met: heapRatio <= HEAP_FLAT_RATIO,
    },
    {
      // The first reading comes before page 2 was ever shown; this one after both were.
      name: `live JS heap after ${round(last.second, 0)} s (baseline: after ${round(warm.second, 0)} s, both pages shown)`,
      value: round(last.usedSize / MB, 3),
      unit: 'MB',
      baseline: round(warm.usedSize / MB, 3),
      ratio: round(last.usedSize / warm.usedSize, 3),
    },
  ];
  return {
    id: 'B8',
    title: `Wall: ${CAMERAS} JPEG cameras at ${FPS} fps, two pages of ${PER_PAGE}, in Chromium`,
    figures,
    notes: [
      `${CAMERAS} cameras at ${FPS} fps offered: bench/lib/server.ts's camplex (the real server, ` +
        'each source fed its recorded mpjpeg bytes instead of running ffmpeg), the dashboard ' +
        `in headless Chromium at ${VIEWPORT.width}x${VIEWPORT.height} (no GPU), "Stream All" ` +
        `clicked; page 1 (${PER_PAGE} tiles) drawn ${Math.round(measured.firstDrawMs)} ms ` +
        `after the click. Run: ${plan.intervals} intervals of ${plan.intervalSeconds} s ` +
        `(${totalSeconds} s${plan === QUICK ? ', --quick' : ''}; --seconds does not apply) ` +
        'from then, the page turned with PageDown/PageUp at the start of every interval ' +
        `after the first (${turns.length} turns; every tile of the new page drew after: ` +
        `${turnDrawn.join(', ')} ms).`,
      `Pictures drawn: data-frames of the ${PER_PAGE} tiles shown, from ${SETTLE_MS} ms ` +
        'after a turn had drawn every new tile to the end of the interval ' +
        `(${round(sum(windows.map((w) => w.seconds)), 0)} s of steady pages in all). Page 1: ` +
        `${round(pageRate('1'), 2)}, page 2: ${round(pageRate('2'), 2)} frames/s per tile; ` +
        `slowest tile in any window ${round(Math.min(...tileRates), 1)}, fastest ` +
        `${round(Math.max(...tileRates), 1)}; longest gap between two pictures of a tile ` +
        `${Math.round(worstGap)} ms. camplex sent ${round(sentPerTile, 2)} frames/s per ` +
        `visible tile over the same windows and dropped ${dropped} (flow control). ` +
        `Decoders seen: ${measured.decoders.join(', ')}.`,
      `Long tasks (PerformanceObserver 'longtask', installed before the dashboard's script): ` +
        `${counted.length} in ${round(runMinutes, 2)} min of the run (${inTurn.length} during ` +
        `page turns), durations: ${durations(counted)}; not counted: ${gcTasks.length} ` +
        `during the heap readings' forced collections, ${before.length} before page 1 had ` +
        `drawn (load and first draw: ${durations(before)})` +
        `${measured.longTaskOverflow > 0 ? `, ${measured.longTaskOverflow} past the buffer` : ''}.`,
      `Heap: CDP Runtime.getHeapUsage usedSize after ${GC_ROUNDS} HeapProfiler.collectGarbage ` +
        '(1 MB = 10^6 bytes), read at the end of every interval (the figure: the first ' +
        'against the last; the first is before page 2 was ever shown): ' +
        `${heap.map((h) => round(h.usedSize / MB, 3)).join(', ')} MB; Blink's heap ` +
        `(embedderHeapUsedSize) at the same times: ` +
        `${heap.map((h) => round(h.embedderSize / MB, 3)).join(', ')} MB.`,
      `2 cores shared by camplex, Chromium and anything else running; load average before: ` +
        `${loadBefore}.`,
    ],
  };
}
