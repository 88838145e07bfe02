// The admin screens in real Chromium: the fleet table with search and filters, a device page
// (audit trail, transfer with a reason, forced release, re-provisioning), agents (create 263,
// reset a password, disable) and enrollment tokens (create, list, revoke). A transfer moves
// the machine from A's open page to B's, live.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { type AppPage, launch, openSignedIn, shot, waitText } from './browser';
import { type Machine, machine } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: admin');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
const machines: Machine[] = [];

test.after(async () => {
  await browser?.close();
  for (const m of machines) await m.device.close();
  await tb?.stop();
});

const cards = (p: Page) => p.getByTestId('device-card');

const signedIn = (t: TestBroker, b: Browser, id: string, password: string, home: string): Promise<AppPage> =>
  openSignedIn(b, t.broker.httpUrl, { id, password }, home);

test('transfer moves the machine from A’s page to B’s; force release and re-provisioning', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  browser = await launch();
  const base = tb.broker.httpUrl;
  const a = await tb.createAgent('ta-1');
  const b = await tb.createAgent('tb-1');
  const m = await machine(tb, 'CT0700061');
  const other = await machine(tb, 'CT0700062');
  machines.push(m, other);

  const A = await signedIn(tb, browser, a.id, a.password, '/devices');
  await A.page.goto(base + m.labelPath);
  await A.page.getByRole('button', { name: 'Claim' }).click();
  await A.page.waitForURL(`${base}/devices/${m.device.id}`);
  await A.page.getByRole('link', { name: 'Machines', exact: true }).click();
  await waitText(cards(A.page), m.code);
  const B = await signedIn(tb, browser, b.id, b.password, '/devices');
  await waitText(B.page.locator('main'), 'You hold no machines');

  const first = tb.broker.firstAdmin!;
  const admin = await signedIn(tb, browser, first.username, first.password, '/admin');
  const fleet = admin.page.getByTestId('fleet');
  await waitText(fleet.locator(`tr[data-device="${m.device.id}"] [data-testid="fleet-agent"]`), 'ta-1');
  await waitText(fleet.locator(`tr[data-device="${other.device.id}"] [data-testid="fleet-agent"]`), 'free');
  await shot(admin.page, 'admin-fleet');
  await admin.page.getByLabel('Search').fill('0062');
  await waitText(admin.page.getByRole('status').filter({ hasText: 'devices' }), '1 of 2 devices');
  assert.is(await fleet.locator('tbody tr').count(), 1);
  await admin.page.getByLabel('Search').fill('');
  await admin.page.getByLabel('Binding').selectOption('bound');
  await waitText(admin.page.getByRole('status').filter({ hasText: 'devices' }), '1 of 2 devices');
  assert.is(await fleet.locator(`tr[data-device="${m.device.id}"]`).count(), 1);
  await admin.page.getByLabel('Presence').selectOption('offline');
  await waitText(admin.page.getByRole('status').filter({ hasText: 'devices' }), '0 of 2 devices');
  await admin.page.getByLabel('Presence').selectOption('all');

  await fleet.getByRole('link', { name: m.code }).click();
  await admin.page.waitForURL(`${base}/admin/devices/${m.device.id}`);
  await waitText(admin.page.getByTestId('audit'), 'claim');
  await admin.page.getByLabel('To agent').fill('tb-1');
  await admin.page.getByLabel('Reason (kept in the audit trail)').fill('shift change at 14:00');
  await admin.page.getByRole('button', { name: 'Transfer' }).click();
  const started = Date.now();
  await waitText(admin.page.getByTestId('admin-done'), 'Transferred to tb-1.');

  // A's open page drops it and B's shows it, with no reload.
  await waitText(A.page.locator('main'), 'You hold no machines');
  await waitText(cards(B.page), m.code);
  console.log(`# transfer reached both agents' pages in ${Date.now() - started} ms`);
  assert.is(await cards(A.page).count(), 0);
  await waitText(admin.page.getByTestId('admin-device-agent'), 'tb-1');
  await waitText(admin.page.getByTestId('audit'), 'shift change at 14:00');
  await shot(admin.page, 'admin-device');

  await admin.page.getByLabel('Reason', { exact: true }).fill('machine goes to repair');
  await admin.page.getByRole('button', { name: 'Force release' }).click();
  await waitText(admin.page.getByTestId('admin-done'), 'Released.');
  await waitText(B.page.locator('main'), 'You hold no machines');
  await waitText(admin.page.getByTestId('admin-device-agent'), 'free');

  await admin.page.getByRole('button', { name: 'Allow re-provisioning' }).click();
  await admin.page.getByRole('button', { name: 'Disallow re-provisioning' }).waitFor();
  assert.is((await tb.api('GET', `/api/devices/${m.device.id}`)).body.reprovisionAllowed, true);
  assert.equal(admin.errors, []);
});

