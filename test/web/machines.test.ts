// An agent's machines show what the machine is doing (docs/architecture.md, Machine state): the
// derived status, ink bars and an open low-ink alert, live from the shadow and alert topics, in
// Chromium at phone and desktop size, with screenshots.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { deviceTopic } from '../../protocol/topics';
import { MACHINE_DEFAULTS } from '../../broker/machines/options';
import { TestBroker, connectAgent, connectDevice, request } from '../helpers/broker';
import { end, publish, waitFor } from '../helpers/mqtt';
import { requireTool } from '../helpers/tools';
import { launch, openSignedIn, shot, waitAttr, waitText } from './browser';
import { ensureWebBuilt } from './web-build';

const test = suite('web: machine state');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let device: MqttClient | null = null;

test.after(async () => {
  await browser?.close();
  await end(device ?? undefined);
  await tb?.stop();
});

test("status, ink bars and a low-ink alert on the agent's machine, live, at phone and desktop size", async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  // The fleet's low level is 25 %, not the default 15: the cards must use the broker's.
  tb = await TestBroker.start({ machines: { ...MACHINE_DEFAULTS, lowPercent: 25 } });
  const base = tb.broker.httpUrl;
  const agent = await tb.createAgent('ink-1');
  const dev = await tb.provision(undefined, 'CT0700401');
  const moved = await tb.api('POST', `/api/devices/${dev.id}/transfer`, { agent: agent.id, reason: 'test setup' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  device = (await connectDevice(tb.broker.mqttUrl, dev)).client;
  await publish(device, deviceTopic(dev.id, 'state'), {
    machine: { status: 'idle' },
    consumables: { 'ink.c': { level: 82 }, 'ink.m': { level: 64 }, 'ink.y': { level: 47 }, 'ink.k': { level: 30 } },
  });

  browser = await launch();
  const phone = await openSignedIn(browser, base, agent);
  const card = phone.page.getByTestId('device-card').first();
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'idle', 15_000);
  await waitText(card.getByTestId('machine-status'), 'Ready');

  // A job of the agent's on the machine makes it busy though the machine itself still says idle.
  const mqttAgent = await connectAgent(tb.broker.mqttUrl, agent.id, await tb.login(agent.id, agent.password));
  const cmd = waitFor(device, (t) => t === deviceTopic(dev.id, 'cmd'), 10_000, 'the job at the machine');
  const submitted = await request(mqttAgent, { kind: 'agent', id: agent.id }, { op: 'submit', device: dev.id, kind: 'identify', params: { seconds: 5 } });
  assert.ok(submitted.ok, JSON.stringify(submitted));
  const job = submitted.result.job as string;
  await cmd;
  await publish(device, deviceTopic(dev.id, 'ack'), { job, state: 'accepted' });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'busy', 15_000);
  await publish(device, deviceTopic(dev.id, 'ack'), { job, state: 'done' });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'idle', 15_000);
  await end(mqttAgent);
  await waitAttr(card.locator('[data-ink="ink.k"]'), 'data-level', '30', 15_000);
  assert.is(await card.getByTestId('ink').count(), 4);
  assert.is(await card.getByRole('meter', { name: 'Magenta ink' }).getAttribute('aria-valuenow'), '64');

  // Black runs low while the page is open: the status, the bar and the alert follow without a reload.
  await publish(device, deviceTopic(dev.id, 'state'), { machine: { status: 'busy', job: 'p-9' }, consumables: { 'ink.k': { level: 6 } } });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'busy', 15_000);
  await waitAttr(card.locator('[data-ink="ink.k"]'), 'data-level', '6', 15_000);
  await publish(device, deviceTopic(dev.id, 'state'), { machine: { status: 'idle', job: null } });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'attention', 15_000);
  await waitText(card.getByTestId('machine-alert'), /Black ink is at 6%/, 15_000);
  assert.ok(await card.locator('[data-ink="ink.k"]').evaluate((el) => el.classList.contains('low')), 'the low bar is marked');
  const phoneShot = await shot(phone.page, 'machines-phone');
  const overflow = (await phone.page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  assert.is(overflow, 0, 'nothing wider than the phone screen');

  const desktop = await openSignedIn(browser, base, agent, '/devices');
  await desktop.page.setViewportSize({ width: 1280, height: 800 });
  const dcard = desktop.page.getByTestId('device-card').first();
  await waitText(dcard.getByTestId('machine-alert'), /Black ink is at 6%/, 15_000);
  await waitAttr(dcard.getByTestId('machine-status'), 'data-status', 'attention', 15_000);
  const deskShot = await shot(desktop.page, 'machines-desktop');

  // A refill clears the alert live.
  await publish(device, deviceTopic(dev.id, 'state'), { consumables: { 'ink.k': { level: 100 } } });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'idle', 15_000);
  await phone.page.getByTestId('machine-alert').waitFor({ state: 'detached', timeout: 15_000 });
  // 20 % is low by the fleet's 25 %, though not by the default 15 %.
  await publish(device, deviceTopic(dev.id, 'state'), { consumables: { 'ink.k': { level: 20 } } });
  await waitAttr(card.getByTestId('machine-status'), 'data-status', 'attention', 15_000);
  await waitAttr(card.locator('[data-ink="ink.k"]'), 'data-level', '20', 15_000);
  assert.ok(await card.locator('[data-ink="ink.k"]').evaluate((el) => el.classList.contains('low')), "the bar is marked low by the fleet's level");
  assert.equal([...phone.errors, ...desktop.errors], [], 'no errors in the pages');
  console.log(`screenshots: ${phoneShot} ${deskShot}`);
});

test.run();
