// One label's content: the machine code, the signed claim URL the broker issued for it, and the
// fleet name, with the QR matrix of the URL.
import { qrMatrix, type QrMatrix } from './qr-matrix';

export interface LabelContent { code: string; url: string; fleet: string; qr: QrMatrix }

export function labelContent(l: { code: string; url: string; fleet: string }): LabelContent {
  return { code: l.code, url: l.url, fleet: l.fleet, qr: qrMatrix(l.url) };
}