test('agents: create 263, reset its password, disable it; tokens: create, list, revoke', async () => {
  requireTool('chromium', 'chromium');
  const t = tb!;
  const first = t.broker.firstAdmin!;
  const admin = await signedIn(t, browser!, first.username, first.password, '/admin');
  const { page } = admin;
  await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click();
  await page.getByLabel('Agent ID').fill('263');
  await page.getByLabel('Name').fill('Kiosk 263');
  await page.getByLabel('Password (at least 8 characters)').fill('first-password-263');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await waitText(page.getByTestId('admin-done'), 'Agent 263 created.');
  const row = page.locator('li[data-agent="263"]');
  await waitText(row, 'Kiosk 263');
  assert.is((await t.api('POST', '/api/login', { id: 263, password: 'first-password-263' }, undefined)).status, 200);

  await row.getByRole('button', { name: 'Reset password' }).click();
  await page.getByLabel('New password for 263').fill('second-password-263');
  await row.getByRole('button', { name: 'Save' }).click();
  await waitText(page.getByTestId('admin-done'), 'New password set for 263.');
  assert.is((await t.api('POST', '/api/login', { id: '263', password: 'first-password-263' }, undefined)).status, 401);
  assert.is((await t.api('POST', '/api/login', { id: '263', password: 'second-password-263' }, undefined)).status, 200);

  await row.getByRole('button', { name: 'Disable' }).click();
  await waitText(row.getByTestId('agent-status'), 'disabled');
  assert.is((await t.api('POST', '/api/login', { id: '263', password: 'second-password-263' }, undefined)).status, 403);
  await shot(page, 'admin-agents');

  await page.getByRole('navigation').getByRole('link', { name: 'Tokens' }).click();
  await page.getByLabel('Uses').fill('5');
  await page.getByLabel('Expires in').fill('12h');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = await waitText(page.getByTestId('new-token'), 'not shown again');
  const id = /Token (et-[a-z0-9]+) created/.exec(shown)?.[1];
  assert.ok(id, shown);
  const tokenRow = page.locator(`li[data-token="${id}"]`);
  await waitText(tokenRow.getByTestId('token-state'), 'active');
  await waitText(tokenRow, '5 / 5');
  await tokenRow.getByRole('button', { name: `Revoke token ${id}` }).click();
  await waitText(tokenRow.getByTestId('token-state'), 'revoked');
  const listed = (await t.api('GET', '/api/enrollment-tokens')).body as { id: string; revokedAt: number | null }[];
  assert.ok(listed.find((x) => x.id === id)?.revokedAt, 'the token is revoked in the broker');
  assert.equal(admin.errors, []);
});

test('agents: an agent locked out by failed logins shows it, and Unlock logins lets it in again', async () => {
  requireTool('chromium', 'chromium');
  const t = tb!;
  await t.createAgent('locked-1', { password: 'locked-password-1' });
  for (let i = 0; i < 5; i++) assert.is((await t.api('POST', '/api/login', { id: 'locked-1', password: `wrong-${i}` }, undefined)).status, 401);
  assert.is((await t.api('POST', '/api/login', { id: 'locked-1', password: 'locked-password-1' }, undefined)).status, 429);
  const first = t.broker.firstAdmin!;
  const { page } = await signedIn(t, browser!, first.username, first.password, '/admin');
  await page.getByRole('navigation').getByRole('link', { name: 'Agents' }).click();
  const row = page.locator('li[data-agent="locked-1"]');
  await waitText(row.getByTestId('agent-blocked'), 'Logins blocked after 5 failed attempts from 127.0.0.1');
  await row.scrollIntoViewIfNeeded();
  await shot(page, 'admin-agent-locked');
  await row.getByRole('button', { name: 'Unlock logins' }).click();
  await waitText(page.getByTestId('admin-done'), 'Agent locked-1 unlocked.');
  // The button goes once the list reloads with the blocks cleared, which may land after the notice.
  await row.getByRole('button', { name: 'Unlock logins' }).waitFor({ state: 'detached' });
  assert.is((await t.api('POST', '/api/login', { id: 'locked-1', password: 'locked-password-1' }, undefined)).status, 200);
});

test.run();
