// The simulator's display model: what it shows, and that a shown QR is a scannable PNG of
// exactly the job's text.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentLine, captionLine, countdownLine } from '../../firmware/core/display-text';
import { SimDisplay } from '../../host-tools/simulate/sim-display';
import { decodeQrPng } from '../helpers/qr';

const t = suite('simulated display');
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'fb-simdisplay-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

t('each shown QR becomes a PNG in the directory that decodes to the text', async () => {
  const d = new SimDisplay({ label: 'SIM-0001', pngDir: dir });
  const texts = ['https://pay.example/checkout?o=4711&sig=ab12', 'plain text with spaces and ünïcödé', 'x'.repeat(1024)];
  for (const text of texts) {
    d.showQr({ text, caption: 'Pay' });
    await d.qr!.rendered;
    assert.is(decodeQrPng(d.qr!.file!), text);
  }
  assert.equal(readdirSync(dir).sort(), ['SIM-0001-0001.png', 'SIM-0001-0002.png', 'SIM-0001-0003.png']);
});

t('text no QR version can hold throws, as the board does, and shows nothing', () => {
  const d = new SimDisplay({ label: 'SIM-0002', pngDir: dir });
  assert.throws(() => d.showQr({ text: 'x'.repeat(8000), caption: '' }), /too big/i);
  assert.is(d.qr, null);
  assert.equal(readdirSync(dir), []);
});

t('without a PNG directory the QR is printed to the terminal with its caption', async () => {
  const printed: string[] = [];
  const d = new SimDisplay({ label: 'SIM-0003', print: (s) => printed.push(s) });
  d.showQr({ text: 'hello', caption: 'Coffee', amount: 4.2, currency: 'EUR' });
  await d.qr!.rendered;
  assert.is(printed.length, 1);
  assert.ok(printed[0]!.startsWith('SIM-0003: Coffee  4.20 €'), printed[0]);
  assert.ok(printed[0]!.includes('▄') || printed[0]!.includes('█'), 'no QR blocks printed');
});

t('status, agent, paid and clear follow the core', () => {
  const d = new SimDisplay({ label: 'SIM-0004' });
  d.status('Ready');
  d.agent(null, 'K7Q2');
  assert.is(d.statusText, 'Ready');
  assert.is(d.agentText, 'Claim code: K7Q2');
  d.agent('Kiosk 3');
  assert.is(d.agentText, 'Agent: Kiosk 3');
  d.showQr({ text: 'a', caption: 'b' });
  d.paid();
  assert.ok(d.isPaid);
  d.clearQr();
  assert.is(d.qr, null);
  assert.not.ok(d.isPaid);
});

t('display text: agent, caption and countdown lines', () => {
  assert.is(agentLine(null), 'Not claimed');
  assert.is(captionLine({ text: 't', caption: 'Coffee' }), 'Coffee');
  assert.is(captionLine({ text: 't', caption: '', amount: 3 }), '3.00');
  assert.is(countdownLine({ text: 't', caption: '' }, 0), '');
  assert.is(countdownLine({ text: 't', caption: '', expiresAt: 65_000 }, 0), 'Expires in 1:05');
  assert.is(countdownLine({ text: 't', caption: '', expiresAt: 65_000 }, 64_001), 'Expires in 0:01');
  assert.is(countdownLine({ text: 't', caption: '', expiresAt: 65_000 }, 65_000), 'Expired');
});

t.run();
