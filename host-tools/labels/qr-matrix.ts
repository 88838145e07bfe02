// The QR symbol of a label URL as a module matrix, and its dark modules merged into horizontal
// runs, so every renderer draws the same vector shapes (one rectangle per run, not per module).
import QRCode from 'qrcode';

/** Light modules around the symbol, as the QR specification asks for. */
export const QUIET_ZONE = 4;

export interface QrMatrix {
  size: number;
  dark(row: number, col: number): boolean;
}

export interface Run {
  row: number;
  col: number;
  length: number;
}

export function qrMatrix(text: string): QrMatrix {
  // Level M survives a scuffed or badly printed label and keeps a short URL at version 3 or 4.
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  return { size: modules.size, dark: (row, col) => modules.get(row, col) === 1 };
}

export function darkRuns(m: QrMatrix): Run[] {
  const runs: Run[] = [];
  for (let row = 0; row < m.size; row++) {
    let start = -1;
    for (let col = 0; col <= m.size; col++) {
      const dark = col < m.size && m.dark(row, col);
      if (dark && start < 0) start = col;
      if (!dark && start >= 0) {
        runs.push({ row, col: start, length: col - start });
        start = -1;
      }
    }
  }
  return runs;
}
