// Where the parts of one label go, in points, for a label of a given size: the fleet name at the
// top, the QR in the middle, the machine code in large text under it. The PDF sheet and the SVG
// share it, so a label looks the same in both.
import { QUIET_ZONE, darkRuns, type QrMatrix } from './qr-matrix';

export interface LabelGeometry {
  width: number;
  height: number;
  fleet: { y: number; size: number };
  qr: { x: number; y: number; size: number; module: number };
  code: { y: number; maxSize: number };
  /** Width the text may take, centred. */
  textWidth: number;
}

export function labelGeometry(width: number, height: number, m: QrMatrix): LabelGeometry {
  const pad = Math.min(width, height) * 0.06;
  const fleetSize = height * 0.055;
  const codeMax = height * 0.13;
  const qrTop = pad + fleetSize * 1.3;
  const qrRoom = Math.min(width - 2 * pad, height - qrTop - codeMax * 1.25 - pad);
  const module = qrRoom / (m.size + 2 * QUIET_ZONE);
  const qrSize = module * (m.size + 2 * QUIET_ZONE);
  return {
    width,
    height,
    fleet: { y: pad, size: fleetSize },
    qr: { x: (width - qrSize) / 2, y: qrTop, size: qrSize, module },
    code: { y: qrTop + qrSize + codeMax * 0.1, maxSize: codeMax },
    textWidth: width - 2 * pad,
  };
}

export interface Rect { x: number; y: number; w: number; h: number }

/** The QR's dark modules as rectangles in label coordinates, one per horizontal run. */
export function qrRects(g: LabelGeometry, m: QrMatrix): Rect[] {
  const u = g.qr.module;
  return darkRuns(m).map((r) => ({ x: g.qr.x + (r.col + QUIET_ZONE) * u, y: g.qr.y + (r.row + QUIET_ZONE) * u, w: r.length * u, h: u }));
}
