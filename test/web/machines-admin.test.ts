// A machine's level history as a chart on its page, and the admin's alert list with Acknowledge,
// both live (docs/architecture.md, Machine state), in Chromium at a phone's 390×844 and a
// desktop's 1280×800, with screenshots. No page scrolls sideways.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { deviceTopic } from '../../protocol/topics';
import { TestBroker, connectDevice } from '../helpers/broker';
import { end, publish } from '../helpers/mqtt';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';
import { PHONE, launch, openSignedIn, shot, waitAttr, waitText } from './browser';
import { ensureWebBuilt } from './web-build';

const DESKTOP = { width: 1280, height: 800 };
const test = suite('web: machine history chart and admin alerts');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let device: MqttClient | null = null;

test.after(async () => {
  await browser?.close();
  await end(device ?? undefined);
  await tb?.stop();
});

async function noSideways(page: Page, what: string): Promise<void> {
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.is(overflow, 0, `${what} scrolls sideways`);
}

/** Publishes a state report and waits until the broker stored it. */
async function report(t: TestBroker, dev: string, body: unknown): Promise<void> {
  const before = (await t.ctx.machines.shadows.shadow(dev))?.version ?? 0;
  await publish(device!, deviceTopic(dev, 'state'), body);
  await waitUntil(async () => ((await t.ctx.machines.shadows.shadow(dev))?.version ?? 0) > before, 10_000, 'the report stored');
}

test("the level chart on the agent's machine page grows live; admins list, acknowledge and follow alerts live", async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start({
    machines: {
      lowPercent: 15,
      hysteresisPercent: 5,
      offlineAlertMs: 600_000,
      failureRate: 0.5,
      failureWindow: 10,
      historySampleMs: 0,
      historyRetentionMs: 30 * 86_400_000,
      stateRate: 100,
      stateBurst: 100,
      deviceMetrics: false,
    },
  });
  const base = tb.broker.httpUrl;
  const agent = await tb.createAgent('chart-1');
  const dev = await tb.provision(undefined, 'CT0700501');
  assert.is((await tb.api('POST', `/api/devices/${dev.id}/transfer`, { agent: agent.id, reason: 'test setup' })).status, 200);
  device = (await connectDevice(tb.broker.mqttUrl, dev)).client;
  const levels = [92, 74, 55, 31, 18];
  for (const [i, k] of levels.entries())
    await report(tb, dev.id, {
      machine: { status: 'idle' },
      consumables: { 'ink.k': { level: k }, 'ink.c': { level: 90 - i * 5 }, 'ink.m': { level: 70 - i * 3 }, 'ink.y': { level: 60 - i * 2 } },
      counters: { prints: i * 10 },
    });

  browser = await launch();
  const phone = await openSignedIn(browser, base, agent);
  await phone.page.getByRole('link', { name: 'CT0700501' }).first().click();
  await phone.page.waitForURL(`${base}/devices/${dev.id}`);
  const chart = phone.page.getByTestId('history-chart');
  await waitAttr(chart.locator('[data-field="ink.k"]'), 'data-points', String(levels.length), 15_000);
  assert.is(await chart.locator('polyline').count(), 4, 'one line per ink');
  await waitText(chart.locator('figcaption'), /Black ink: 18%/);
  // Black runs low while the page is open: the chart takes the new sample without a reload.
  await report(tb, dev.id, { consumables: { 'ink.k': { level: 7 } } });
  await waitAttr(chart.locator('[data-field="ink.k"]'), 'data-points', String(levels.length + 1), 15_000);
  await waitText(phone.page.getByTestId('machine-alert'), /Black ink is at 7%/, 15_000);
  await noSideways(phone.page, 'the machine page on a phone');
  const chartPhone = await shot(phone.page, 'machine-chart-phone');
  await phone.page.setViewportSize(DESKTOP);
  await chart.scrollIntoViewIfNeeded();
  const chartDesk = await shot(phone.page, 'machine-chart-desktop');

  const first = tb.broker.firstAdmin!;
  const admin = await openSignedIn(browser, base, { id: first.username, password: first.password }, '/admin');
  await admin.page.getByRole('navigation').getByRole('link', { name: 'Alerts', exact: true }).click();
  await admin.page.setViewportSize(PHONE);
  const rows = admin.page.getByTestId('alert-row');
  await waitAttr(rows.first(), 'data-kind', 'consumable-low', 15_000);
  assert.is(await rows.count(), 1);
  await waitText(rows.first(), /Black ink is at 7%/);
  // The machine jams: the new alert appears without a reload.
  await report(tb, dev.id, { machine: { status: 'error', error: { code: 'JAM', message: 'paper jam in tray 2' } } });
  await admin.page.locator('[data-testid="alert-row"][data-kind="machine-error"]').waitFor({ timeout: 15_000 });
  await waitText(admin.page.locator('[data-kind="machine-error"]'), /JAM: paper jam in tray 2/);
  const low = admin.page.locator('[data-testid="alert-row"][data-kind="consumable-low"]');
  await low.getByRole('button', { name: /Acknowledge low supply/ }).click();
  await waitAttr(low, 'data-acked', 'yes', 15_000);
  await waitText(low.getByTestId('alert-acked'), /Acknowledged by admin:/);
  const stored = await tb.api('GET', `/api/alerts?device=${dev.id}&state=open`);
  assert.ok(stored.body.find((a: any) => a.kind === 'consumable-low').ackedBy.startsWith('admin:'), 'the acknowledgement is stored');
  await noSideways(admin.page, 'the alert list on a phone');
  const alertsPhone = await shot(admin.page, 'admin-alerts-phone');

  // A refill clears the low-ink alert: it leaves the open list live, and stays under "all".
  await report(tb, dev.id, { consumables: { 'ink.k': { level: 100 } } });
  await low.waitFor({ state: 'detached', timeout: 15_000 });
  assert.is(await rows.count(), 1, 'only the jam is open');
  await admin.page.setViewportSize(DESKTOP);
  await admin.page.selectOption('#alerts-state', '');
  await waitAttr(admin.page.locator('[data-testid="alert-row"][data-kind="consumable-low"]'), 'data-state', 'cleared', 15_000);
  await noSideways(admin.page, 'the alert list on a desktop');
  const alertsDesk = await shot(admin.page, 'admin-alerts-desktop');
  assert.equal([...phone.errors, ...admin.errors], [], 'no errors in the pages');
  console.log(`screenshots: ${chartPhone} ${chartDesk} ${alertsPhone} ${alertsDesk}`);
});

test.run();
