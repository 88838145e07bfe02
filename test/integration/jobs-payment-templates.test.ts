// Payment templates at the broker (docs/architecture.md, Jobs): the placeholder scheme is refused
// in production mode and the fleet's template applies to payment QRs that name none; a job may
// name its own. Over MQTT against real brokers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeEmvco } from '../../protocol/payment/emvco';
import { encodeEpc } from '../../protocol/payment/epc';
import { TestBroker } from '../helpers/broker';
import { boundDevice, submit } from '../helpers/jobs';
import { end } from '../helpers/mqtt';

const t = suite('payment templates at the broker');
const PIX = encodeEmvco({
  gui: 'br.gov.bcb.pix',
  account: 'shop@example.com',
  currency: '986',
  amount: 12.5,
  country: 'BR',
  merchantName: 'Shop',
  merchantCity: 'SAO PAULO',
  reference: 'ORDER17',
});
const SEPA = encodeEpc({ name: 'Shop', iban: 'BE72000000001616', amount: 12.5, text: 'Order 17' });
const qr = (device: string, text: string, extra: Record<string, unknown> = {}) => ({
  device,
  kind: 'qr.show',
  params: { text, caption: 'Order 17', amount: 12.5, currency: 'EUR', ...extra },
});

t('production mode refuses the placeholder scheme; the fleet template applies unless a job names its own', async () => {
  const tb = await TestBroker.start({ production: true, paymentTemplate: 'emvco' });
  try {
    const w = await boundDevice(tb);
    const placeholder = await submit(w.agent, qr(w.device.id, 'fleetbind:pay?amount=12.5&currency=EUR&ref=17'));
    assert.is(placeholder.ok, false);
    assert.is(placeholder.error.code, 'BAD_PARAMS');
    assert.match(placeholder.error.message, /refused in production: no wallet or bank app can read the placeholder/);

    const broken = await submit(w.agent, qr(w.device.id, PIX.slice(0, -4) + (PIX.endsWith('0000') ? '0001' : '0000')));
    assert.is(broken.ok, false, 'a payment QR follows the fleet template');
    assert.match(broken.error.message, /EMVCo QR: the CRC is/);

    const ok = await submit(w.agent, qr(w.device.id, PIX));
    assert.ok(ok.ok, JSON.stringify(ok));
    const job = await tb.api('GET', `/api/jobs/${ok.result.job}`);
    assert.is(job.body.params.template, 'emvco', 'the device is told which template to check');

    const own = await submit(w.agent, qr(w.device.id, SEPA, { template: 'epc' }));
    assert.ok(own.ok, JSON.stringify(own));
    const settings = await tb.api('GET', '/api/payment-settings', undefined, w.agent.token);
    assert.equal(settings.body, { template: 'emvco', production: true });
    await w.device.close();
    await end(w.agent.client);
  } finally {
    await tb.stop();
  }
});

t('outside production, without a fleet template, the placeholder is still accepted (the broker logs a warning)', async () => {
  const tb = await TestBroker.start();
  try {
    const w = await boundDevice(tb);
    const r = await submit(w.agent, qr(w.device.id, 'fleetbind:pay?amount=1'));
    assert.ok(r.ok, JSON.stringify(r));
    await w.device.close();
    await end(w.agent.client);
  } finally {
    await tb.stop();
  }
});

t.run();
