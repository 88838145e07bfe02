// protocol/screen-fit.ts and the hello's screen: what the broker refuses and why.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHello } from '../../protocol/messages';
import { MIN_MODULE_PX, lineChars, qrArea, qrMisfit, qrModules, qrScale } from '../../protocol/screen-fit';

const t = suite('protocol: screen fit');
const HELLO = { fw: '1', model: 'm', mac: 'a4cf12b4c9e0', caps: [], boot: 1, uptime: 0 };

t('hello: the screen is optional, and when given it is two whole pixel counts', () => {
  assert.is(parseHello(HELLO).screen, undefined);
  assert.equal(parseHello({ ...HELLO, screen: { width: 320, height: 240 } }).screen, { width: 320, height: 240 });
  assert.throws(() => parseHello({ ...HELLO, screen: { width: 320 } }), /screen\.height must be a number/);
  assert.throws(() => parseHello({ ...HELLO, screen: { width: 0, height: 240 } }), /screen\.width must be at least 1/);
  assert.throws(() => parseHello({ ...HELLO, screen: { width: 320.5, height: 240 } }), /screen\.width must be an integer/);
  assert.throws(() => parseHello({ ...HELLO, screen: '320x240' }), /screen/);
});

t('the QR gets the screen minus four text lines, with a quiet zone of two modules a side', () => {
  assert.equal(qrArea({ width: 240, height: 320 }), { width: 240, height: 220 });
  assert.is(qrScale({ width: 240, height: 320 }, 21), 8);
  assert.is(qrScale({ width: 320, height: 240 }, 21), 5, 'landscape: the height limits');
  assert.is(qrScale({ width: 64, height: 64 }, 21), 0, 'a screen with no room left for a code');
});

t('misfits name the field and say why; what fits passes', () => {
  const small = { width: 240, height: 320 };
  assert.is(qrMisfit(small, { text: 'x'.repeat(300), caption: 'Order 17', amount: 12.5, currency: 'EUR' }), null);
  const big = qrMisfit(small, { text: 'x'.repeat(1000), caption: '' });
  assert.is(big?.field, 'text');
  assert.match(big!.reason, /121 modules.*240x320 screen.*only at 1 px a module; at least 2 px/);
  assert.ok(qrScale({ width: 480, height: 480 }, qrModules('x'.repeat(1000))!) >= MIN_MODULE_PX, 'a larger screen takes it');
  assert.is(qrMisfit({ width: 480, height: 480 }, { text: 'x'.repeat(1000), caption: '' }), null);
  assert.match(qrMisfit(small, { text: 'x'.repeat(3000), caption: '' })!.reason, /too long for any QR code/);
  const caption = qrMisfit(small, { text: 'ok', caption: 'c'.repeat(lineChars(small)), amount: 1 });
  assert.is(caption?.field, 'caption');
  assert.match(caption!.reason, /has 31 characters; the device's 240 px wide screen shows 25/);
  assert.is(qrMisfit(small, { text: 'ok', caption: 'c'.repeat(lineChars(small)) }), null, 'exactly one line');
});

t.run();
