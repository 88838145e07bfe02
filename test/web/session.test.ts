// Sessions in the browser: activity keeps one alive past the idle window (the broker's idle
// clock too), inactivity ends it with a message that says why, and Sign out ends it on the
// broker as well.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { launch, openApp, signIn, waitAttr, waitText } from './browser';
import { ensureWebBuilt } from './web-build';

const test = suite('web: sessions');
const IDLE_MS = 3000;
let tb: TestBroker | null = null;
let browser: Browser | null = null;

test.after(async () => {
  await browser?.close();
  await tb?.stop();
});

const storedToken = (page: Page): Promise<string> => page.evaluate('JSON.parse(localStorage.getItem("fleetbind.session")).token') as Promise<string>;

test('activity keeps the session; inactivity ends it with a clear message', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start({ sessionIdleMs: IDLE_MS });
  browser = await launch();
  const base = tb.broker.httpUrl;
  const agent = await tb.createAgent('idle-1');
  const { page } = await openApp(browser, `${base}/login`);
  await signIn(page, agent.id, agent.password);
  await page.waitForURL(`${base}/devices`);
  const token = await storedToken(page);

  // Twice the idle window of steady use.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    await new Promise((r) => setTimeout(r, IDLE_MS / 6));
  }
  assert.is(new URL(page.url()).pathname, '/devices', 'still signed in while active');
  assert.is((await tb.api('GET', '/api/me', undefined, token)).status, 200, 'the broker kept the session too');
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online');

  await page.waitForURL(`${base}/login`, { timeout: IDLE_MS * 3 });
  await waitText(page.getByTestId('signin-notice'), 'You were signed out after 3 seconds without activity. Please sign in again.');
  assert.is((await tb.api('GET', '/api/me', undefined, token)).status, 401);
});

test('Sign out ends the session on the broker', async () => {
  requireTool('chromium', 'chromium');
  const t = tb!;
  const base = t.broker.httpUrl;
  const agent = await t.createAgent('out-1');
  const { page } = await openApp(browser!, `${base}/login`);
  await signIn(page, agent.id, agent.password);
  await page.waitForURL(`${base}/devices`);
  const token = await storedToken(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/login`);
  await waitText(page.getByTestId('signin-notice'), 'You signed out.');
  assert.is((await t.api('GET', '/api/me', undefined, token)).status, 401);
});

test.run();
