// A4 sheets of labels in a grid, as a PDF with vector QR codes (pdfkit). Light dashed lines mark
// where to cut; everything else is black on white so the QR prints with full contrast.
import PDFDocument from 'pdfkit';
import { labelGeometry, qrRects } from './label-layout';
import { LABEL_CAPTION, type LabelContent } from './label-content';

const MM = 72 / 25.4;
const A4 = { width: 210 * MM, height: 297 * MM };
const MARGIN = 10 * MM;
export const SHEET_COLUMNS = 3;
export const SHEET_ROWS = 4;
export const LABELS_PER_PAGE = SHEET_COLUMNS * SHEET_ROWS;

type Doc = PDFKit.PDFDocument;

const MIN_FONT_SIZE = 6;

// The standard PDF fonts encode WinAnsi only; other characters would print as unrelated glyphs.
const WIN_ANSI_EXTRA = '€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ';
const printable = (text: string): string => [...text].map((c) => (/[\x20-\x7e\xa0-\xff]/.test(c) || WIN_ANSI_EXTRA.includes(c) ? c : '?')).join('');

/** Sets the font size for text to fit the width, shrinking it down to MIN_FONT_SIZE, then cutting it short. */
function fitText(doc: Doc, raw: string, maxSize: number, width: number): string {
  let text = printable(raw);
  doc.fontSize(maxSize);
  const w = doc.widthOfString(text);
  if (w <= width) return text;
  const size = Math.max(MIN_FONT_SIZE, (maxSize * width) / w);
  doc.fontSize(size);
  if (doc.widthOfString(text) <= width) return text;
  while (text.length > 1 && doc.widthOfString(`${text}…`) > width) text = text.slice(0, -1);
  return `${text}…`;
}

function drawLabel(doc: Doc, label: LabelContent, x: number, y: number, width: number, height: number): void {
  const g = labelGeometry(width, height, label.qr);
  doc.save().dash(3, { space: 3 }).lineWidth(0.3).strokeColor('#999999').rect(x, y, width, height).stroke().undash().restore();

  doc.font('Helvetica').fillColor('black');
  const fleet = fitText(doc, label.fleet, g.fleet.size, g.textWidth);
  doc.text(fleet, x + (width - g.textWidth) / 2, y + g.fleet.y, { width: g.textWidth, align: 'center', lineBreak: false });

  for (const r of qrRects(g, label.qr)) doc.rect(x + r.x, y + r.y, r.w, r.h);
  doc.fill('black');

  doc.font('Helvetica');
  doc.text(fitText(doc, LABEL_CAPTION, g.caption.size, g.textWidth), x + (width - g.textWidth) / 2, y + g.caption.y, { width: g.textWidth, align: 'center', lineBreak: false });

  doc.font('Helvetica-Bold');
  const code = fitText(doc, label.code, g.code.maxSize, g.textWidth);
  doc.text(code, x + (width - g.textWidth) / 2, y + g.code.y, { width: g.textWidth, align: 'center', lineBreak: false });

  doc.font('Helvetica');
  doc.text(fitText(doc, label.shortUrl, g.url.size, g.textWidth), x + (width - g.textWidth) / 2, y + g.url.y, { width: g.textWidth, align: 'center', lineBreak: false });
}

/** The whole sheet set as PDF bytes: LABELS_PER_PAGE labels a page, left to right, top to bottom. */
export function renderSheetPdf(labels: LabelContent[], title: string): Promise<Buffer> {
  const doc = new PDFDocument({ size: 'A4', margin: 0, autoFirstPage: false, info: { Title: title, Creator: 'fleetbind labels' } });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const cellW = (A4.width - 2 * MARGIN) / SHEET_COLUMNS;
  const cellH = (A4.height - 2 * MARGIN) / SHEET_ROWS;
  labels.forEach((label, i) => {
    const slot = i % LABELS_PER_PAGE;
    if (slot === 0) doc.addPage();
    const col = slot % SHEET_COLUMNS;
    const row = Math.floor(slot / SHEET_COLUMNS);
    drawLabel(doc, label, MARGIN + col * cellW, MARGIN + row * cellH, cellW, cellH);
  });
  doc.end();
  return done;
}
