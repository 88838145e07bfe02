// One label as a black-and-white PNG: fleet name, QR and machine code, drawn pixel by pixel so
// the QR modules are exact multiples of the pixel grid.
import { PNG } from 'pngjs';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, glyph, textWidth } from './bitmap-font';
import { LABEL_CAPTION, type LabelContent } from './label-content';
import { QUIET_ZONE, darkRuns } from './qr-matrix';

const MODULE_PX = 8;
const PAD = 16;
const MAX_CODE_SCALE = 8;
const MAX_FLEET_SCALE = 3;

class Canvas {
  readonly png: PNG;
  constructor(width: number, height: number) {
    this.png = new PNG({ width, height, colorType: 0, inputColorType: 6 });
    this.png.data.fill(255);
  }
  fill(x: number, y: number, w: number, h: number): void {
    const { width, height, data } = this.png;
    for (let row = Math.max(0, y); row < Math.min(height, y + h); row++) {
      for (let col = Math.max(0, x); col < Math.min(width, x + w); col++) {
        const i = (row * width + col) * 4;
        data[i] = data[i + 1] = data[i + 2] = 0;
      }
    }
  }
  /** Draws one line of text centred at y, each font pixel `scale` pixels square. */
  text(text: string, y: number, scale: number): void {
    let x = Math.floor((this.png.width - textWidth(text) * scale) / 2);
    for (const ch of text) {
      glyph(ch).forEach((line, gy) => {
        for (let gx = 0; gx < line.length; gx++) if (line[gx] === '#') this.fill(x + gx * scale, y + gy * scale, scale, scale);
      });
      x += GLYPH_ADVANCE * scale;
    }
  }
}

const scaleFor = (text: string, room: number, max: number): number => Math.max(1, Math.min(max, Math.floor(room / Math.max(1, textWidth(text)))));

/** Cuts text that would not fit at scale 1, marking the cut with '..'. */
function fitText(text: string, room: number): string {
  if (textWidth(text) <= room) return text;
  const chars = [...text];
  while (chars.length > 0 && textWidth(`${chars.join('')}..`) > room) chars.pop();
  return `${chars.join('')}..`;
}

export function renderLabelPng(label: LabelContent): Buffer {
  const qrPx = (label.qr.size + 2 * QUIET_ZONE) * MODULE_PX;
  const width = qrPx + 2 * PAD;
  const room = width - 2 * PAD;
  const fleet = fitText(label.fleet, room);
  const fleetScale = scaleFor(fleet, room, MAX_FLEET_SCALE);
  const codeScale = scaleFor(label.code, room, MAX_CODE_SCALE);
  const qrTop = PAD + GLYPH_HEIGHT * fleetScale;
  const captionScale = scaleFor(LABEL_CAPTION, room, MAX_FLEET_SCALE);
  const captionTop = qrTop + qrPx;
  const codeTop = captionTop + GLYPH_HEIGHT * captionScale + PAD / 2;
  const canvas = new Canvas(width, codeTop + GLYPH_HEIGHT * codeScale + PAD);
  canvas.text(fleet, PAD, fleetScale);
  for (const r of darkRuns(label.qr)) canvas.fill(PAD + (r.col + QUIET_ZONE) * MODULE_PX, qrTop + (r.row + QUIET_ZONE) * MODULE_PX, r.length * MODULE_PX, MODULE_PX);
  canvas.text(LABEL_CAPTION, captionTop, captionScale);
  canvas.text(label.code, codeTop, codeScale);
  return PNG.sync.write(canvas.png, { colorType: 0, inputColorType: 6 });
}
