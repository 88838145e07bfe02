// Walk-up customers on phones (two Chromium contexts): one scans machine M1, two scan M2. Each
// uploads a design and orders; each sees only its own order, and no WebSocket frame a page
// received carries another customer's order or session. The second customer on M2 sees itself
// waiting behind the first. A customer withdraws its waiting order; a failed order shows the
// machine's reason; a customer who allowed notifications is notified once, when its order is done.
// Screenshots at 390×844: upload, queued, printing, done, failed.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import type { Agent } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { type Machine, noisyImage, orderLabel, orderMachine } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';
import { requireTool } from '../helpers/tools';
import { type AppPage, framesContain, launch, openApp, shot, waitAttr, waitText } from './browser';
import { ensureWebBuilt } from './web-build';

const test = suite('web: walk-up customers');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let agent: Agent | null = null;
const machines: Machine[] = [];

test.after(async () => {
  await browser?.close();
  for (const m of machines) await m.device.close();
  if (agent) await end(agent.client);
  await tb?.stop();
});

interface Customer {
  app: AppPage;
  order: string;
  session: string;
}

/**
 * Lets the page notify (as a customer who allowed it) and records each notification's title in
 * `__notified`, around the browser's own Notification.
 */
async function allowNotifications(context: BrowserContext, origin: string): Promise<void> {
  await context.grantPermissions(['notifications'], { origin });
  await context.addInitScript(() => {
    const g = globalThis as unknown as { Notification: new (title: string, o?: unknown) => unknown; __notified: string[] };
    const Real = g.Notification;
    g.__notified = [];
    g.Notification = class extends (Real as unknown as new (title: string, o?: unknown) => object) {
      constructor(title: string, o?: unknown) {
        super(title, o);
        g.__notified.push(title);
      }
    } as unknown as typeof g.Notification;
  });
}

const notified = (app: AppPage): Promise<string[]> => app.page.evaluate(() => (globalThis as unknown as { __notified: string[] }).__notified);

async function orderOn(base: string, label: string, file: string, screenshots: boolean, setup?: (context: BrowserContext) => Promise<void>): Promise<Customer> {
  const app = await openApp(browser!, base + label, { setup });
  const { page } = app;
  await page.getByTestId('machine-status').waitFor();
  await page.getByTestId('design-file').setInputFiles(file);
  await page.getByTestId('preview').waitFor();
  await page.waitForFunction(() => {
    const img = (
      globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }
    ).document.querySelector('[data-testid=preview]');
    return img?.complete && img.naturalWidth > 0;
  });
  if (screenshots) await shot(page, 'order-upload');
  await page.getByTestId('submit').click();
  const card = page.getByTestId('order');
  await card.waitFor({ timeout: 20_000 });
  const order = (await card.first().getAttribute('data-order'))!;
  const session = JSON.parse(
    (await page.evaluate(
      (k) => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(k),
      `fb-order:${label}`,
    ))!,
  ).session as string;
  return { app, order, session };
}

test('two phones on two machines and one shared: own orders only, position behind, live to done', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start({ jobAckTimeoutMs: 1000 });
  const base = tb.broker.httpUrl;
  agent = await tb.agent(`webop${process.pid}`);
  machines.push(await orderMachine(tb, agent, { mode: 'hold' }), await orderMachine(tb, agent, { mode: 'hold' }));
  const [m1, m2] = machines as [Machine, Machine];
  browser = await launch();
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-designs-'));
  const files = await Promise.all(
    [0, 1, 2].map(async (i) => {
      const path = join(dir, `design-${i}.png`);
      writeFileSync(path, await noisyImage(300 + i * 10, 600));
      return path;
    }),
  );

  const alone = await orderOn(base, orderLabel(tb, m1.code), files[0]!, true);
  const first = await orderOn(base, orderLabel(tb, m2.code), files[1]!, false, (context) => allowNotifications(context, base));
  const second = await orderOn(base, orderLabel(tb, m2.code), files[2]!, false);
  // A fourth customer behind the first on M1, who changes its mind.
  const late = await orderOn(base, orderLabel(tb, m1.code), files[0]!, false);
  const all = [alone, first, second, late];

  await waitAttr(second.app.page.getByTestId('order'), 'data-position', '1', 20_000);
  await waitText(second.app.page.getByTestId('order'), /number 1/, 20_000);
  await shot(second.app.page, 'order-queued');
  for (const c of all) assert.is(await c.app.page.getByTestId('order').count(), 1, 'each page shows only its own order');

  // The late customer withdraws its waiting order from its page.
  await waitAttr(late.app.page.getByTestId('order'), 'data-position', '1', 20_000);
  await late.app.page.getByRole('button', { name: 'Cancel order' }).click();
  await waitAttr(late.app.page.getByTestId('order'), 'data-state', 'cancelled', 20_000);
  await waitText(late.app.page.getByTestId('order'), /Cancelled/);
  // M1 fails the lone customer's order: the page says so, with the machine's reason.
  await waitAttr(alone.app.page.getByTestId('order'), 'data-position', '0', 20_000);
  await m1.device.ack({ job: alone.order, state: 'failed', error: 'paper jam' });
  await waitAttr(alone.app.page.getByTestId('order'), 'data-state', 'failed', 20_000);
  await waitText(alone.app.page.getByTestId('order'), /Failed: .*paper jam/, 20_000);
  await shot(alone.app.page, 'order-failed');

  // The first customer allowed notifications: the page says it will tell, and tells nothing yet.
  await waitText(first.app.page.getByText('You will be told when it is done.'), /told/);
  assert.equal(await notified(first.app), []);
  // M2 prints the first customer's order; the page follows it live.
  await m2.device.ack({ job: first.order, state: 'progress', progress: 40 });
  await waitText(first.app.page.getByTestId('order'), /Printing… 40/, 20_000);
  await shot(first.app.page, 'order-printing');
  await m2.device.ack({ job: first.order, state: 'done' });
  await waitAttr(first.app.page.getByTestId('order'), 'data-state', 'done', 20_000);
  await shot(first.app.page, 'order-done');
  await waitUntil(async () => (await notified(first.app)).length > 0 || undefined, 10_000, 'the done notification');
  assert.equal(await notified(first.app), ['Your phone case is printed.'], 'one notification, when the order is done');
  await waitAttr(second.app.page.getByTestId('order'), 'data-position', '0', 20_000);

  // The language switch changes every word on the page.
  await second.app.page.getByTestId('lang-es').click();
  await waitText(second.app.page.getByTestId('order'), /Imprimiendo/, 10_000);

  for (const me of all) {
    assert.ok(framesContain(me.app.frames, me.order), 'a page receives frames about its own order');
    for (const other of all) {
      if (other === me) continue;
      assert.not.ok(framesContain(me.app.frames, other.order), "a page's WebSocket never carries another customer's order");
      assert.not.ok(framesContain(me.app.frames, other.session), "a page's WebSocket never carries another customer's session");
    }
    assert.equal(me.app.errors, [], 'no page errors');
  }
  // Reopening the page within the session shows the order again.
  await first.app.page.reload();
  await waitAttr(first.app.page.getByTestId('order'), 'data-state', 'done', 20_000);
  assert.is(await first.app.page.getByTestId('order').getAttribute('data-order'), first.order);
});

test.run();
