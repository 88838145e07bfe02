// A qr.show the device could not draw readably is refused at submit with BAD_PARAMS
// (docs/architecture.md, Firmware): the device announces its screen in hello, the broker keeps it
// with the device in the registry, and judges the QR's modules and the caption line against it.
// Over MQTT against the real broker.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import { screenOf } from '../../broker/store/device-screens';
import { getDevice } from '../../broker/store/devices';
import type { Database } from '../../broker/store/schema';
import { TestBroker } from '../helpers/broker';
import { boundDevice, identify, jobIn, submit } from '../helpers/jobs';
import { end } from '../helpers/mqtt';

const t = suite('qr.show against the device screen');
const storedScreen = async (db: Kysely<Database>, id: string) => screenOf((await getDevice(db, id))!);
const SCREEN = { width: 240, height: 320 };
const qr = (device: string, text: string, caption = 'Order 17') => ({ device, kind: 'qr.show', params: { text, caption, amount: 12.5, currency: 'EUR' } });

t('a device with a small screen: what it can draw is queued, a dense QR or a long caption is refused', async () => {
  const tb = await TestBroker.start();
  try {
    const w = await boundDevice(tb, { screen: SCREEN });
    assert.equal(await storedScreen(tb.ctx.db, w.device.id), SCREEN, 'kept with the device');

    const fits = await submit(w.agent, qr(w.device.id, 'x'.repeat(300)));
    assert.ok(fits.ok, JSON.stringify(fits));
    await jobIn(tb, fits.result.job, ['done']);

    const dense = await submit(w.agent, qr(w.device.id, 'x'.repeat(1000)));
    assert.is(dense.ok, false);
    assert.is(dense.error.code, 'BAD_PARAMS');
    assert.is(dense.error.field, 'text');
    assert.match(dense.error.message, /121 modules.*240x320 screen.*at least 2 px/);

    const long = await submit(w.agent, qr(w.device.id, 'ok', 'A caption that a 240 pixel screen cannot hold'));
    assert.is(long.ok, false);
    assert.is(long.error.code, 'BAD_PARAMS');
    assert.is(long.error.field, 'caption');

    const other = await submit(w.agent, identify(w.device.id));
    assert.ok(other.ok, 'other kinds are not judged by the screen');

    // Offline, the stored screen still decides.
    await w.device.close();
    const offline = await submit(w.agent, qr(w.device.id, 'x'.repeat(1000)));
    assert.is(offline.error?.code, 'BAD_PARAMS');

    // The same device says hello without a screen (e.g. a board without one): nothing to judge.
    w.device.opts.screen = undefined;
    await w.device.reconnect();
    assert.is(await storedScreen(tb.ctx.db, w.device.id), null, 'forgotten');
    const now = await submit(w.agent, qr(w.device.id, 'x'.repeat(1000)));
    assert.ok(now.ok, JSON.stringify(now));
    await w.device.close();
    await end(w.agent.client);
  } finally {
    await tb.stop();
  }
});

t('a device that announces no screen gets any QR a code can hold', async () => {
  const tb = await TestBroker.start();
  try {
    const w = await boundDevice(tb);
    assert.is(await storedScreen(tb.ctx.db, w.device.id), null);
    const r = await submit(w.agent, qr(w.device.id, 'x'.repeat(1000), 'A caption that a 240 pixel screen cannot hold'));
    assert.ok(r.ok, JSON.stringify(r));
    await w.device.close();
    await end(w.agent.client);
  } finally {
    await tb.stop();
  }
});

t.run();
