// Claim refusals in plain words, and nothing changes: a machine another agent holds (seen on
// the claim screen, and when it is taken between looking and pressing Claim), a forged label,
// and the agent's device limit.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { type TestBroker as TB, TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { type AppPage, launch, openSignedIn, waitText } from './browser';
import { type Machine, claimOverMqtt, machine } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: claim conflicts');
let tb: TB | null = null;
let browser: Browser | null = null;
const machines: Machine[] = [];

test.after(async () => {
  await browser?.close();
  for (const m of machines) await m.device.close();
  await tb?.stop();
});

const IN_USE = /^This machine is in use by another agent since \d\d:\d\d\. Ask your supervisor to transfer it\.$/;

const agentPage = (t: TB, b: Browser, agent: { id: string; password: string }): Promise<AppPage> => openSignedIn(b, t.broker.httpUrl, agent);

test('B scanning A’s machine sees "in use", and nothing changes', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  browser = await launch();
  const base = tb.broker.httpUrl;
  const a = await tb.createAgent('a-1');
  const b = await tb.createAgent('b-1');
  const m1 = await machine(tb, 'CT0700041');
  const m2 = await machine(tb, 'CT0700042');
  machines.push(m1, m2);
  await claimOverMqtt(tb, a, m1.code);
  const auditBefore = (await tb.api('GET', `/api/audit?device=${m1.device.id}`)).body.length;

  const B = await agentPage(tb, browser, b);
  // The label the camera would decode.
  await B.page.goto(base + m1.labelPath);
  const msg = await waitText(B.page.getByTestId('claim-error'), IN_USE);
  assert.match(msg, IN_USE);
  assert.is(await B.page.getByRole('button', { name: 'Claim' }).count(), 0, 'no Claim button on a machine in use');
  // Typing the machine code instead says the same.
  await B.page.goto(`${base}/scan`);
  await B.page.getByLabel('Or type the machine code').fill(m1.code.toLowerCase());
  await B.page.getByRole('button', { name: 'Find machine' }).click();
  await waitText(B.page.getByTestId('claim-error'), IN_USE);

  // Free when B looked, taken by A before B pressed Claim: the claim itself is refused.
  await B.page.goto(base + m2.labelPath);
  const claimButton = B.page.getByRole('button', { name: 'Claim' });
  await claimButton.waitFor();
  await claimOverMqtt(tb, a, m2.labelUrl);
  await claimButton.click();
  await waitText(B.page.getByTestId('claim-error'), IN_USE);

  for (const m of [m1, m2]) {
    const d = await tb.api('GET', `/api/devices/${m.device.id}`);
    assert.is(d.body.agent, 'a-1', `${m.code} is still A's`);
  }
  const audit = (await tb.api('GET', `/api/audit?device=${m1.device.id}`)).body as { actor: string }[];
  assert.is(audit.length, auditBefore, 'no audit entry from a refused claim');
  await B.page.goto(`${base}/devices`);
  await waitText(B.page.locator('main'), 'You hold no machines');
  assert.equal(B.errors, []);
});

test('a forged label is "not valid", and the device limit is named', async () => {
  requireTool('chromium', 'chromium');
  const t = tb!;
  const base = t.broker.httpUrl;
  const c = await t.createAgent('c-1', { deviceLimit: 1 });
  const m3 = await machine(t, 'CT0700043');
  const m4 = await machine(t, 'CT0700044');
  machines.push(m3, m4);
  const C = await agentPage(t, browser!, c);
  await C.page.goto(`${base}/c/${m3.code}.0000000000000000`);
  assert.is(await waitText(C.page.getByTestId('claim-error'), 'not valid'), 'This label is not valid.');

  await C.page.goto(base + m3.labelPath);
  await C.page.getByRole('button', { name: 'Claim' }).click();
  await C.page.waitForURL(`${base}/devices/${m3.device.id}`);
  await C.page.goto(base + m4.labelPath);
  await C.page.getByRole('button', { name: 'Claim' }).click();
  assert.is(await waitText(C.page.getByTestId('claim-error'), 'limit'), 'You already hold 1 device (your limit).');
  assert.is((await t.api('GET', `/api/devices/${m4.device.id}`)).body.agent, null);
});

test.run();
