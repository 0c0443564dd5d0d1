/**
 * The three browser engines the e2e tier runs in, behind one small page API, so a test is
 * written once and runs in each: Chromium (Debian's `chromium`, through playwright-core),
 * Firefox (Debian's `firefox-esr`, over WebDriver BiDi through puppeteer-core: playwright's
 * Firefox needs a patched build) and WebKit (Debian's WebKitGTK MiniBrowser, driven by
 * `WebKitWebDriver` under an Xvfb of its own, through selenium-webdriver). Never downloads a
 * browser: a missing one fails with the package to install.
 *
 * Each `openPage` is a fresh browser with a fresh profile and one page (a cold browser, as a
 * new user opens camplex); closing the page closes the browser. Firefox and WebKit get a
 * PulseAudio null sink: headless Firefox never starts an AudioContext without a sound server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page as PlaywrightPage } from 'playwright-core';
import type { Page as PuppeteerPage } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import { Builder, By, Key, type WebDriver } from 'selenium-webdriver';
import { launchChromium } from './browser.js';
import { startLoopbackProxy } from './loopback-proxy.js';
import { freePort, isListening, waitFor } from './processes.js';
import { requireTool } from './rtsp.js';

export type EngineName = 'chromium' | 'firefox' | 'webkit';

/** Every engine, or those named in CAMPLEX_ENGINES (`firefox,webkit`) for a quicker run. */
export const ENGINES: readonly EngineName[] = (() => {
  const all: EngineName[] = ['chromium', 'firefox', 'webkit'];
  const wanted = process.env.CAMPLEX_ENGINES?.split(',').filter(Boolean);
  if (!wanted) return all;
  for (const name of wanted) {
    if (!all.includes(name as EngineName))
      throw new Error(`CAMPLEX_ENGINES: unknown engine ${name}`);
  }
  return wanted as EngineName[];
})();

const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
/** WebKitGTK's MiniBrowser, in the multiarch folder of this machine's architecture. */
const MINIBROWSER = (() => {
  const lib = '/usr/lib';
  const found = existsSync(lib)
    ? readdirSync(lib)
        .map((dir) => join(lib, dir, 'webkit2gtk-4.1', 'MiniBrowser'))
        .find((path) => existsSync(path))
    : undefined;
  return found ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
})();
const XVFB = '/usr/bin/Xvfb';
const PULSEAUDIO = '/usr/bin/pulseaudio';
const START_TIMEOUT_MS = 15_000;

export interface EngineOptions {
  /**
   * Made-up host names that reach 127.0.0.1 over plain http: a page that is not a secure
   * context, as a LAN address is (Chromium: a resolver rule; Firefox: `network.dns.localDomains`;
   * WebKit: a loopback forward proxy, loopback-proxy.ts).
   */
  loopbackNames?: readonly string[];
  colorScheme?: 'light' | 'dark';
  /** The page's inner size (default 1280x720). */
  viewport?: { width: number; height: number };
}

export type PageKey = 'Enter' | 'Escape' | 'ArrowLeft' | 'ArrowRight' | 'f';

export interface EnginePage {
  readonly engine: EngineName;
  goto(url: string): Promise<void>;
  /** The value of `expression` (JavaScript; a promise is awaited) in the page, as JSON. */
  evaluate<T>(expression: string): Promise<T>;
  /** Waits until `expression` is truthy in the page (polled every 100 ms). */
  waitFor(expression: string, options: { timeoutMs: number; what: string }): Promise<void>;
  click(selector: string): Promise<void>;
  /** A key press to whatever has the focus. */
  press(key: PageKey): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** Closes the page and its browser. */
  close(): Promise<void>;
}

/** A fresh browser of `engine` with one page. */
export function openPage(engine: EngineName, options: EngineOptions = {}): Promise<EnginePage> {
  const viewport = options.viewport ?? { width: 1280, height: 720 };
  if (engine === 'chromium') return openChromium(options, viewport);
  if (engine === 'firefox') return openFirefox(options, viewport);
  return openWebKit(options, viewport);
}

