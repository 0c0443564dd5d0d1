import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { chromium } from 'playwright-core';
import { requireTool } from './rtsp.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedChromium {
  context: BrowserContext;
  /** Closes the browser and removes its user-data-dir. */
  close(): Promise<void>;
}

/**
 * Launches Debian's headless Chromium with a fresh user-data-dir; never downloads a browser.
 * `extraArgs` are added to its command line.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<LaunchedChromium> {
  requireTool(CHROMIUM, 'apt-get install -y chromium');
  const userDataDir = await mkdtemp(join(tmpdir(), 'camplex-chromium-'));
  let context: BrowserContext;
  try {
    // launch() rejects --user-data-dir, so a persistent context is how we get a fresh profile.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extraArgs],
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    close: () => {
      closing ??= (async () => {
        try {
          await context.close();
        } finally {
          await rm(userDataDir, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}
