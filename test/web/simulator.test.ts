// The app against a simulated device that runs the real firmware core (host-tools/simulate):
// claim by label, identify, then a payment QR whose preview in the app and the QR on the
// device's (simulated) screen decode to the same text; cancelling it clears the screen.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker } from '../helpers/broker';
import { decodeQrPng } from '../helpers/qr';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';
import { launch, openApp, signIn, waitAttr, waitText } from './browser';
import { jobIdOf } from './fixtures';
import { ensureWebBuilt } from './web-build';

const test = suite('web: simulated firmware device');
let tb: TestBroker | null = null;
let browser: Browser | null = null;
let fleet: SimFleet | null = null;
const pngDir = mkdtempSync(join(tmpdir(), 'fleetbind-web-sim-'));

test.after(async () => {
  await browser?.close();
  fleet?.stop();
  await tb?.stop();
  rmSync(pngDir, { recursive: true, force: true });
});

test('identify and a payment QR on the real firmware core, driven from the app', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  const base = tb.broker.httpUrl;
  fleet = startFleet(tb.broker.mqttUrl, { devices: 1, enrollToken: await enrollmentToken(tb, 1), machinesPrefix: 'SIM-', pngDir });
  await fleet.waitFor((s) => s.connected === 1, 30_000, 'the simulated device online');
  const sim = fleet.devices[0]!;
  const label = (await tb.api('GET', '/api/labels/SIM-0001')).body as { url: string; device: string };
  assert.is(label.device, sim.deviceId);

  const agent = await tb.createAgent('sim-agent');
  browser = await launch();
  const { page, errors } = await openApp(browser, base + new URL(label.url).pathname);
  await signIn(page, agent.id, agent.password);
  await waitText(page.getByTestId('machine-model'), 'fleetbind-sim');
  await page.getByRole('button', { name: 'Claim' }).click();
  await page.waitForURL(`${base}/devices/${sim.deviceId}`);
  await waitAttr(page.getByTestId('presence'), 'data-state', 'online');

  await page.getByRole('radio', { name: 'Identify' }).check();
  await page.getByLabel('For how many seconds').fill('1');
  await page.getByRole('button', { name: 'Identify' }).click();
  await page.waitForURL(`${base}/devices/${sim.deviceId}/jobs/*`);
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'done', 10_000);

  await page.getByRole('link', { name: /Back to the machine/ }).click();
  await page.getByRole('radio', { name: 'Payment QR' }).check();
  await page.getByLabel('Amount').fill('4.20');
  await page.getByLabel('Reference').fill('SIM-ORDER-7');
  const preview = page.getByRole('img', { name: /Preview of the payment QR/ });
  const previewPng = Buffer.from(((await preview.getAttribute('src')) ?? '').replace(/^data:image\/png;base64,/, ''), 'base64');
  await page.getByRole('button', { name: 'Show payment QR' }).click();
  await page.waitForURL(`${base}/devices/${sim.deviceId}/jobs/*`);
  const job = jobIdOf(page.url());
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'running', 10_000);

  const shown = await waitUntil(() => sim.display.shown[0], 10_000, 'the QR on the simulated screen');
  await shown.rendered;
  const onScreen = decodeQrPng(shown.file!);
  const stored = (await tb.api('GET', `/api/jobs/${job}`)).body as { params: { text: string; caption: string } };
  assert.is(onScreen, stored.params.text);
  assert.is(shown.view.caption, 'SIM-ORDER-7');
  const tmp = join(pngDir, 'preview.png');
  writeFileSync(tmp, previewPng);
  assert.is(decodeQrPng(tmp), onScreen, 'the app previewed the QR the machine shows');

  await page.getByRole('button', { name: 'Cancel job' }).click();
  await waitAttr(page.getByTestId('job-state'), 'data-state', 'cancelled', 10_000);
  await waitUntil(() => sim.display.qr === null, 5000, 'the simulated screen to clear');
  assert.equal(errors, []);
});

test.run();
