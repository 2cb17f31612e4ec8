// Debian's Chromium driven by playwright-core (no browser download works on these machines).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: CI keeps `tests/output/`. */
export const OUTPUT_DIR = new URL('../output/', import.meta.url).pathname;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * Signs the context in to the VTGate at `url` as `POST /login` would: the `vitess_token` cookie
 * with the tests' admin token (VITESS_TOKEN, tests/support/auth-setup.ts), so its pages load and
 * their calls to VTGate carry it.
 */
export async function signIn(context: BrowserContext, url: string, token = process.env.VITESS_TOKEN): Promise<void> {
  if (!token) throw new Error('no token: VITESS_TOKEN is set by tests/support/auth-setup.ts');
  await context.addCookies([{ name: 'vitess_token', value: token, url, httpOnly: true, sameSite: 'Strict' }]);
}

/** Saves a full-page screenshot as `tests/output/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
