// A4 sheets of labels in a grid, as a PDF with vector QR codes (pdfkit). Light dashed lines mark
// where to cut; everything else is black on white so the QR prints with full contrast.
import PDFDocument from 'pdfkit';
import { labelGeometry, qrRects } from './label-layout';
import type { LabelContent } from './label-content';

const MM = 72 / 25.4;
const A4 = { width: 210 * MM, height: 297 * MM };
const MARGIN = 10 * MM;
export const SHEET_COLUMNS = 3;
export const SHEET_ROWS = 4;
export const LABELS_PER_PAGE = SHEET_COLUMNS * SHEET_ROWS;

type Doc = PDFKit.PDFDocument;

function fitFontSize(doc: Doc, text: string, maxSize: number, width: number): number {
  doc.fontSize(maxSize);
  const w = doc.widthOfString(text);
  return w <= width ? maxSize : (maxSize * width) / w;
}

function drawLabel(doc: Doc, label: LabelContent, x: number, y: number, width: number, height: number): void {
  const g = labelGeometry(width, height, label.qr);
  doc.save().dash(3, { space: 3 }).lineWidth(0.3).strokeColor('#999999').rect(x, y, width, height).stroke().undash().restore();

  doc.font('Helvetica').fillColor('black');
  doc.fontSize(fitFontSize(doc, label.fleet, g.fleet.size, g.textWidth));
  doc.text(label.fleet, x + (width - g.textWidth) / 2, y + g.fleet.y, { width: g.textWidth, align: 'center', lineBreak: false });

  for (const r of qrRects(g, label.qr)) doc.rect(x + r.x, y + r.y, r.w, r.h);
  doc.fill('black');

  doc.font('Helvetica-Bold');
  doc.fontSize(fitFontSize(doc, label.code, g.code.maxSize, g.textWidth));
  doc.text(label.code, x + (width - g.textWidth) / 2, y + g.code.y, { width: g.textWidth, align: 'center', lineBreak: false });
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
