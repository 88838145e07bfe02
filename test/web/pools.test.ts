// Locations and pools in Chromium (docs/architecture.md, Locations and pools), with screenshots at
// 390×844 and 1280×800: an admin creates a location, places two machines in its pool and adds two
// agents; each agent sends a job to "any free machine" and gets a different machine, named on its
// page, and sees it as leased on My machines; a third job waits and its page shows its place in
// line, then turns live into the machine that took it when one frees up. The admin sees the live
// leases and the queue, and a mode switch of a leased machine is refused with the reason.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { waitUntil } from '../helpers/wait';
import { type AppPage, PHONE, openSignedIn, shot, waitText } from './browser';
import { WebRig, machine } from './fixtures';

const test = suite('web: locations and pools');
const rig = new WebRig();
test.after(() => rig.stop());

const DESKTOP = { width: 1280, height: 800 };

async function noSideways(page: Page, what: string): Promise<void> {
  const scroll = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  const client = (await page.evaluate('document.documentElement.clientWidth')) as number;
  assert.ok(scroll <= client, `${what} is ${scroll} px wide in a ${client} px viewport`);
}

/** Both sizes of the screen as it is now, each checked for sideways scrolling. */
async function shots(page: Page, name: string): Promise<void> {
  for (const [size, vp] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    await page.setViewportSize(vp);
    await noSideways(page, `${name} at ${size}`);
    await shot(page, `pools-${name}-${size}`);
  }
  await page.setViewportSize(PHONE);
}

/** From the agent's "Any machine" screen: the location, Identify, send; returns the pool job's id. */
async function sendIdentify(app: AppPage, base: string, locationName: string): Promise<string> {
  const { page } = app;
  await page.getByRole('navigation').getByRole('link', { name: 'Any machine', exact: true }).click();
  await page.getByRole('link', { name: locationName, exact: true }).click();
  await page.getByText('Identify', { exact: true }).first().click();
  await page.getByLabel('For how many seconds').fill('3');
  await page.getByRole('button', { name: 'Identify' }).click();
  await page.waitForURL(new RegExp(`^${base}/pool-jobs/`));
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
}

