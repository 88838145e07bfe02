// What the device draws and what the broker judges, computed by the same code on Node and on XS
// (screen.test.ts): text through the font's fallbacks, caption lines with currency signs, QR
// sizes and the fit against a screen.
import { captionLine } from '../../firmware/core/display-text';
import { fontText, inFont } from '../../firmware/core/font-text';
import { qrMisfit, qrModules, qrScale } from '../../protocol/screen-fit';

export const SCREEN_TEXTS = [
  'Café 12,00 €',
  'Smørrebrød ½ £3 ¥500 ©®',
  'Chai ₹40, ₩5000, ₿0.01',
  '“Quoted” – dash… • bullet',
  'Emoji 😀 and 中文',
  'Tab\there',
];

export interface ScreenTextTranscript {
  fontText: string[];
  inFont: boolean[];
  captions: string[];
  modules: (number | null)[];
  scale: number[];
  misfit: (string | null)[];
}

export function runScreenTextScenario(): ScreenTextTranscript {
  const screen = { width: 240, height: 320 };
  const payloads = [
    '12345678901234567890',
    'HTTPS://PAY.EXAMPLE/ABC',
    'https://pay.example/checkout?order=17&amount=12.50',
    'x'.repeat(300),
    'x'.repeat(1000),
    'y'.repeat(3000),
  ];
  return {
    fontText: SCREEN_TEXTS.map(fontText),
    inFont: ['A', 'é', 'ÿ', '€', '₹', '😀', '\u00a0'].map(inFont),
    captions: [
      captionLine({ text: 't', caption: 'Café', amount: 12, currency: 'EUR' }),
      captionLine({ text: 't', caption: 'Tea', amount: 3.5, currency: 'GBP' }),
      captionLine({ text: 't', caption: 'Ramen', amount: 900, currency: 'JPY' }),
      captionLine({ text: 't', caption: 'Chai', amount: 40, currency: 'INR' }),
      captionLine({ text: 't', caption: 'Käse', amount: 4.2, currency: 'CHF' }),
    ].map(fontText),
    modules: payloads.map(qrModules),
    scale: payloads.map((p) => qrScale(screen, qrModules(p) ?? 177)),
    misfit: [
      ...payloads.map((text) => qrMisfit(screen, { text, caption: 'Order 17', amount: 12.5, currency: 'EUR' })),
      qrMisfit(screen, { text: 'ok', caption: 'A caption far too long for a small screen' }),
    ].map((m) => (m === null ? null : m.field)),
  };
}
