// The PNG label and a cell of the PDF sheet share one layout and one font: rasterised, both have
// the same five bands of ink (fleet name, QR, "Scan to claim", machine code, short URL) at the
// same heights and widths relative to the label, the PNG's QR decodes to the signed URL, and the
// short URL really is drawn at the bottom of the PNG.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { labelContent } from '../../host-tools/labels/label-content';
import { renderLabelPng } from '../../host-tools/labels/label-png';
import { SHEET_COLUMNS, SHEET_ROWS, renderSheetPdf } from '../../host-tools/labels/sheet-pdf';
import { type Image, decodeOne, pdfPages, readPng } from '../helpers/qr-images';
import { requireTool } from '../helpers/tools';

const t = suite('labels: PNG and PDF share layout and font');
const MM = 25.4;

interface Band {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Runs of rows holding dark ink (the grey cut lines are not ink), with their horizontal extent. */
function bands(img: Image, x0: number, y0: number, w: number, h: number): Band[] {
  const out: Band[] = [];
  let cur: Band | null = null;
  for (let y = y0; y < y0 + h; y++) {
    let left = -1;
    let right = -1;
    for (let x = x0; x < x0 + w; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i]! < 100) {
        if (left < 0) left = x;
        right = x;
      }
    }
    if (left >= 0) {
      if (cur) [cur.bottom, cur.left, cur.right] = [y, Math.min(cur.left, left), Math.max(cur.right, right)];
      else cur = { top: y, bottom: y, left, right };
    } else if (cur) {
      out.push(cur);
      cur = null;
    }
  }
  if (cur) out.push(cur);
  // QR rows of one module can be blank between finder patterns: join bands closer than 1 % of the height.
  return out.reduce<Band[]>((acc, b) => {
    const last = acc.at(-1);
    if (last && b.top - last.bottom < h * 0.01) [last.bottom, last.left, last.right] = [b.bottom, Math.min(last.left, b.left), Math.max(last.right, b.right)];
    else acc.push({ ...b });
    return acc;
  }, []);
}

const relative = (b: Band, x0: number, y0: number, w: number, h: number) => ({
  top: (b.top - y0) / h,
  bottom: (b.bottom - y0) / h,
  left: (b.left - x0) / w,
  right: (b.right - x0) / w,
});

t('five bands at the same places in the PNG and in the PDF cell; the PNG QR scans; the URL is drawn', async () => {
  requireTool('pdftoppm', 'poppler-utils');
  const label = labelContent({ code: 'CT0700026', url: 'https://fleet.example.com/c/CT0700026.8dd19e87ccf25b77', fleet: 'Laundromat Zürich' });
  const png = readPng(renderLabelPng(label));
  assert.is(decodeOne(png), label.url);

  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-label-'));
  try {
    const file = join(dir, 'one.pdf');
    writeFileSync(file, await renderSheetPdf([label], 'one'));
    const dpi = 200;
    const [page] = await pdfPages(file, dpi);
    const px = (mm: number) => (mm / MM) * dpi;
    const cell = {
      x: Math.round(px(10)) + 2,
      y: Math.round(px(10)) + 2,
      w: Math.floor(px((210 - 20) / SHEET_COLUMNS)) - 4,
      h: Math.floor(px((297 - 20) / SHEET_ROWS)) - 4,
    };
    const inPdf = bands(page!, cell.x, cell.y, cell.w, cell.h).map((b) => relative(b, cell.x, cell.y, cell.w, cell.h));
    const inPng = bands(png, 0, 0, png.width, png.height).map((b) => relative(b, 0, 0, png.width, png.height));
    assert.is(inPng.length, 5, JSON.stringify(inPng));
    assert.is(inPdf.length, 5, JSON.stringify(inPdf));
    const names = ['fleet', 'QR', 'caption', 'code', 'short URL'];
    inPng.forEach((b, i) => {
      for (const k of ['top', 'bottom', 'left', 'right'] as const) {
        assert.ok(Math.abs(b[k] - inPdf[i]![k]) < 0.02, `${names[i]} ${k}: PNG ${b[k].toFixed(3)}, PDF ${inPdf[i]![k].toFixed(3)}`);
      }
    });
    const url = inPng[4]!;
    assert.ok(url.right - url.left > 0.8, `the short URL spans most of the width (${(url.right - url.left).toFixed(2)})`);
    assert.ok(url.top > inPng[3]!.bottom, 'the short URL is below the machine code');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
