// The admin console's own pages in real Chromium, at a phone's 390×844 and a desktop's 1280×800,
// with screenshots: the dashboard's counts, the jobs list and a device's jobs with Cancel, the
// audit log with filters, paging and entries arriving live, adding a device (its secret shown
// once and really working), a device's label downloaded as PNG (its QR is the signed URL), kick,
// delete, and a transfer to an agent found by name. No page scrolls sideways.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { TestBroker, connectDevice, randomMac, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { decodeOne, readPng } from '../helpers/qr-images';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';
import { type AppPage, launch, openSignedIn, shot, waitText } from './browser';
import { type Machine, machine } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: admin console');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
let tb: TestBroker | null = null;
let browser: Browser | null = null;
const machines: Machine[] = [];

test.after(async () => {
  await browser?.close();
  for (const m of machines) await m.device.close();
  await tb?.stop();
});

async function noSideways(page: Page, what: string): Promise<void> {
  const scroll = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  const client = (await page.evaluate('document.documentElement.clientWidth')) as number;
  assert.ok(scroll <= client, `${what} is ${scroll} px wide in a ${client} px viewport`);
}

async function goto(app: AppPage, name: string): Promise<void> {
  await app.page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
}

async function admin(t: TestBroker, b: Browser, width: number): Promise<AppPage> {
  const first = t.broker.firstAdmin!;
  const app = await openSignedIn(b, t.broker.httpUrl, { id: first.username, password: first.password }, '/admin');
  await app.page.setViewportSize(width === PHONE.width ? PHONE : DESKTOP);
  return app;
}

const submit = (agent: { client: any; id: string }, device: string) =>
  request(agent.client, { kind: 'agent', id: agent.id }, { op: 'submit', device, kind: 'identify', params: { seconds: 1 } }).then((r) => {
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    return r.result.job as string;
  });

test('dashboard counts, jobs with cancel, audit filters and live entries (phone)', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  browser = await launch();
  const m = await machine(tb, 'CT0800001');
  const free = await machine(tb, 'CT0800002');
  machines.push(m, free);
  const ag = await tb.agent('crew-1');
  assert.ok((await request(ag.client, { kind: 'agent', id: ag.id }, { op: 'claim', target: m.device.id })).ok);
  const running = await submit(ag, m.device.id);
  await waitUntil(() => m.device.isRunning(running), 10_000, 'the first job on the device');
  const queued = await submit(ag, m.device.id);

  const app = await admin(tb, browser, PHONE.width);
  const { page } = app;
  await goto(app, 'Dashboard');
  await waitText(page.getByTestId('count-online'), /^2\s*online/);
  assert.match(await page.getByTestId('count-bound').innerText(), /^1\s*bound/);
  assert.match(await page.getByTestId('count-free').innerText(), /^1\s*free/);
  assert.match(await page.getByTestId('count-queued').innerText(), /^1\s*queued/);
  assert.match(await page.getByTestId('count-running').innerText(), /^1\s*running/);
  assert.match(await page.getByTestId('count-hour').innerText(), /^2\s*in the last hour/);
  await waitText(page.getByTestId('dash-audit'), 'claim');
  await noSideways(page, 'the dashboard');
  await shot(page, 'console-dashboard-390');

  // A device going offline moves a count, live.
  await free.device.drop();
  await waitText(page.getByTestId('count-offline'), /^1\s*offline/, 15_000);
  await free.device.reconnect();

  await goto(app, 'Jobs');
  const row = page.locator(`[data-testid="admin-jobs"] li[data-job="${queued}"]`);
  await row.waitFor();
  await noSideways(page, 'the jobs page');
  await shot(page, 'console-jobs-390');
  await row.getByRole('button', { name: `Cancel job ${queued}` }).click();
  await waitText(page.getByTestId('jobs-done'), `Job ${queued} cancelled.`);
  await waitUntil(async () => (await row.getAttribute('data-state')) === 'cancelled', 10_000, 'the row to show cancelled');
  assert.is((await tb.api('GET', `/api/jobs/${queued}`)).body.state, 'cancelled');
  await page.getByLabel('State').selectOption('running');
  await page.locator(`[data-testid="admin-jobs"] li[data-job="${running}"]`).waitFor();
  // The filtered list replaces the old one once it loads: the cancelled job's row must go.
  await page.locator(`[data-testid="admin-jobs"] li[data-job="${queued}"]`).waitFor({ state: 'detached' });

  await goto(app, 'Audit');
  await waitText(page.getByTestId('audit-log'), 'job.cancel');
  await page.getByLabel('Action').fill('job.cancel');
  await page.getByLabel('Action').press('Enter');
  await waitText(page.getByTestId('audit-status'), '1 entry, newest first');
  assert.match(await page.getByTestId('audit-log').innerText(), new RegExp(`job.cancel by admin:admin · device ${m.device.id} · agent crew-1`));
  await page.getByLabel('Action').fill('');
  await page.getByLabel('Action').press('Enter');
  await page.getByLabel('Agent id').fill('crew-live');
  await page.getByLabel('Agent id').press('Enter');
  await waitText(page.getByTestId('audit-status'), 'No entries.');
  await tb.createAgent('crew-live');
  await waitText(page.getByTestId('audit-log'), 'agent.created', 15_000);
  await waitText(page.getByTestId('audit-status'), '1 new since opened');
  await noSideways(page, 'the audit page');
  await shot(page, 'console-audit-390');

  // Paging: 60 entries about one agent make a second page.
  for (let i = 0; i < 60; i++) assert.is((await tb.api('PATCH', '/api/agents/crew-live', { name: `Crew live ${i}` })).status, 200);
  await page.getByLabel('Agent id').fill('');
  await page.getByLabel('Agent id').press('Enter');
  await page.getByLabel('Agent id').fill('crew-live');
  await page.getByLabel('Agent id').press('Enter');
  await waitText(page.getByTestId('audit-status'), '50 entries, newest first');
  await page.getByRole('button', { name: 'Older' }).click();
  await waitText(page.getByTestId('audit-status'), '11 entries, page 2');
  assert.match(await page.getByTestId('audit-log').innerText(), /agent\.created/);
  await page.getByRole('button', { name: 'Newer' }).click();
  await waitText(page.getByTestId('audit-status'), '50 entries, newest first');
  assert.equal(app.errors, []);
  await end(ag.client);
});

