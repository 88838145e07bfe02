// A4 sheets of labels in a grid, as a PDF with vector QR codes (pdfkit) and the labels' font
// embedded (label-font.ts). Light dashed lines mark where to cut; everything else is black on
// white so the QR prints with full contrast.
import PDFDocument from 'pdfkit';
import { labelGeometry, qrRects } from './label-layout';
import type { LabelContent } from './label-content';
import { FONT_FILES, type FontWeight, fitLine } from './label-font';

const MM = 72 / 25.4;
const A4 = { width: 210 * MM, height: 297 * MM };
const MARGIN = 10 * MM;
export const SHEET_COLUMNS = 3;
export const SHEET_ROWS = 4;
export const LABELS_PER_PAGE = SHEET_COLUMNS * SHEET_ROWS;

type Doc = PDFKit.PDFDocument;

/** One line centred in the label's text width, in the labels' font at the size fitLine chose. */
function line(doc: Doc, text: string, maxSize: number, weight: FontWeight, x: number, y: number, width: number): void {
  const fitted = fitLine(text, maxSize, width, weight);
  doc.font(FONT_FILES[weight]).fontSize(fitted.size).text(fitted.text, x, y, { width, align: 'center', lineBreak: false });
}

function drawLabel(doc: Doc, label: LabelContent, x: number, y: number, width: number, height: number): void {
  const g = labelGeometry(width, height, label.qr);
  doc.save().dash(3, { space: 3 }).lineWidth(0.3).strokeColor('#999999').rect(x, y, width, height).stroke().undash().restore();
  const left = x + (width - g.textWidth) / 2;
  doc.fillColor('black');
  line(doc, label.fleet, g.fleet.size, 'regular', left, y + g.fleet.y, g.textWidth);
  for (const r of qrRects(g, label.qr)) doc.rect(x + r.x, y + r.y, r.w, r.h);
  doc.fill('black');
  line(doc, label.caption, g.caption.size, 'regular', left, y + g.caption.y, g.textWidth);
  line(doc, label.code, g.code.maxSize, 'bold', left, y + g.code.y, g.textWidth);
  line(doc, label.shortUrl, g.url.size, 'regular', left, y + g.url.y, g.textWidth);
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
