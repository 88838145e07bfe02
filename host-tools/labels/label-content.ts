// One label's content: the machine code, the signed claim URL the broker issued for it, and the
// fleet name, with the QR matrix of the URL.
import { qrMatrix, type QrMatrix } from './qr-matrix';

/** What a label asks of whoever finds it. */
export const LABEL_CAPTION = 'Scan to claim';

export interface LabelContent {
  code: string;
  url: string;
  /** The URL to type without a camera: no scheme, nothing else dropped (the signature is the label). */
  shortUrl: string;
  fleet: string;
  qr: QrMatrix;
}

export function labelContent(l: { code: string; url: string; fleet: string }): LabelContent {
  return { code: l.code, url: l.url, shortUrl: l.url.replace(/^https?:\/\//, ''), fleet: l.fleet, qr: qrMatrix(l.url) };
}