test('two agents get two different free machines and see which; a third job shows its place in line and then its machine; the admin manages the pool and sees leases', async () => {
  const { tb, browser, base, agent: a, m: m1 } = await rig.start({ agent: 'pool-a', code: 'CT0900001' });
  const m2 = await machine(tb, 'CT0900002');
  rig.machines.push(m2);
  const b = await tb.createAgent('pool-b');
  const first = tb.broker.firstAdmin!;
  const admin = await openSignedIn(browser, base, { id: first.username, password: first.password }, '/admin');
  const ap = admin.page;

  // The admin creates the location, places both machines in its pool and adds both agents.
  await ap.getByRole('navigation').getByRole('link', { name: 'Locations', exact: true }).click();
  await ap.getByLabel('Id', { exact: true }).fill('hall');
  await ap.getByLabel('Name', { exact: true }).fill('Front hall');
  await ap.getByRole('button', { name: 'Create location' }).click();
  await ap.getByRole('link', { name: 'Front hall' }).click();
  await ap.waitForURL(`${base}/admin/locations/hall`);
  for (const m of [m1, m2]) {
    await ap.getByLabel('Machine to place').selectOption(m.device.id);
    await ap.getByLabel('Binding mode').selectOption('pool');
    await ap.getByRole('button', { name: 'Place', exact: true }).click();
    await waitText(ap.getByTestId('location-done'), `${m.device.id} placed here (pool).`);
  }
  for (const agent of [a.id, b.id]) {
    await ap.getByLabel('Agent to add').selectOption(agent);
    await ap.getByRole('button', { name: 'Add', exact: true }).click();
    await waitText(ap.getByTestId('location-done'), `${agent} now uses this pool.`);
  }
  await waitUntil(async () => (await ap.getByTestId('location-device').count()) === 2, 5000, 'both machines listed');
  await waitText(ap.getByTestId('members'), 'pool-b');
  const detail = (await tb.api('GET', '/api/locations/hall')).body;
  assert.equal(
    detail.devices.map((d: any) => [d.id, d.mode]),
    [m1.device.id, m2.device.id].sort().map((id) => [id, 'pool']),
  );
  assert.equal(detail.members, ['pool-a', 'pool-b']);
  const audit = ((await tb.api('GET', '/api/audit?limit=50')).body as { action: string }[]).map((e) => e.action);
  assert.ok(audit.includes('location.create') && audit.includes('device.placement') && audit.includes('agent.locations'), 'every admin change is audited');
  await shots(ap, 'admin-location');

  // Each agent sends a job to any free machine: two agents, two different machines, each named.
  const pa = await openSignedIn(browser, base, a);
  const pb = await openSignedIn(browser, base, b);
  await pa.page.getByRole('navigation').getByRole('link', { name: 'Any machine', exact: true }).click();
  await waitText(pa.page.getByTestId('location-free'), '2 of 2 machines free', 10_000);
  await shots(pa.page, 'agent-locations');
  const jobA = await sendIdentify(pa, base, 'Front hall');
  const jobB = await sendIdentify(pb, base, 'Front hall');
  await waitText(pa.page.getByRole('heading', { level: 1 }), / took your job$/, 10_000);
  await waitText(pb.page.getByRole('heading', { level: 1 }), / took your job$/, 10_000);
  const devA = await pa.page.getByTestId('pool-assigned').getAttribute('data-device');
  const devB = await pb.page.getByTestId('pool-assigned').getAttribute('data-device');
  assert.ok(devA !== null && devB !== null && devA !== devB, `two different machines: ${devA} and ${devB}`);
  const byId = new Map([m1, m2].map((m) => [m.device.id, m]));
  await waitText(pa.page.getByTestId('pool-machine'), byId.get(devA!)!.code);
  await waitText(pa.page.getByTestId('pool-lease'), 'It is yours for this job only', 10_000);
  await waitUntil(() => byId.get(devA!)!.device.isRunning(jobA) && byId.get(devB!)!.device.isRunning(jobB), 10_000, 'both jobs on their machines');
  await shots(pa.page, 'agent-assigned');

  // My machines shows the leased machine as a pool lease, without Release.
  await pa.page.getByRole('navigation').getByRole('link', { name: 'Machines', exact: true }).click();
  const card = pa.page.locator(`[data-testid="device-card"][data-device="${devA}"]`);
  await waitText(card.getByTestId('lease-badge'), 'From the pool at hall, for your job only', 10_000);
  assert.is(await card.getByRole('button', { name: 'Release' }).count(), 0, 'a leased machine has no Release');
  await shots(pa.page, 'agent-machines-leased');

  // Both machines busy: the next job waits, and its page shows its place in line.
  const jobA2 = await sendIdentify(pa, base, 'Front hall');
  await waitText(pa.page.getByRole('heading', { level: 1 }), 'Waiting for a free machine', 10_000);
  await waitText(pa.page.getByTestId('pool-place'), /^Next in line · a machine in about /, 10_000);
  const waiting = (await tb.api('GET', `/api/jobs/${jobA2}`)).body;
  assert.equal([waiting.state, waiting.device, waiting.position], ['queued', null, 1]);
  await shots(pa.page, 'agent-waiting');

  // The admin sees both leases and the waiting job; switching a leased machine's mode is refused.
  await waitUntil(async () => (await ap.getByTestId('leases').locator('li').count()) === 2, 10_000, 'two live leases on the admin screen');
  await waitText(ap.getByTestId('pool-queue'), 'pool-a · identify', 10_000);
  const before = (await tb.api('GET', `/api/devices/${devA}`)).body;
  await ap.locator(`[data-testid="location-device"][data-device="${devA}"]`).getByRole('button', { name: 'Make owned' }).click();
  await waitText(ap.getByRole('alert'), `cannot switch to owned while it is leased to an agent for a job`);
  const after = (await tb.api('GET', `/api/devices/${devA}`)).body;
  assert.equal([after.mode, after.agent, after.bindingVersion], [before.mode, before.agent, before.bindingVersion], 'the refused switch changed nothing');
  await shots(ap, 'admin-leases');

  // Agent b's job ends: its machine goes to the waiting job, and a's open page turns into it.
  await byId.get(devB!)!.device.ack({ job: jobB, state: 'done', result: {} });
  await waitText(pa.page.getByRole('heading', { level: 1 }), `${byId.get(devB!)!.code} took your job`, 15_000);
  assert.is(await pa.page.getByTestId('pool-assigned').getAttribute('data-device'), devB);
  await waitUntil(() => byId.get(devB!)!.device.isRunning(jobA2), 10_000, 'the waiting job on the freed machine');
  await shots(pa.page, 'agent-handed-over');
  for (const [job, dev] of [
    [jobA, devA!],
    [jobA2, devB!],
  ] as const)
    await byId.get(dev)!.device.ack({ job, state: 'done', result: {} });
  await waitUntil(async () => (await tb.api('GET', '/api/leases')).body.length === 0, 15_000, 'every lease to end');
  await waitText(ap.getByTestId('no-leases'), 'No machine is leased now.', 10_000);
  // A scanned location label opens that pool, claiming nothing; a forged one is refused.
  const label = (await tb.api('GET', '/api/locations/hall/label')).body.url as string;
  await pb.page.goto(base + new URL(label).pathname);
  await pb.page.waitForURL(`${base}/pools/hall`, { timeout: 10_000 });
  await waitText(pb.page.getByRole('heading', { level: 1 }), 'Any free machine at Front hall');
  await pb.page.goto(`${base}/p/hall.0000000000000000`);
  await waitText(pb.page.getByTestId('label-refused'), 'This label is not valid.', 10_000);
  assert.is((await tb.api('GET', '/api/leases')).body.length, 0, 'a label claims nothing');
  for (const p of [pa, pb])
    assert.equal(
      p.errors.filter((e) => !e.includes('status of 404')),
      [],
      "no errors in the agents' pages",
    );
  // The browser logs the refused switch's answer; nothing else went wrong on the admin's page.
  assert.equal(admin.errors, [`console: Failed to load resource: the server responded with a status of 409 (Conflict) at /api/devices/${devA}`]);
});

test.run();
