// A rollout sends an update only to idle machines (docs/architecture.md, Over-the-air updates),
// and a walk-up order machine is not idle while a customer is ordering on it: a machine with a
// waiting print order, and one whose customer session is still live (the customer is at it,
// uploading), are both skipped busy; once the session idles out, the update goes to that machine.
import { generateKeyPairSync } from 'node:crypto';
import * as assert from 'uvu/assert';
import { ORDER_DEFAULTS } from '../../broker/orders/options';
import { otaDb } from '../../broker/ota/schema';
import { rawPublicKey } from '../../host-tools/release/keys';
import { TestBroker } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { uploadRelease } from '../helpers/releases';
import { noisyImage, openCustomer, order, orderLabel, orderMachine, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const key = generateKeyPairSync('ed25519');
const IDLE_MS = 3_000;
const t = suite('OTA: walk-up orders keep a machine busy');

t('a waiting order or a live customer session makes a machine skipped-busy; an idled-out session lets the update go', async () => {
  const tb = await TestBroker.start({
    releasePublicKeys: [rawPublicKey(key.publicKey).toString('base64')],
    otaTickMs: 150,
    orders: { ...ORDER_DEFAULTS, sessionIdleMs: IDLE_MS },
  });
  try {
    tb.ctx.opts.publicUrl = tb.broker.httpUrl;
    const op = await tb.agent(`ota-op${process.pid}`);
    // Machines that take updates announce `ota`, as the firmware does; the runner refuses the kind otherwise.
    const updatable = { mode: 'hold' as const, caps: ['identify', 'print', 'ota'] };
    const [ordered, browsing] = [await orderMachine(tb, op, updatable), await orderMachine(tb, op, updatable)];
    // The first machine prints one order and has a second waiting; the other has a customer uploading.
    const c1 = await openCustomer(tb.broker.httpUrl, orderLabel(tb, ordered.code));
    const d1 = await upload(tb.broker.httpUrl, c1, await noisyImage(100, 100));
    for (let i = 0; i < 2; i++) assert.is((await order(tb.broker.httpUrl, c1, { design: d1.body.design })).status, 201);
    const c2 = await openCustomer(tb.broker.httpUrl, orderLabel(tb, browsing.code));
    assert.is((await upload(tb.broker.httpUrl, c2, await noisyImage(100, 100))).status, 201);

    await uploadRelease(tb.broker.httpUrl, tb.adminToken, key.privateKey, {
      version: '9.9.9',
      models: ['test-board'],
      image: Buffer.from('fleetbind test image'),
    });
    const created = await tb.api('POST', '/api/rollouts', {
      release: '9.9.9',
      target: { devices: [ordered.device.id, browsing.device.id] },
      waves: [100],
      waveSoakMinutes: 0.01,
      maxFailurePercent: 100,
    });
    assert.is(created.status, 201, JSON.stringify(created.body));
    const stateOf = async (device: string): Promise<string> =>
      (
        await otaDb(tb.ctx.db)
          .selectFrom('rollout_devices')
          .select('state')
          .where('rollout', '=', created.body.id)
          .where('device', '=', device)
          .executeTakeFirstOrThrow()
      ).state;

    await waitUntil(
      async () => (await stateOf(ordered.device.id)) === 'skipped-busy' && (await stateOf(browsing.device.id)) === 'skipped-busy',
      10_000,
      'both machines skipped busy',
    );
    // The customer stops using the page: its session idles out and the machine is idle again.
    // The device accepts the update at once, so its row may already have gone on from 'sent'.
    await waitUntil(() => browsing.device.cmds.some((c) => c.kind === 'ota'), IDLE_MS + 10_000, 'the update at the machine once the session idled out');
    assert.ok(['sent', 'downloading'].includes(await stateOf(browsing.device.id)), 'the rollout records the update as sent');
    assert.is(await stateOf(ordered.device.id), 'skipped-busy', 'the machine with orders still waits');
    for (const m of [ordered, browsing]) await m.device.close();
    await end(op.client);
  } finally {
    await tb.stop();
  }
});

t.run();
