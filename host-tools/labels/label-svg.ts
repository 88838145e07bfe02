// One label as a standalone SVG, the same size and layout as a cell of the PDF sheet. Text is
// sized with the labels' font (DejaVu Sans), which the SVG names first; a viewer without it
// falls back to a similar sans-serif.
import { LABEL_HEIGHT_MM, LABEL_HEIGHT_PT, LABEL_WIDTH_MM, LABEL_WIDTH_PT, labelGeometry, qrRects } from './label-layout';
import type { LabelContent } from './label-content';
import { ascent, fitLine } from './label-font';

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const n = (v: number): string => String(Math.round(v * 100) / 100);

export function renderLabelSvg(label: LabelContent): string {
  const w = LABEL_WIDTH_PT;
  const h = LABEL_HEIGHT_PT;
  const g = labelGeometry(w, h, label.qr);
  const path = qrRects(g, label.qr)
    .map((r) => `M${n(r.x)} ${n(r.y)}h${n(r.w)}v${n(r.h)}h${n(-r.w)}z`)
    .join('');
  const fleet = fitLine(label.fleet, g.fleet.size, g.textWidth, 'regular');
  const code = fitLine(label.code, g.code.maxSize, g.textWidth, 'bold');
  const caption = fitLine(label.caption, g.caption.size, g.textWidth, 'regular');
  const url = fitLine(label.shortUrl, g.url.size, g.textWidth, 'regular');
  const font = "'DejaVu Sans', Verdana, sans-serif";
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH_MM}mm" height="${LABEL_HEIGHT_MM}mm" viewBox="0 0 ${n(w)} ${n(h)}">`,
    `<title>${xml(label.code)}: ${xml(label.url)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${n(w / 2)}" y="${n(g.fleet.y + ascent(fleet.size, 'regular'))}" font-family="${font}" font-size="${n(fleet.size)}" text-anchor="middle">${xml(fleet.text)}</text>`,
    `<path fill="#000" shape-rendering="crispEdges" d="${path}"/>`,
    `<text x="${n(w / 2)}" y="${n(g.caption.y + ascent(caption.size, 'regular'))}" font-family="${font}" font-size="${n(caption.size)}" text-anchor="middle">${xml(caption.text)}</text>`,
    `<text x="${n(w / 2)}" y="${n(g.code.y + ascent(code.size, 'bold'))}" font-family="${font}" font-weight="bold" font-size="${n(code.size)}" text-anchor="middle">${xml(code.text)}</text>`,
    `<text x="${n(w / 2)}" y="${n(g.url.y + ascent(url.size, 'regular'))}" font-family="${font}" font-size="${n(url.size)}" text-anchor="middle">${xml(url.text)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
