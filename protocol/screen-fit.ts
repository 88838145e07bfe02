// What fits a device's screen (docs/architecture.md, Firmware): the device announces its screen
// in `hello`, the broker refuses at submit a qr.show it could not draw readably, and the
// firmware lays the screen out with the same numbers. Portable: runs on XS and Node.

/** Pixels of the whole display, as the device announces it in `hello`. */
export interface ScreenSize {
  width: number;
  height: number;
}

/** Height of one text line: the firmware's font (22 px line height as fontbm renders it) plus spacing. */
export const TEXT_LINE_PX = 25;
/** Lines above the QR (status, agent) and below it (caption, countdown). */
export const TEXT_LINES = 4;
export const TEXT_MARGIN_PX = 4;
/** The font's mean advance is 8.7 px; a caption is judged at 9 px a character. */
export const CHAR_PX = 9;
/** Light modules kept around the code on each side, so a reader finds its edge. */
export const QR_QUIET_MODULES = 2;
/** Below 2 px a module, phone cameras at arm's length no longer resolve a QR on these screens. */
export const MIN_MODULE_PX = 2;
export const QR_MAX_VERSION = 40;

/** The square the QR is drawn in: the screen minus the text lines. */
export function qrArea(screen: ScreenSize): { width: number; height: number } {
  return { width: screen.width, height: Math.max(0, screen.height - TEXT_LINES * TEXT_LINE_PX) };
}

/** Whole pixels per module for a code of `modules` modules on this screen (0: it does not fit). */
export function qrScale(screen: ScreenSize, modules: number): number {
  const area = qrArea(screen);
  return Math.floor(Math.min(area.width, area.height) / (modules + 2 * QR_QUIET_MODULES));
}

// Error correction level M, as Moddable's qrcode module encodes (qrcodegen, Ecc_MEDIUM); index = version.
const ECC_CODEWORDS_PER_BLOCK = [
  -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  28, 28,
];
const ECC_BLOCKS = [
  -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
];
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

function rawDataModules(version: number): number {
  let result = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    result -= (25 * align - 10) * align - 55;
    if (version >= 7) result -= 36;
  }
  return result;
}

function dataBits(version: number): number {
  return (Math.floor(rawDataModules(version) / 8) - (ECC_CODEWORDS_PER_BLOCK[version] as number) * (ECC_BLOCKS[version] as number)) * 8;
}

function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

type Mode = 'numeric' | 'alphanumeric' | 'byte';

function modeOf(text: string): Mode {
  if (/^[0-9]*$/.test(text)) return 'numeric';
  for (const ch of text) if (ALPHANUMERIC.indexOf(ch) < 0) return 'byte';
  return 'alphanumeric';
}

function segmentBits(mode: Mode, text: string, version: number): number {
  const tier = version <= 9 ? 0 : version <= 26 ? 1 : 2;
  if (mode === 'numeric') {
    const n = text.length;
    return 4 + [10, 12, 14][tier]! + Math.floor(n / 3) * 10 + (n % 3 === 0 ? 0 : (n % 3) * 3 + 1);
  }
  if (mode === 'alphanumeric') {
    const n = text.length;
    return 4 + [9, 11, 13][tier]! + Math.floor(n / 2) * 11 + (n % 2) * 6;
  }
  return 4 + [8, 16, 16][tier]! + utf8Length(text) * 8;
}

/**
 * Modules across the QR code the device draws for `text` (one segment, level M, the smallest
 * version that holds it), or null when not even version 40 holds it.
 */
export function qrModules(text: string): number | null {
  const mode = modeOf(text);
  for (let version = 1; version <= QR_MAX_VERSION; version++) {
    if (segmentBits(mode, text, version) <= dataBits(version)) return 17 + 4 * version;
  }
  return null;
}

/** Signs shown instead of the ISO 4217 code; the firmware's font has all but ₹ (drawn 'Rs'). */
const CURRENCY_SIGNS: Record<string, string> = { EUR: '€', GBP: '£', JPY: '¥', CNY: '¥', USD: '$', INR: '₹', BRL: 'R$', VND: '₫' };

/** The caption line under a QR: "Coffee  12.50 €" (the code where there is no common sign: "4.20 CHF"). */
export function captionText(caption: string, amount?: number, currency?: string): string {
  if (amount === undefined) return caption;
  const value = `${amount.toFixed(2)}${currency ? ' ' + (CURRENCY_SIGNS[currency] ?? currency) : ''}`;
  return caption ? `${caption}  ${value}` : value;
}

/** Characters of text one line of this screen holds. */
export function lineChars(screen: ScreenSize): number {
  return Math.floor((screen.width - 2 * TEXT_MARGIN_PX) / CHAR_PX);
}

export interface QrContent {
  text: string;
  caption: string;
  amount?: number;
  currency?: string;
}

/** Why this QR cannot be shown readably on this screen, or null when it can. */
export function qrMisfit(screen: ScreenSize, q: QrContent): { field: 'text' | 'caption'; reason: string } | null {
  const modules = qrModules(q.text);
  if (modules === null) return { field: 'text', reason: 'text is too long for any QR code (version 40 at error correction M)' };
  const scale = qrScale(screen, modules);
  if (scale < MIN_MODULE_PX) {
    const area = qrArea(screen);
    return {
      field: 'text',
      reason: `text needs a QR code of ${modules} modules, which the device's ${screen.width}x${screen.height} screen (a ${Math.min(area.width, area.height)} px square for the code) can draw only at ${scale} px a module; at least ${MIN_MODULE_PX} px are needed to scan it: shorten the text`,
    };
  }
  const line = captionText(q.caption, q.amount, q.currency);
  const room = lineChars(screen);
  if (line.length > room)
    return {
      field: 'caption',
      reason: `the caption line '${line.slice(0, 80)}' has ${line.length} characters; the device's ${screen.width} px wide screen shows ${room}`,
    };
  return null;
}
