// Walk-up customers on phones (two Chromium contexts): one scans machine M1, two scan M2. Each
// uploads a design and orders; each sees only its own order, and no WebSocket frame a page
// received carries another customer's order or session. The second customer on M2 sees itself
// waiting behind the first. Screenshots at 390×844: upload, queued, printing, done.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import type { Agent } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { type Machine, noisyImage, orderLabel, orderMachine } from '../helpers/orders';
import { suite } from '../helpers/suite';
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

interface Customer { app: AppPage; order: string; session: string }

async function orderOn(base: string, label: string, file: string, screenshots: boolean): Promise<Customer> {
  const app = await openApp(browser!, base + label);
  const { page } = app;
  await page.getByTestId('machine-status').waitFor();
  await page.getByTestId('design-file').setInputFiles(file);
  await page.getByTestId('preview').waitFor();
  await page.waitForFunction(() => {
    const img = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }).document.querySelector('[data-testid=preview]');
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  if (screenshots) await shot(page, 'order-upload');
  await page.getByTestId('submit').click();
  const card = page.getByTestId('order');
  await card.waitFor({ timeout: 20_000 });
  const order = (await card.first().getAttribute('data-order'))!;
  const session = JSON.parse((await page.evaluate((k) => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(k), `fb-order:${label}`))!).session as string;
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
  const files = await Promise.all([0, 1, 2].map(async (i) => {
    const path = join(dir, `design-${i}.png`);
    writeFileSync(path, await noisyImage(300 + i * 10, 600));
    return path;
  }));

  const alone = await orderOn(base, orderLabel(tb, m1.code), files[0]!, true);
  const first = await orderOn(base, orderLabel(tb, m2.code), files[1]!, false);
  const second = await orderOn(base, orderLabel(tb, m2.code), files[2]!, false);
  const all = [alone, first, second];

  await waitAttr(second.app.page.getByTestId('order'), 'data-position', '1', 20_000);
  await waitText(second.app.page.getByTestId('order'), /number 1/, 20_000);
  await shot(second.app.page, 'order-queued');
  for (const c of all) assert.is(await c.app.page.getByTestId('order').count(), 1, 'each page shows only its own order');

  // M2 prints the first customer's order; the page follows it live.
  await m2.device.ack({ job: first.order, state: 'progress', progress: 40 });
  await waitText(first.app.page.getByTestId('order'), /Printing… 40/, 20_000);
  await shot(first.app.page, 'order-printing');
  await m2.device.ack({ job: first.order, state: 'done' });
  await waitAttr(first.app.page.getByTestId('order'), 'data-state', 'done', 20_000);
  await shot(first.app.page, 'order-done');
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
