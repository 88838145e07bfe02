// The admin console's Rollouts page in real Chromium (docs/architecture.md, Over-the-air
// updates): a rollout's progress bars overall and per wave, and Pause, Resume and Cancel doing
// what they say, read back from the REST view.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { rawPublicKey } from '../../host-tools/release/keys';
import { TestBroker, randomMac } from '../helpers/broker';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';
import { uploadRelease } from '../helpers/releases';
import { launch, openSignedIn } from './browser';
import { ensureWebBuilt } from './web-build';

const test = suite('web: admin rollouts');
let tb: TestBroker | null = null;
let browser: Browser | null = null;

test.after(async () => {
  await browser?.close();
  await tb?.stop();
});

test('a rollout shows its bars per wave; Pause, Resume and Cancel change it', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  const keys = generateKeyPairSync('ed25519');
  tb = await TestBroker.start({ releasePublicKeys: [rawPublicKey(keys.publicKey).toString('base64')] });
  for (let i = 0; i < 4; i++) assert.is((await tb.api('POST', '/api/devices', { mac: randomMac(), model: 'test-board' })).status, 201);
  await uploadRelease(tb.broker.httpUrl, tb.adminToken, keys.privateKey, { version: '3.0.0', models: ['test-board'], image: randomBytes(4_000) });
  const created = await tb.api('POST', '/api/rollouts', {
    release: '3.0.0',
    target: { all: true },
    waves: [50, 100],
    waveSoakMinutes: 1,
    maxFailurePercent: 10,
  });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;

  browser = await launch();
  const first = tb.broker.firstAdmin!;
  const app = await openSignedIn(browser, tb.broker.httpUrl, { id: first.username, password: first.password }, '/admin');
  await app.page.getByRole('navigation').getByRole('link', { name: 'Rollouts', exact: true }).click();
  const card = app.page.getByTestId(`rollout-${id}`);
  await card.waitFor({ timeout: 20_000 });
  assert.is(await card.getByTestId('rollout-bar').count(), 3, 'one bar overall and one per wave');
  assert.match((await card.getByTestId('rollout-state').textContent()) ?? '', /wave 1 of 2/);
  assert.match((await card.textContent()) ?? '', /0 of 4 confirmed/);

  const state = async (): Promise<string> => (await tb!.api('GET', `/api/rollouts/${id}`)).body.state;
  await card.getByRole('button', { name: 'Pause' }).click();
  await waitUntil(async () => (await state()) === 'paused', 20_000, 'paused from the page', 100);
  await card.getByRole('button', { name: 'Resume' }).waitFor({ timeout: 20_000 });
  await card.getByRole('button', { name: 'Resume' }).click();
  await waitUntil(async () => (await state()) === 'running', 20_000, 'resumed from the page', 100);
  await card.getByRole('button', { name: 'Cancel' }).click();
  await waitUntil(async () => (await state()) === 'cancelled', 20_000, 'cancelled from the page', 100);
  await waitUntil(async () => ((await card.getByTestId('rollout-state').textContent()) ?? '') === 'cancelled', 20_000, 'the page shows cancelled', 100);
  assert.is(await card.getByRole('button').count(), 0, 'nothing left to do on a cancelled rollout');
  await app.page.close();
});

test.run();
