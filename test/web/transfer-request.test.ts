// "Ask for a transfer" in Chromium, with screenshots at phone size (docs/architecture.md, Transfer
// requests): an agent refused a machine another agent holds asks for it from the claim screen;
// an admin's fleet screen, already open, lists the request at once; Decline and Approve each
// change the requester's open page without a reload, and Approve makes the machine theirs.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { type AppPage, openApp, openSignedIn, shot, signIn, waitText } from './browser';
import { WebRig, claimOverMqtt } from './fixtures';

const test = suite('web: ask for a transfer');
const rig = new WebRig();
test.after(() => rig.stop());

const IN_USE = /^This machine is in use by another agent since \d\d:\d\d\./;

test('the requester asks on the claim screen; the admin list updates live; decline, then approve, reach the requester live', async () => {
  const { tb, browser, base, agent: requester, m } = await rig.start({ agent: 'tr-b', code: 'CT0700071' });
  const holder = await tb.createAgent('tr-a');
  await claimOverMqtt(tb, holder, m.code);

  const first = tb.broker.firstAdmin!;
  const admin: AppPage = await openSignedIn(browser, base, { id: first.username, password: first.password }, '/admin');
  await waitText(admin.page.getByTestId('fleet'), m.code);
  assert.is(await admin.page.getByTestId('transfer-requests').count(), 0, 'no request list while none is open');

  const app = await openApp(browser, base + m.labelPath);
  const { page } = app;
  await signIn(page, requester.id, requester.password);
  await waitText(page.getByTestId('claim-error'), IN_USE);
  const ask = page.getByRole('button', { name: 'Ask for a transfer' });
  await ask.waitFor();
  await shot(page, 'transfer-conflict');
  await page.getByLabel('Note for the admin (optional)').fill('night shift at line 3');
  await ask.click();
  await waitText(page.getByTestId('transfer-request'), /^You asked for CT0700071 at \d\d:\d\d\. An admin will decide/);
  await shot(page, 'transfer-asked');

  // The admin's screen was open before the request: it shows it without a reload.
  const row = admin.page.getByTestId('transfer-requests').locator('li');
  await waitText(row, 'tr-b asks for it; held by tr-a.', 15_000);
  await waitText(row, '“night shift at line 3”');
  await shot(admin.page, 'transfer-admin-list');
  await admin.page.getByRole('button', { name: "Decline tr-b's request for CT0700071" }).click();
  await waitText(admin.page.getByTestId('transfer-notice'), 'Declined: CT0700071 stays with its holder.');

  await waitText(page.getByTestId('transfer-request'), 'An admin declined your request. You may ask again.', 15_000);
  await shot(page, 'transfer-declined');
  assert.is((await tb.api('GET', `/api/devices/${m.device.id}`)).body.agent, 'tr-a', 'a declined request changes no binding');

  await page.getByRole('button', { name: 'Ask for a transfer' }).click();
  await waitText(page.getByTestId('transfer-request'), 'You asked for CT0700071');
  await admin.page.getByRole('button', { name: "Approve tr-b's request for CT0700071" }).click({ timeout: 15_000 });
  await waitText(admin.page.getByTestId('transfer-notice'), 'Approved: CT0700071 was transferred to tr-b.');

  // The requester's open claim screen turns into "yours" by itself.
  await waitText(page.getByTestId('claim-mine'), 'An admin approved your transfer request: this machine is yours now.', 15_000);
  assert.is(await page.getByTestId('claim-error').count(), 0, 'the "in use" error is gone');
  await shot(page, 'transfer-approved');
  assert.is((await tb.api('GET', `/api/devices/${m.device.id}`)).body.agent, 'tr-b');
  const audit = ((await tb.api('GET', `/api/audit?device=${m.device.id}`)).body as { action: string; actor: string }[]).map((e) => e.action);
  assert.ok(
    ['transfer.requested', 'transfer.declined', 'transfer.approved', 'transfer'].every((a) => audit.includes(a)),
    JSON.stringify(audit),
  );
  assert.equal(app.errors, []);
  assert.equal(admin.errors, []);
});

test.run();
