// One label as a grayscale PNG in the layout of the PDF sheet's cells (label-layout.ts) and its
// font (label-font.ts): fleet name, QR, "Scan to claim", machine code and the short URL. The QR
// is snapped to whole pixels a module so it scans as sharply as the vector one.
import { PNG } from 'pngjs';
import type { LabelContent } from './label-content';
import { type FontWeight, ascent, fitLine, textWidth } from './label-font';
import { LABEL_HEIGHT_PT, LABEL_WIDTH_PT, labelGeometry } from './label-layout';
import { QUIET_ZONE, darkRuns } from './qr-matrix';
import { type Gray, drawText } from './text-raster';

/** Pixels a QR module is about; the whole label is scaled to match. */
const MODULE_PX = 8;

export function renderLabelPng(label: LabelContent): Buffer {
  const modules = label.qr.size + 2 * QUIET_ZONE;
  const perPt = MODULE_PX / labelGeometry(LABEL_WIDTH_PT, LABEL_HEIGHT_PT, label.qr).qr.module;
  const width = Math.round(LABEL_WIDTH_PT * perPt);
  const height = Math.round(LABEL_HEIGHT_PT * perPt);
  const g = labelGeometry(width, height, label.qr);
  const img: Gray = { width, height, data: new Uint8Array(width * height).fill(255) };

  const module = Math.max(1, Math.floor(g.qr.module));
  const qrX = Math.round((width - module * modules) / 2);
  const qrY = Math.round(g.qr.y + (g.qr.size - module * modules) / 2);
  for (const r of darkRuns(label.qr)) {
    const y0 = qrY + (r.row + QUIET_ZONE) * module;
    const x0 = qrX + (r.col + QUIET_ZONE) * module;
    for (let y = y0; y < y0 + module; y++) img.data.fill(0, y * width + x0, y * width + x0 + r.length * module);
  }

  const line = (text: string, top: number, maxSize: number, weight: FontWeight) => {
    const fitted = fitLine(text, maxSize, g.textWidth, weight);
    drawText(img, fitted.text, (width - textWidth(fitted.text, fitted.size, weight)) / 2, top + ascent(fitted.size, weight), fitted.size, weight);
  };
  line(label.fleet, g.fleet.y, g.fleet.size, 'regular');
  line(label.caption, g.caption.y, g.caption.size, 'regular');
  line(label.code, g.code.y, g.code.maxSize, 'bold');
  line(label.shortUrl, g.url.y, g.url.size, 'regular');

  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(img.data);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}