for (const size of [PHONE, DESKTOP]) {
  test(`add a device (secret once, and it works), its label as PNG, kick, transfer by name, delete (${size.width} px)`, async () => {
    requireTool('chromium', 'chromium');
    const t = tb!;
    const app = await admin(t, browser!, size.width);
    const { page } = app;
    await t.createAgent(`bee-${size.width}`, { name: `Beatrix ${size.width}` });
    await t.createAgent(`ann-${size.width}`, { name: 'Annika' });

    await page.getByRole('link', { name: 'Add device' }).click();
    await page.waitForURL(`${t.broker.httpUrl}/admin/devices/new`);
    const mac = randomMac();
    const code = `NEW${size.width}`;
    await page.getByLabel('MAC address').fill(mac);
    await page.getByLabel('Machine code (optional)').fill(code.toLowerCase());
    await page.getByRole('button', { name: 'Add device' }).click();
    const id = (await page.getByTestId('new-device-id').innerText()).trim();
    const secret = (await page.getByTestId('new-device-secret').innerText()).trim();
    await waitText(page.getByTestId('provisioned'), 'not shown again');
    await noSideways(page, 'the add-device page');
    await shot(page, `console-add-device-${size.width}`);
    // The secret shown is the real one: the device connects with it.
    const { client } = await connectDevice(t.broker.mqttUrl, { id, secret, mac });
    machines.push({ code, device: { close: () => end(client) } as never, labelPath: '', labelUrl: '' });

    await page.getByTestId('provisioned').getByRole('link', { name: id }).click();
    await page.waitForURL(`${t.broker.httpUrl}/admin/devices/${id}`);
    await page.getByTestId('label-preview').waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: `Download the label of ${code} as PNG` }).click();
    const file = await (await download).path();
    const label = (await t.api('GET', `/api/labels/${code}`)).body as { url: string };
    assert.is(decodeOne(readPng(readFileSync(file))), label.url, 'the downloaded PNG label scans to the signed claim URL');

    const closed = new Promise<void>((r) => client.once('close', () => r()));
    await page.getByRole('button', { name: 'Kick' }).click();
    await waitText(page.getByTestId('admin-done'), 'Its connection was closed');
    await closed;

    await page.getByLabel('To agent').fill(`beatrix ${size.width}`);
    await waitUntil(async () => (await page.getByTestId('agent-options').locator('li').count()) === 1, 10_000, 'one agent matching its name');
    await page
      .getByTestId('agent-options')
      .getByRole('button', { name: new RegExp(`Beatrix ${size.width}`) })
      .click();
    await waitText(page.getByTestId('agent-chosen'), `Chosen: Beatrix ${size.width} (bee-${size.width})`);
    await noSideways(page, 'the device page');
    // Below the sticky header, so the screenshot shows the picker's card from its heading.
    await page.getByRole('heading', { name: 'Transfer' }).scrollIntoViewIfNeeded();
    await page.evaluate('window.scrollBy(0, -130)');
    await shot(page, `console-device-${size.width}`);
    await page.getByLabel('Reason (kept in the audit trail)').fill('new site');
    await page.getByRole('button', { name: 'Transfer', exact: true }).click();
    await waitText(page.getByTestId('admin-done'), `Transferred to bee-${size.width}.`);
    await waitText(page.getByTestId('admin-device-agent'), `bee-${size.width}`);
    await page.getByLabel('To agent').fill('zzz-nobody');
    await waitText(page.locator('.picker'), 'No agent matches');

    await page.getByLabel('Reason', { exact: true }).fill('back to stock');
    await page.getByRole('button', { name: 'Force release' }).click();
    await waitText(page.getByTestId('admin-device-agent'), 'free');
    await page.getByRole('button', { name: 'Delete device…' }).click();
    await page.getByLabel('Reason (kept in the audit trail)').last().fill('scrapped');
    await page.getByRole('button', { name: `Delete ${code}` }).click();
    await page.waitForURL(`${t.broker.httpUrl}/admin`);
    assert.is((await t.api('GET', `/api/devices/${id}`)).status, 404);
    const gone = (await t.api('GET', `/api/audit?action=device.deleted&device=${id}`)).body as { detail: { reason?: string } }[];
    assert.is(gone.length, 1);

    for (const [nav, name] of [
      ['Dashboard', 'dashboard'],
      ['Jobs', 'jobs'],
      ['Audit', 'audit'],
    ] as const) {
      await goto(app, nav);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      await noSideways(page, `the ${name} page`);
      if (size.width === DESKTOP.width) await shot(page, `console-${name}-${size.width}`);
    }
    assert.equal(app.errors, []);
  });
}

test.run();
