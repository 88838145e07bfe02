// The broker restarts in the middle of a session: the page says "reconnecting…", comes back by
// itself, and shows the right state again (presence as the restarted broker reports it, the
// queue as it was, and live progress after the restart).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';
import { openApp, shot, signIn, waitAttr, waitText } from './browser';
import { WebRig, jobIdOf, pressClaim } from './fixtures';

const test = suite('web: broker restart');
const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-web-restart-'));
const rig = new WebRig();

test.after(async () => {
  await rig.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the page reconnects by itself after a broker restart and catches up', async () => {
  // A long grace window keeps the device "reconnecting" until the test brings it back.
  const opts = { dataDir, adminToken: 'restart-test-admin-token-0123456789', graceMs: 60_000 };
  const started = await rig.start({ agent: 'rs-1', code: 'CT0700051', broker: opts });
  const { browser, base, agent, m } = started;
  let tb = started.tb;
  const app = await openApp(browser, base + m.labelPath);
  const { page } = app;
  await signIn(page, agent.id, agent.password);
  await pressClaim(page, base, m);
  await page.getByRole('radio', { name: 'Identify' }).check();
  await page.getByRole('button', { name: 'Identify' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}/jobs/*`);
  const identify = jobIdOf(page.url());
  await page.getByRole('link', { name: /Back to the machine/ }).click();
  await page.getByRole('radio', { name: 'Payment QR' }).check();
  await page.getByLabel('Amount').fill('3.20');
  await page.getByLabel('Reference').fill('RESTART-1');
  await page.getByRole('button', { name: 'Show payment QR' }).click();
  await page.waitForURL(`${base}/devices/${m.device.id}/jobs/*`);
  const payment = jobIdOf(page.url());
  await waitText(page.getByTestId('job-position'), 'Next in line');
  await waitUntil(() => m.device.runs.includes(identify), 5000, 'the identify job to run');
  await page.goto(`${base}/devices`);
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online');
  await waitAttr(page.getByTestId('presence'), 'data-state', 'online');

  const { mqttPort, httpPort } = tb.broker;
  await tb.stop();
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'reconnecting');
  assert.is(await page.getByTestId('link-state').textContent(), 'reconnecting…');
  await waitText(page.getByTestId('offline-note'), 'Reconnecting by itself');
  await shot(page, 'reconnecting');

  tb = rig.tb = await TestBroker.start({ ...opts, mqttPort, httpPort });
  await waitAttr(page.getByTestId('link-state'), 'data-state', 'online', 15_000);
  // The restarted broker does not know yet whether the device is back: it says so, with the reason.
  await waitAttr(page.getByTestId('presence'), 'data-state', 'reconnecting');
  await waitText(page.getByTestId('presence-detail'), 'the server restarted');
  const card = page.getByTestId('device-card');
  await waitText(card, m.code);

  const cmdsBefore = m.device.cmds.length;
  await m.device.reconnect();
  await waitAttr(page.getByTestId('presence'), 'data-state', 'online');
  // The interrupted identify job is idempotent, so it is sent again; the device finishes it.
  await waitUntil(() => m.device.cmds.slice(cmdsBefore).some((c) => c.job === identify), 10_000, 'the identify job to be resent');
  await m.device.ack({ job: identify, state: 'done' });
  await waitUntil(() => m.device.runs.includes(payment), 10_000, 'the payment job to run');
  await waitText(card.getByTestId('current-job'), 'Payment QR');

  await page.goto(`${base}/devices/${m.device.id}/jobs/${payment}`);
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'running');
  await m.device.ack({ job: payment, state: 'progress', progress: 70 });
  await waitAttr(page.getByTestId('job-progress'), 'value', '70');
  await m.device.ack({ job: payment, state: 'done' });
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'done');
  const stored = await tb.api('GET', `/api/jobs/${payment}`);
  assert.is(stored.body.state, 'done');
  // While the broker was down the browser reported the refused connections; nothing else went wrong.
  const unexpected = app.errors.filter((e) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(e));
  assert.equal(unexpected, []);
});

test.run();
