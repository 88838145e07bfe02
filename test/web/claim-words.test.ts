// Claim errors that say what to do, in Chromium with screenshots: a typed code that names no
// machine says so (not "label not valid"), and a label opened while signed out asks to sign in to
// claim that machine, then goes on to the claim.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { launch, openApp, shot, signIn, waitText } from './browser';
import { type Machine, machine } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: claim words');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let m: Machine | null = null;

test.after(async () => {
  await browser?.close();
  await m?.device.close();
  await tb?.stop();
});

test('a typed unknown code says there is no such machine; a signed-out label asks to sign in to claim it, then claims', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  const base = tb.broker.httpUrl;
  const agent = await tb.createAgent('cw-1');
  m = await machine(tb, 'CT0700026');
  browser = await launch();

  const app = await openApp(browser, base + m.labelPath);
  const { page } = app;
  await page.waitForURL(`${base}/login`);
  await waitText(page.getByRole('heading', { level: 1 }), 'Sign in to claim CT0700026');
  await shot(page, 'claim-sign-in-to-claim');
  await signIn(page, agent.id, agent.password);
  await page.waitForURL(base + m.labelPath);
  await page.getByRole('button', { name: 'Claim' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}`);

  await page.goto(`${base}/claim/CT9999999`);
  const error = await waitText(page.getByTestId('claim-error'), 'no machine');
  assert.is(error, 'There is no machine with the code CT9999999. Check the code printed on the machine, or scan its label.');
  await shot(page, 'claim-unknown-code');
  // The one console error expected is the preview's 404 for the unknown code.
  assert.equal(app.errors.filter((e) => !e.includes('404')), []);
});

test.run();
