// The screen (docs/architecture.md, Firmware): the font's fallbacks, caption lines and QR fit
// give the same answers on XS as on Node; the QR sizes agree with an independent QR encoder;
// the manifest builds the font with exactly the characters the firmware counts on; and a
// device with a screen announces it in hello, on both engines.
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { FONT_BLOCKS, FONT_EXTRA } from '../../firmware/core/font-text';
import { parseHello } from '../../protocol/messages';
import { qrModules } from '../../protocol/screen-fit';
import { suite } from '../helpers/suite';
import { bundleForXs, repoPath } from './harness/bundle';
import { makeDriver, type Engine } from './harness/drivers';
import { Peer } from './harness/peer';
import { XsnapWorker } from './harness/xsnap-worker';
import { runScreenTextScenario, type ScreenTextTranscript } from './screen-text-scenario';

const test = suite('the screen: font, captions and QR fit on Node and XS');

function check(t: ScreenTextTranscript): void {
  assert.equal(t.fontText, ['Café 12,00 €', 'Smørrebrød ½ £3 ¥500 ©®', 'Chai Rs40, W5000, BTC0.01', '“Quoted” – dash… • bullet', 'Emoji ? and ??', 'Tab here']);
  assert.equal(t.inFont, [true, true, true, true, false, false, true]);
  assert.equal(t.captions, ['Café  12.00 €', 'Tea  3.50 £', 'Ramen  900.00 ¥', 'Chai  40.00 Rs', 'Käse  4.20 CHF']);
  assert.equal(t.modules, [21, 25, 33, 69, 121, null]);
  assert.equal(t.scale, [8, 7, 5, 3, 1, 1]);
  assert.equal(t.misfit, [null, null, null, null, 'text', 'text', 'caption']);
}

test('on Node', () => {
  check(runScreenTextScenario());
});

test('under XS (xsnap), the same answers', async () => {
  const worker = new XsnapWorker('fleetbind-screen-text', () => new Uint8Array());
  try {
    await worker.evaluate(await bundleForXs({ entry: repoPath('test', 'xs', 'harness', 'screen-text-entry.ts') }));
    const xs = JSON.parse(new TextDecoder().decode(await worker.command(new Uint8Array([0])))) as ScreenTextTranscript;
    assert.equal(xs, runScreenTextScenario());
    check(xs);
  } finally {
    await worker.close();
  }
});

test('QR sizes agree with an independent encoder (node-qrcode, one segment, level M)', () => {
  const texts = [
    '7',
    '0123456789'.repeat(40),
    'HELLO WORLD',
    'PAY:12.50 EUR/ORDER-17'.repeat(12),
    'https://pay.example/?a=1',
    'Café €',
    'z'.repeat(2331),
    'z'.repeat(2332),
  ];
  for (let n = 1; n <= 1200; n += 37) texts.push('q'.repeat(n), '9'.repeat(n), 'A'.repeat(n));
  for (const text of texts) {
    const mode = /^[0-9]+$/.test(text) ? 'numeric' : /^[0-9A-Z $%*+\-./:]+$/.test(text) ? 'alphanumeric' : 'byte';
    let expected: number | null;
    try {
      expected = QRCode.create([{ data: mode === 'byte' ? Buffer.from(text, 'utf8') : text, mode } as never], { errorCorrectionLevel: 'M' }).modules.size;
    } catch {
      expected = null;
    }
    assert.is(qrModules(text), expected, `${mode} text of ${text.length} characters`);
  }
  assert.is(qrModules('z'.repeat(2332)), null, 'beyond version 40');
});

test('the manifest renders the font with the blocks and characters the firmware counts on', () => {
  const manifest = JSON.parse(readFileSync(repoPath('manifest.json'), 'utf8')) as { resources: Record<string, unknown> };
  const faces = manifest.resources['*-mask'] as { source: string; size: number; blocks: string[]; characters: string }[];
  assert.is(faces.length, 1);
  assert.is(faces[0]!.source, '$(MODDABLE)/examples/assets/scalablefonts/OpenSans/OpenSans-Semibold');
  assert.is(faces[0]!.size, 16, 'poco-display.ts loads OpenSans-Semibold-16.bf4');
  assert.equal(faces[0]!.blocks, Object.keys(FONT_BLOCKS));
  assert.is(faces[0]!.characters, FONT_EXTRA);
  assert.ok(FONT_EXTRA.includes('€'));
});

for (const engine of ['node', 'xs'] as Engine[]) {
  test(`a device with a screen announces it in hello (${engine})`, async () => {
    const peer = new Peer(await makeDriver(engine));
    try {
      await peer.boot({
        facts: { mac: 'A4:CF:12:B4:C9:E0', model: 'moddable_two', fw: '0.1.0', caps: ['qr.show', 'identify'], boot: 7, screen: { width: 240, height: 320 } },
      });
      await peer.online();
      const hello = parseHello(JSON.parse(peer.published('hello')[0]!.payload));
      assert.equal(hello.screen, { width: 240, height: 320 });
      peer.assertHealthy();
    } finally {
      await peer.d.close();
    }
  });
}

test.run();
