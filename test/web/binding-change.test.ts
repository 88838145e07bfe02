// A binding change tells the truth at once (docs/architecture.md, Jobs): queue rows say what each
// job is, Release names the jobs it will cancel, an open job page turns to "Cancelled – machine
// transferred or released" the moment an admin transfers the machine away, and the agent's job
// history stays readable once it holds no machine. In Chromium, with screenshots.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { waitUntil } from '../helpers/wait';
import { openApp, shot, signIn, waitAttr, waitText } from './browser';
import { WebRig, jobIdOf, pressClaim } from './fixtures';

const test = suite('web: binding change');
const rig = new WebRig();
test.after(() => rig.stop());

test('queue rows say what each job is; release names the jobs; a transfer updates the open job page; history survives', async () => {
  const { tb, browser, base, agent, m } = await rig.start({ agent: 'bc-1', code: 'CT0700061' });
  const other = await tb.createAgent('bc-2');
  const app = await openApp(browser, base + m.labelPath);
  const { page } = app;
  await signIn(page, agent.id, agent.password);
  await pressClaim(page, base, m);

  await page.getByRole('radio', { name: 'Payment QR' }).check();
  await page.getByLabel('Amount').fill('12.50');
  await page.getByLabel('Reference').fill('ORDER-7');
  await page.getByRole('button', { name: 'Show payment QR' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}/jobs/*`);
  const payment = jobIdOf(page.url());
  await waitUntil(() => m.device.runs.includes(payment), 5000, 'the payment job to run');
  await page.getByRole('link', { name: /Back to the machine/ }).click();
  await page.getByRole('radio', { name: 'Identify' }).check();
  await page.getByRole('button', { name: 'Identify' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}/jobs/*`);
  await page.getByRole('link', { name: /Back to the machine/ }).click();

  const rows = page.getByTestId('queue').locator('li');
  await waitText(rows.nth(0).getByTestId('job-summary'), /12\.50.*ORDER-7/);
  await waitText(rows.nth(1).getByTestId('job-summary'), 'for 5 s');
  await page.getByRole('button', { name: 'Release' }).click();
  const cancels = page.getByTestId('release-cancels');
  await waitText(cancels, /Payment QR .*12\.50.*ORDER-7/);
  await waitText(cancels, /Identify for 5 s \(Waiting in queue\)/);
  await cancels.scrollIntoViewIfNeeded();
  await shot(page, 'binding-release-confirm');
  await page.getByRole('button', { name: 'Keep it' }).click();

  await page.goto(`${base}/devices/${m.device.id}/jobs/${payment}`);
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'running');
  const moved = await tb.api('POST', `/api/devices/${m.device.id}/transfer`, { agent: other.id, reason: 'night shift', force: true });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'cancelled');
  await waitText(page.getByTestId('job-state'), 'Cancelled – machine transferred or released');
  assert.is(await page.getByRole('button', { name: 'Cancel job' }).count(), 0, 'no Cancel on a job that left');
  await shot(page, 'binding-transferred-job');

  await page.goto(`${base}/history`);
  const history = page.getByTestId('history');
  await waitText(history, /Payment QR/);
  assert.is(await history.locator('li').count(), 2, 'both jobs are in the history');
  await shot(page, 'binding-history-after');
  assert.equal(app.errors, []);
});

test.run();
