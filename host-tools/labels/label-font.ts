// The one typeface of every label, DejaVu Sans (regular and bold, from the dejavu-fonts-ttf
// package): pdfkit embeds these files in the PDF and the PNG is drawn from their outlines, so
// both measure text the same way and fit it to the same sizes.
import { createRequire } from 'node:module';
import * as fontkit from 'fontkit';

const require = createRequire(import.meta.url);
export const FONT_FILES = {
  regular: require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
  bold: require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'),
} as const;
export type FontWeight = keyof typeof FONT_FILES;

const fonts = new Map<FontWeight, fontkit.Font>();
export function labelFont(weight: FontWeight): fontkit.Font {
  let f = fonts.get(weight);
  if (!f) fonts.set(weight, (f = fontkit.openSync(FONT_FILES[weight])));
  return f;
}

/** Text is never set smaller than this (points, or pixels for the PNG); longer text is cut short instead. */
export const MIN_FONT_SIZE = 6;

/** Characters the font has no glyph for print as '?' rather than as an empty box. */
export function printable(text: string, weight: FontWeight): string {
  const f = labelFont(weight);
  return [...text].map((c) => (f.hasGlyphForCodePoint(c.codePointAt(0)!) ? c : '?')).join('');
}

export function textWidth(text: string, size: number, weight: FontWeight): number {
  const f = labelFont(weight);
  return (f.layout(text).advanceWidth * size) / f.unitsPerEm;
}

/** Distance from the top of a line to its baseline, as pdfkit places text. */
export const ascent = (size: number, weight: FontWeight): number => (labelFont(weight).ascent * size) / labelFont(weight).unitsPerEm;

export interface FittedLine {
  text: string;
  size: number;
}

/** The size that fits the width, shrinking down to MIN_FONT_SIZE, then the text cut short with '…'. */
export function fitLine(raw: string, maxSize: number, width: number, weight: FontWeight): FittedLine {
  let text = printable(raw, weight);
  const w = textWidth(text, maxSize, weight);
  if (w <= width) return { text, size: maxSize };
  const size = Math.max(Math.min(MIN_FONT_SIZE, maxSize), (maxSize * width) / w);
  if (textWidth(text, size, weight) <= width) return { text, size };
  while (text.length > 1 && textWidth(`${text}…`, size, weight) > width) text = text.slice(0, -1);
  return { text: `${text}…`, size };
}
