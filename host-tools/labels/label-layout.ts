// Where the parts of one label go, for a label of a given size (points, or pixels for the PNG):
// the fleet name at the top, the QR in the middle with "Scan to claim" under it, the machine code
// in large text, and the URL to type when there is no camera at the bottom. The PDF sheet, the
// SVG and the PNG share it, so a label looks the same in all three.
import { QUIET_ZONE, darkRuns, type QrMatrix } from './qr-matrix';

/** One label alone (SVG, PNG): about a cell of the A4 sheet of 3 × 4. */
export const LABEL_WIDTH_MM = 63;
export const LABEL_HEIGHT_MM = 69;
const PT_PER_MM = 72 / 25.4;
export const LABEL_WIDTH_PT = LABEL_WIDTH_MM * PT_PER_MM;
export const LABEL_HEIGHT_PT = LABEL_HEIGHT_MM * PT_PER_MM;

export interface LabelGeometry {
  width: number;
  height: number;
  fleet: { y: number; size: number };
  qr: { x: number; y: number; size: number; module: number };
  caption: { y: number; size: number };
  code: { y: number; maxSize: number };
  url: { y: number; size: number };
  /** Width the text may take, centred. */
  textWidth: number;
}

export function labelGeometry(width: number, height: number, m: QrMatrix): LabelGeometry {
  const pad = Math.min(width, height) * 0.06;
  const fleetSize = height * 0.055;
  const codeMax = height * 0.11;
  const captionSize = height * 0.045;
  const urlSize = height * 0.032;
  const qrTop = pad + fleetSize * 1.3;
  const below = captionSize * 1.3 + codeMax * 1.15 + urlSize * 1.3;
  const qrRoom = Math.min(width - 2 * pad, height - qrTop - below - pad);
  const module = qrRoom / (m.size + 2 * QUIET_ZONE);
  const qrSize = module * (m.size + 2 * QUIET_ZONE);
  return {
    width,
    height,
    fleet: { y: pad, size: fleetSize },
    qr: { x: (width - qrSize) / 2, y: qrTop, size: qrSize, module },
    caption: { y: qrTop + qrSize, size: captionSize },
    code: { y: qrTop + qrSize + captionSize * 1.3, maxSize: codeMax },
    url: { y: qrTop + qrSize + captionSize * 1.3 + codeMax * 1.15, size: urlSize },
    textWidth: width - 2 * pad,
  };
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The QR's dark modules as rectangles in label coordinates, one per horizontal run. */
export function qrRects(g: LabelGeometry, m: QrMatrix): Rect[] {
  const u = g.qr.module;
  return darkRuns(m).map((r) => ({ x: g.qr.x + (r.col + QUIET_ZONE) * u, y: g.qr.y + (r.row + QUIET_ZONE) * u, w: r.length * u, h: u }));
}
