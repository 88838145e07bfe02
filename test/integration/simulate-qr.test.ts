// A qr.show job submitted by the bound agent runs on a simulated device (the real firmware
// core) and the QR it shows, written as a PNG, decodes to exactly the job's text.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import { TestBroker, request } from '../helpers/broker';
import { decodeQrPng } from '../helpers/qr';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { waitUntil } from '../helpers/wait';

const t = suite('simulated qr.show');
let b: TestBroker;
let pngDir = '';
let fleet: SimFleet | undefined;

t.before(async () => {
  b = await TestBroker.start();
  pngDir = mkdtempSync(join(tmpdir(), 'fb-sim-qr-'));
});
t.after(async () => {
  fleet?.stop();
  await b.stop();
  rmSync(pngDir, { recursive: true, force: true });
});

t('the PNG of a qr.show job decodes to the job text, and the job is done', async () => {
  fleet = startFleet(b.broker.mqttUrl, { devices: 1, enrollToken: await enrollmentToken(b, 1), machinesPrefix: 'QR-', pngDir });
  await fleet.waitFor((s) => s.connected === 1, 30_000, 'the device online');
  const device = fleet.devices[0]!;
  const agent = await b.agent('qr-agent');
  const who = { kind: 'agent' as const, id: agent.id };
  const claim = await request(agent.client, who, { op: 'claim', target: device.deviceId });
  assert.ok(claim.ok, JSON.stringify(claim));

  const text = `https://pay.example/c/${device.deviceId}?amount=4.20&ref=${Date.now()}`;
  const submit = await request(agent.client, who, {
    op: 'submit',
    device: device.deviceId,
    kind: 'qr.show',
    params: { text, caption: 'Coffee', amount: 4.2, currency: 'EUR', expiresAt: Date.now() + 1500 },
  });
  assert.ok(submit.ok, JSON.stringify(submit));

  const shown = await waitUntil(() => device.display.shown[0], 10_000, 'the QR on the simulated screen');
  await shown.rendered;
  assert.ok(shown.file?.startsWith(pngDir), `no PNG written: ${JSON.stringify(shown)}`);
  assert.is(decodeQrPng(shown.file!), text);
  assert.is(shown.view.caption, 'Coffee');
  // The QR stays up until expiresAt, then the job is done and the screen clears.
  await fleet.waitFor((s) => s.acks.done === 1, 10_000, 'the job done');
  assert.is(device.display.qr, null);
  assert.is(device.acks.accepted, 1);
});

t.run();
