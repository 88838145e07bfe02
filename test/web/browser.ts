// Debian's Chromium driven by playwright-core, at a phone's size (390×844), recording every
// WebSocket frame each page receives so tests can see exactly what reached the browser.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { waitUntil } from '../helpers/wait';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const PHONE = { width: 390, height: 844 };
const artifacts = join(import.meta.dirname, '..', 'artifacts');

export function launch(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, ...extraArgs] });
}

export interface AppPage {
  context: BrowserContext;
  page: Page;
  /** Every WebSocket frame the page received, as bytes. */
  frames: Buffer[];
  /** Console errors and uncaught exceptions in the page. */
  errors: string[];
}

export async function openApp(
  browser: Browser,
  url: string,
  opts: { width?: number; setup?: (context: BrowserContext) => Promise<void> } = {},
): Promise<AppPage> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? PHONE.width, height: PHONE.height },
    deviceScaleFactor: 1,
    acceptDownloads: true,
  });
  await opts.setup?.(context);
  const page = await context.newPage();
  const frames: Buffer[] = [];
  const errors: string[] = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? Buffer.from(f.payload) : f.payload)));
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    // A failed resource's message does not name it; its location does.
    if (m.type() === 'error') errors.push(`console: ${m.text()}${m.location().url ? ` at ${new URL(m.location().url).pathname}` : ''}`);
  });
  await page.goto(url);
  return { context, page, frames, errors };
}

export async function signIn(page: Page, id: string, password: string): Promise<void> {
  await page.getByLabel('Agent ID').fill(id);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the login page, signs in and waits until the app has moved on to `home`. */
export async function openSignedIn(browser: Browser, baseUrl: string, who: { id: string; password: string }, home = '/devices'): Promise<AppPage> {
  const app = await openApp(browser, `${baseUrl}/login`);
  await signIn(app.page, who.id, who.password);
  await app.page.waitForURL(baseUrl + home);
  return app;
}

/** Saves what the phone-sized viewport shows under test/artifacts/ (not committed). */
export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** True when any received frame contains the text (ids, codes, job ids are ASCII on the wire). */
export function framesContain(frames: Buffer[], text: string): boolean {
  const needle = Buffer.from(text);
  return frames.some((f) => f.includes(needle));
}

/** Waits until some element the locator matches has text matching `want`; returns that text. */
export async function waitText(loc: Locator, want: string | RegExp, timeoutMs = 5000): Promise<string> {
  const ok = (t: string) => (typeof want === 'string' ? t.includes(want) : want.test(t));
  let seen: string[] = [];
  const hit = async (): Promise<string | undefined> => {
    seen = await loc.allTextContents();
    return seen.find(ok);
  };
  return waitUntil(hit, timeoutMs, () => `${String(want)}; saw ${JSON.stringify(seen)}`, 50);
}

/** Waits until the first element the locator matches has attribute `name` equal to `value`. */
export async function waitAttr(loc: Locator, name: string, value: string, timeoutMs = 5000): Promise<void> {
  let last: string | null = null;
  const matches = async (): Promise<boolean> => {
    if ((await loc.count()) === 0) return false;
    last = await loc.first().getAttribute(name);
    return last === value;
  };
  await waitUntil(matches, timeoutMs, () => `${name}="${value}" (last: ${String(last)})`, 50);
}