/** waitFor over evaluate, the same in every engine. */
function polling(evaluate: <T>(expression: string) => Promise<T>) {
  return async (expression: string, { timeoutMs, what }: { timeoutMs: number; what: string }) => {
    await waitFor(() => evaluate<unknown>(expression), { timeoutMs, intervalMs: 100, what });
  };
}

async function openChromium(
  options: EngineOptions,
  viewport: { width: number; height: number },
): Promise<EnginePage> {
  const names = options.loopbackNames ?? [];
  const browser = await launchChromium([
    // Headless Chromium starts sound without a gesture otherwise: Unmute's click must.
    '--autoplay-policy=document-user-activation-required',
    ...(names.length > 0
      ? [`--host-resolver-rules=${names.map((name) => `MAP ${name} 127.0.0.1`).join(', ')}`]
      : []),
  ]);
  let page: PlaywrightPage;
  try {
    page = await browser.context.newPage();
    await page.setViewportSize(viewport);
    if (options.colorScheme) await page.emulateMedia({ colorScheme: options.colorScheme });
  } catch (error) {
    await browser.close();
    throw error;
  }
  const evaluate = <T>(expression: string) => page.evaluate(expression) as Promise<T>;
  return {
    engine: 'chromium',
    goto: async (url) => {
      await page.goto(url);
    },
    evaluate,
    waitFor: polling(evaluate),
    click: (selector) => page.click(selector),
    press: (key) => page.keyboard.press(key),
    screenshot: async (path) => {
      await page.screenshot({ path });
    },
    close: () => browser.close(),
  };
}

