// Camera scanning in real Chromium: its fake capture device plays a video made here from a real
// label PNG (the one `npm run labels` prints), and the app decodes it and opens the claim screen
// for that machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { labelContent } from '../../host-tools/labels/label-content';
import { renderLabelPng } from '../../host-tools/labels/label-png';
import { TestBroker } from '../helpers/broker';
import { requireTool } from '../helpers/tools';
import { launch, openApp, shot, signIn, waitAttr, waitText } from './browser';
import { machine } from './fixtures';
import { ensureWebBuilt } from './web-build';
import { labelFrameRgb, writeY4m } from './y4m';

const test = suite('web: camera scan');
let tb: TestBroker | null = null;
const browsers: Browser[] = [];
const dir = mkdtempSync(join(tmpdir(), 'fleetbind-camera-'));

test.after(async () => {
  for (const b of browsers) await b.close();
  await tb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const FAKE_CAMERA = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];

test('the camera decodes a real label and lands on that machine’s claim screen', async () => {
  requireTool('chromium', 'chromium');
  await ensureWebBuilt();
  tb = await TestBroker.start();
  const base = tb.broker.httpUrl;
  const agent = await tb.createAgent('scanner-1');
  const m = await machine(tb, 'CT0700031');
  const video = join(dir, 'label.y4m');
  const png = renderLabelPng(labelContent({ code: m.code, url: m.labelUrl, fleet: 'fleetbind' }));
  writeY4m(video, labelFrameRgb(png, { width: 640, height: 480, background: 190 }), { width: 640, height: 480, frames: 5, fps: 10 });

  // Chromium's own fake camera (a moving pattern, no QR): the scan screen stays, for its screenshot.
  const plain = await launch(FAKE_CAMERA);
  browsers.push(plain);
  const idle = await openApp(plain, `${base}/login`);
  await signIn(idle.page, agent.id, agent.password);
  await idle.page.waitForURL(`${base}/devices`);
  await idle.page.getByRole('navigation').getByRole('link', { name: 'Scan' }).click();
  await waitAttr(idle.page.locator('.camera'), 'data-state', 'scanning');
  await idle.page.waitForFunction('(document.querySelector("video")?.currentTime ?? 0) > 0.5');
  await shot(idle.page, 'scan');
  assert.is(new URL(idle.page.url()).pathname, '/scan', 'a camera without a label stays on the scan screen');

  const withLabel = await launch([...FAKE_CAMERA, `--use-file-for-fake-video-capture=${video}`]);
  browsers.push(withLabel);
  const app = await openApp(withLabel, `${base}/login`);
  await signIn(app.page, agent.id, agent.password);
  await app.page.waitForURL(`${base}/devices`);
  await app.page.getByRole('navigation').getByRole('link', { name: 'Scan' }).click();
  await app.page.waitForURL(`${base}${m.labelPath}`, { timeout: 15_000 });
  await waitText(app.page.getByTestId('machine-code'), m.code);
  await waitText(app.page.getByTestId('machine-model'), 'test-board');
  await app.page.getByRole('button', { name: 'Claim' }).click();
  await app.page.waitForURL(`${base}/devices/${m.device.id}`);
  const bound = await tb.api('GET', `/api/devices/${m.device.id}`);
  assert.is(bound.body.agent, agent.id);
  assert.equal(app.errors, []);
  await m.device.close();
});

test.run();
