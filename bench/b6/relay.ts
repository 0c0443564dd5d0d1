/** Starts bench/b6/relay-server.cjs (rtsp-relay, the B6 baseline) and stops it with its ffmpegs. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { LaunchedChromium } from '../../support/browser.js';
import { waitFor } from '../../support/processes.js';
import { descendantsRunning } from '../lib/cpu.js';
import { FIRST_FRAMES_TIMEOUT_MS, measureWindow, type Side } from '../lib/dashboard.js';

const SERVER = fileURLToPath(new URL('./relay-server.cjs', import.meta.url));
const FFMPEG = '/usr/bin/ffmpeg';
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RelayProcess {
  pid: number;
  /** http://127.0.0.1:PORT/ : the page with one JSMpeg canvas per camera. */
  url: string;
  /** Pids of the ffmpeg processes rtsp-relay runs now. */
  ffmpegs(): number[];
  /** Waits for rtsp-relay to end its ffmpegs (SIGTERM to any left), then ends the server. */
  stop(): Promise<void>;
}

/** rtsp-relay on 127.0.0.1:0 relaying `urls`, with Debian's ffmpeg. */
export async function startRelay(urls: string[]): Promise<RelayProcess> {
  const child = spawn(process.execPath, [SERVER, ...urls], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, FFMPEG_BIN: FFMPEG },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${SERVER}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4096);
  });
  const ffmpegs = () => descendantsRunning(pid, FFMPEG);

  const stop = async () => {
    // The page is closed first, so rtsp-relay SIGTERMs each ffmpeg as its last socket goes.
    await waitFor(() => ffmpegs().length === 0, {
      timeoutMs: STOP_TIMEOUT_MS,
      what: 'rtsp-relay to stop its ffmpeg processes',
    }).catch(() => {
      for (const ffmpeg of ffmpegs()) process.kill(ffmpeg, 'SIGTERM');
    });
    child.stdin.end();
    const outcome = await Promise.race([exited, delay(STOP_TIMEOUT_MS, 'timeout' as const)]);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    process.off('exit', killOnExit);
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`rtsp-relay did not listen within 15 s\n${stderr}`)),
        READY_TIMEOUT_MS,
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^READY (\d+)$/.exec(line);
        if (!match) return;
        clearTimeout(timer);
        resolve(Number(match[1]));
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`rtsp-relay exited before listening\n${stderr}`));
      });
    });
    return { pid, url: `http://127.0.0.1:${port}/`, ffmpegs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** rtsp-relay's ffmpeg arguments always say `-r 30`. */
const RELAY_FPS = 30;

/** rtsp-relay relaying `urls` into a fresh tab of `chromium`, measured over one window. */
export async function relaySide(
  chromium: LaunchedChromium,
  urls: string[],
  ids: { browserPid: number; cameraPid: number },
  seconds: number,
  warmupMs: number,
): Promise<Side> {
  const relay = await startRelay(urls);
  const page = await chromium.context.newPage();
  try {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.goto(relay.url);
    // performance.now() counts from the navigation: the page opening every stream by itself.
    const firstAll = await page.waitForFunction(
      () => {
        const decoded = (window as unknown as { decoded?: number[] }).decoded;
        return decoded?.every((n) => n > 0) ? performance.now() : 0;
      },
      undefined,
      { timeout: FIRST_FRAMES_TIMEOUT_MS, polling: 'raf' },
    );
    const firstAllMs = Number(await firstAll.jsonValue());
    await delay(warmupMs);
    const readDrawn = () =>
      page.evaluate(() => [...((window as unknown as { decoded: number[] }).decoded ?? [])]);
    const measured = await measureWindow(
      { ...ids, serverPid: relay.pid, page, readDrawn },
      seconds,
    );
    const ffmpegs = relay.ffmpegs().length;
    const renderers = await page.evaluate(() =>
      [...new Set((window as unknown as { renderers: string[] }).renderers)].join('/'),
    );
    return {
      ...measured,
      firstAllMs,
      ffmpegs,
      detail:
        `rtsp-relay: ffmpeg H.264 -> MPEG1 in MPEG-TS at -r ${RELAY_FPS}, one WebSocket ` +
        `per camera, JSMpeg (WASM decoder, ${renderers} renderer) counting onVideoDecode. ` +
        "JSMpeg decodes on the tab's main thread, at most one frame per camera per animation " +
        "frame, so a busy main thread caps every camera at the tab's animation-frame rate",
    };
  } finally {
    await page.close();
    await relay.stop();
  }
}
