// The characters the device's font has, and what is drawn for the rest (docs/architecture.md,
// Firmware). The font is built by the Moddable resource pipeline (fontbm) from the SDK's
// OpenSans-Semibold with exactly these blocks and characters (manifest.json, `resources`), so
// "Café 12,00 €" is drawn as written; a character outside it is drawn as its fallback, never
// as nothing. Portable: no Moddable or Node imports.

/** Unicode blocks of the font, as the manifest names them for mcconfig. */
export const FONT_BLOCKS = { 'Basic Latin': [0x20, 0x7e], 'Latin-1 Supplement': [0xa0, 0xff] } as const;
/** Characters beyond those blocks: currency signs OpenSans has, and typographic punctuation. */
export const FONT_EXTRA = '€₣₤₫‘’“”–—…•';

/**
 * Spelled out for currency signs the font lacks (₹ in the SDK's OpenSans, for one), and the
 * nearest plain character for common punctuation; anything else becomes FALLBACK.
 */
const SUBSTITUTES: Record<string, string> = {
  '₹': 'Rs',
  '₩': 'W',
  '₺': 'TL',
  '₽': 'RUB',
  '₴': 'UAH',
  '₦': 'N',
  '₱': 'P',
  '₪': 'ILS',
  '₿': 'BTC',
  '₡': 'CRC',
  '₵': 'GHS',
  '₸': 'KZT',
  '₼': 'AZN',
  '₲': 'PYG',
  '‚': ',',
  '„': '"',
  '‹': '<',
  '›': '>',
  '−': '-',
  '‐': '-',
  '‑': '-',
  '\u2009': ' ',
  '\u202f': ' ',
  '\u2007': ' ',
  '\t': ' ',
  '\n': ' ',
  '\r': ' ',
};
export const FALLBACK = '?';

export function inFont(ch: string): boolean {
  const c = ch.codePointAt(0) as number;
  for (const [from, to] of Object.values(FONT_BLOCKS)) if (c >= from && c <= to) return true;
  return FONT_EXTRA.indexOf(ch) >= 0;
}

/** The text as the font can draw it: characters it lacks become their substitute or FALLBACK. */
export function fontText(text: string): string {
  let out = '';
  let changed = false;
  for (const ch of text) {
    if (inFont(ch)) {
      out += ch;
      continue;
    }
    changed = true;
    out += SUBSTITUTES[ch] ?? FALLBACK;
  }
  return changed ? out : text;
}