/** A PulseAudio with a null sink for this test process, started once, stopped at exit. */
let pulse: Promise<string> | undefined;
function pulseServer(): Promise<string> {
  pulse ??= (async () => {
    requireTool(PULSEAUDIO, 'apt-get install -y pulseaudio');
    const dir = await mkdtemp(join(tmpdir(), 'camplex-pulse-'));
    const socket = join(dir, 'native');
    const child = spawn(
      PULSEAUDIO,
      [
        '--daemonize=no',
        '--exit-idle-time=-1',
        '--disallow-exit',
        '--use-pid-file=no',
        '-n',
        '--load=module-null-sink sink_name=camplex',
        `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
      ],
      { stdio: 'ignore', env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir } },
    );
    stopAtExit(child);
    // It lives as long as the test process, and must not keep that process from ending.
    child.unref();
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`pulseaudio exited (${child.exitCode})`);
        return existsSync(socket);
      },
      { timeoutMs: START_TIMEOUT_MS, what: 'pulseaudio to listen' },
    );
    return `unix:${socket}`;
  })();
  return pulse;
}

// Processes a test forgot to stop must not outlive the test process.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
function stopAtExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function openFirefox(
  options: EngineOptions,
  viewport: { width: number; height: number },
): Promise<EnginePage> {
  requireTool(FIREFOX, 'apt-get install -y firefox-esr');
  const names = options.loopbackNames ?? [];
  const profile = await mkdtemp(join(tmpdir(), 'camplex-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    protocol: 'webDriverBiDi',
    headless: true,
    userDataDir: profile,
    env: { ...process.env, PULSE_SERVER: await pulseServer() },
    extraPrefsFirefox: {
      ...(names.length > 0 ? { 'network.dns.localDomains': names.join(',') } : {}),
      // 0 dark, 1 light: what prefers-color-scheme answers in pages.
      ...(options.colorScheme
        ? {
            'layout.css.prefers-color-scheme.content-override':
              options.colorScheme === 'dark' ? 0 : 1,
          }
        : {}),
      // 1: audible media waits for a user's gesture, as in a user's Firefox (muted video plays).
      'media.autoplay.default': 1,
    },
  });
  const close = async () => {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  let page: PuppeteerPage;
  try {
    page = (await browser.pages())[0] ?? (await browser.newPage());
    await page.setViewport(viewport);
  } catch (error) {
    await close();
    throw error;
  }
  const evaluate = <T>(expression: string) => page.evaluate(expression) as Promise<T>;
  return {
    engine: 'firefox',
    goto: async (url) => {
      await page.goto(url);
    },
    evaluate,
    waitFor: polling(evaluate),
    click: (selector) => page.click(selector),
    press: (key) => page.keyboard.press(key),
    screenshot: async (path) => {
      await page.screenshot({ path });
    },
    close,
  };
}

/** An Xvfb of its own (another may hold display :0): its display number, and the process. */
async function startXvfb(): Promise<{ display: string; child: ChildProcess }> {
  requireTool(XVFB, 'apt-get install -y xvfb');
  const child = spawn(
    XVFB,
    ['-displayfd', '3', '-screen', '0', '1920x1080x24', '-nolisten', 'tcp'],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    },
  );
  stopAtExit(child);
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error('Xvfb gave no display number')),
      START_TIMEOUT_MS,
    );
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      resolve(text.trim());
    });
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  return { display: `:${display}`, child };
}

const WEBDRIVER_KEYS: Record<PageKey, string> = {
  Enter: Key.ENTER,
  Escape: Key.ESCAPE,
  ArrowLeft: Key.ARROW_LEFT,
  ArrowRight: Key.ARROW_RIGHT,
  f: 'f',
};

async function openWebKit(
  options: EngineOptions,
  viewport: { width: number; height: number },
): Promise<EnginePage> {
  requireTool(WEBKIT_DRIVER, 'apt-get install -y webkit2gtk-driver');
  requireTool(MINIBROWSER, 'apt-get install -y webkit2gtk-driver');
  const names = options.loopbackNames ?? [];
  const proxy = names.length > 0 ? await startLoopbackProxy(names) : undefined;
  const xvfb = await startXvfb();
  const port = await freePort();
  const driverProcess = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    stdio: 'ignore',
    env: {
      ...process.env,
      DISPLAY: xvfb.display,
      PULSE_SERVER: await pulseServer(),
      // WebKitGTK answers prefers-color-scheme from the GTK theme.
      ...(options.colorScheme === 'dark' ? { GTK_THEME: 'Adwaita:dark' } : {}),
    },
  });
  stopAtExit(driverProcess);
  let driver: WebDriver | undefined;
  const close = async () => {
    await driver?.quit().catch(() => {});
    await stop(driverProcess);
    await stop(xvfb.child);
    await proxy?.close();
  };
  try {
    await waitFor(() => isListening(port), {
      timeoutMs: START_TIMEOUT_MS,
      what: 'WebKitWebDriver',
    });
    driver = await new Builder()
      .usingServer(`http://127.0.0.1:${port}`)
      .withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': {
          binary: MINIBROWSER,
          args: ['--automation', ...(proxy ? [`--proxy=${proxy.url}`] : [])],
        },
      })
      .build();
    // The window's outer size: grown by whatever the page does not get of it.
    await driver
      .manage()
      .window()
      .setRect({ x: 0, y: 0, ...viewport });
    const inner = await driver.executeScript<{ width: number; height: number }>(
      'return { width: innerWidth, height: innerHeight }',
    );
    await driver
      .manage()
      .window()
      .setRect({
        width: 2 * viewport.width - inner.width,
        height: 2 * viewport.height - inner.height,
      });
  } catch (error) {
    await close();
    throw error;
  }
  const webdriver = driver;
  const evaluate = <T>(expression: string) =>
    webdriver.executeScript<T>(`return (async () => (${expression}))()`);
  return {
    engine: 'webkit',
    goto: (url) => webdriver.get(url),
    evaluate,
    waitFor: polling(evaluate),
    click: async (selector) => {
      await webdriver.findElement(By.css(selector)).click();
    },
    press: (key) => webdriver.actions().sendKeys(WEBDRIVER_KEYS[key]).perform(),
    screenshot: async (path) => {
      await writeFile(path, Buffer.from(await webdriver.takeScreenshot(), 'base64'));
    },
    close,
  };
}
