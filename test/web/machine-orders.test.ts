// The operator's walk-up orders page in Chromium, at desktop and phone size: three customers'
// orders on one machine with their thumbnails, in queue order; Move up puts the third first and
// the page follows the queue live; Cancel on the phone ends one; In maintenance makes the broker
// refuse the next customer with a clear message. Screenshots under test/artifacts/.
import type { Browser } from 'playwright-core';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent } from '../helpers/broker';
import type { Agent } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { type Machine, noisyImage, openCustomer, order, orderLabel, orderMachine, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { type AppPage, launch, openSignedIn, shot, waitAttr } from './browser';
import { ensureWebBuilt } from './web-build';

const test = suite('web: the operator sees and manages walk-up orders');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let agent: Agent | null = null;
let m: Machine | null = null;

test.after(async () => {
  await browser?.close();
  await m?.device.close();
  if (agent) await end(agent.client);
  await tb?.stop();
});

async function placeOrder(base: string, code: string): Promise<string> {
  const c = await openCustomer(base, orderLabel(tb!, code));
  const up = await upload(base, c, await noisyImage(200, 400));
  assert.is(up.status, 201, JSON.stringify(up.body));
  const r = await order(base, c, { design: up.body.design });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body.order as string;
}

async function ordersPage(base: string, who: { id: string; password: string }, width: number): Promise<AppPage> {
  const app = await openSignedIn(browser!, base, who);
  await app.page.setViewportSize({ width, height: width > 600 ? 800 : 844 });
  await app.page.getByRole('link', { name: 'Orders' }).click();
  await app.page.getByTestId('operator-orders').waitFor();
  return app;
}

const row = (app: AppPage, id: string) => app.page.locator(`[data-testid=operator-order][data-order="${id}"]`);

test('orders with thumbnails in queue order; move up, cancel and maintenance, live, at desktop and phone size', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start({ jobAckTimeoutMs: 1000 });
  const base = tb.broker.httpUrl;
  const who = await tb.createAgent(`shop${process.pid}`);
  const token = await tb.login(who.id, who.password);
  agent = { client: await connectAgent(tb.broker.mqttUrl, who.id, token), id: who.id, token };
  m = await orderMachine(tb, agent, { mode: 'hold' });
  const [first, second, third] = [await placeOrder(base, m.code), await placeOrder(base, m.code), await placeOrder(base, m.code)];
  browser = await launch();

  const desk = await ordersPage(base, who, 1280);
  await waitAttr(row(desk, first), 'data-state', 'running', 10_000);
  await waitAttr(row(desk, second), 'data-position', '1');
  await waitAttr(row(desk, third), 'data-position', '2');
  // Shown in the machine's order, each with its design's thumbnail loaded.
  assert.equal(await desk.page.getByTestId('operator-order').evaluateAll((els) => els.map((e) => e.getAttribute('data-order'))), [first, second, third]);
  const thumbs = await desk.page
    .locator('[data-testid=operator-order] img')
    .evaluateAll((els) => els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth));
  assert.ok(thumbs.length === 3 && thumbs.every((w) => w > 0), `thumbnails: ${thumbs.join(',')}`);
  assert.ok(await row(desk, second).getByTestId('move-up').isDisabled(), 'the next order cannot move up');
  assert.ok(await row(desk, third).getByTestId('move-down').isDisabled(), 'the last order cannot move down');

  await row(desk, third).getByTestId('move-up').click();
  await waitAttr(row(desk, third), 'data-position', '1');
  await waitAttr(row(desk, second), 'data-position', '2');
  assert.equal(await desk.page.getByTestId('operator-order').evaluateAll((els) => els.map((e) => e.getAttribute('data-order'))), [first, third, second]);
  const moves = await tb.ctx.db.selectFrom('audit').select(['actor', 'detail']).where('action', '=', 'job.move').execute();
  assert.equal(
    moves.map((a) => [a.actor, JSON.parse(a.detail as string)]),
    [[`agent:${who.id}`, { job: third, from: 2, to: 1 }]],
  );
  await shot(desk.page, 'operator-orders-desktop');

  const phone = await ordersPage(base, who, 390);
  await waitAttr(row(phone, third), 'data-position', '1', 10_000);
  await shot(phone.page, 'operator-orders-phone');
  await row(phone, second).getByTestId('cancel-order').click();
  await waitAttr(row(phone, second), 'data-state', 'cancelled', 10_000);
  // The desktop page follows the change without being touched.
  await waitAttr(row(desk, second), 'data-state', 'cancelled', 10_000);

  // A slow answer (a loaded broker): the box must show the operator's choice while it is saved.
  await phone.page.route('**/order-settings', async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  await phone.page.getByTestId('maintenance').check();
  await phone.page.getByTestId('taking-orders').getByText('Customers are told the machine takes no orders right now.').waitFor();
  await shot(phone.page, 'operator-orders-maintenance');
  const c = await openCustomer(base, orderLabel(tb, m.code));
  assert.is(c.machine.status, 'maintenance');
  const up = await upload(base, c, await noisyImage(100, 100));
  const refused = await order(base, c, { design: up.body.design });
  assert.equal(
    [refused.status, refused.body.error.code, refused.body.error.message],
    [409, 'NOT_TAKING_ORDERS', 'the machine is in maintenance; it takes no orders right now'],
  );
  assert.equal([...desk.errors, ...phone.errors], []);
});

test.run();
