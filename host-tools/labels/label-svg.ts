// One label as a standalone SVG, the same size and layout as a cell of the PDF sheet.
import { labelGeometry, qrRects } from './label-layout';
import { LABEL_CAPTION, type LabelContent } from './label-content';

export const LABEL_WIDTH_MM = 63;
export const LABEL_HEIGHT_MM = 69;
const PT_PER_MM = 72 / 25.4;

// The viewer chooses the actual font, so widths are estimated from typical sans-serif advances
// (bold capitals and digits about 0.7 em, mixed text about 0.55 em).
function fitSize(text: string, maxSize: number, width: number, emPerChar: number): number {
  return Math.min(maxSize, width / Math.max(1, text.length * emPerChar));
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const n = (v: number): string => String(Math.round(v * 100) / 100);

export function renderLabelSvg(label: LabelContent): string {
  const w = LABEL_WIDTH_MM * PT_PER_MM;
  const h = LABEL_HEIGHT_MM * PT_PER_MM;
  const g = labelGeometry(w, h, label.qr);
  const path = qrRects(g, label.qr)
    .map((r) => `M${n(r.x)} ${n(r.y)}h${n(r.w)}v${n(r.h)}h${n(-r.w)}z`)
    .join('');
  const fleetSize = fitSize(label.fleet, g.fleet.size, g.textWidth, 0.55);
  const codeSize = fitSize(label.code, g.code.maxSize, g.textWidth, 0.7);
  const captionSize = fitSize(LABEL_CAPTION, g.caption.size, g.textWidth, 0.55);
  const urlSize = fitSize(label.shortUrl, g.url.size, g.textWidth, 0.55);
  const font = 'Helvetica, Arial, sans-serif';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH_MM}mm" height="${LABEL_HEIGHT_MM}mm" viewBox="0 0 ${n(w)} ${n(h)}">`,
    `<title>${xml(label.code)}: ${xml(label.url)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${n(w / 2)}" y="${n(g.fleet.y + fleetSize * 0.8)}" font-family="${font}" font-size="${n(fleetSize)}" text-anchor="middle">${xml(label.fleet)}</text>`,
    `<path fill="#000" shape-rendering="crispEdges" d="${path}"/>`,
    `<text x="${n(w / 2)}" y="${n(g.caption.y + captionSize * 0.8)}" font-family="${font}" font-size="${n(captionSize)}" text-anchor="middle">${LABEL_CAPTION}</text>`,
    `<text x="${n(w / 2)}" y="${n(g.code.y + codeSize * 0.8)}" font-family="${font}" font-weight="bold" font-size="${n(codeSize)}" text-anchor="middle">${xml(label.code)}</text>`,
    `<text x="${n(w / 2)}" y="${n(g.url.y + urlSize * 0.8)}" font-family="${font}" font-size="${n(urlSize)}" text-anchor="middle">${xml(label.shortUrl)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
