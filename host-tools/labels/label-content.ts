// One label's content: the machine code, the signed claim URL the broker issued for it, and the
// fleet name, with the QR matrix of the URL.
import { qrMatrix, type QrMatrix } from './qr-matrix';

/** What a machine label asks of whoever finds it. */
export const LABEL_CAPTION = 'Scan to claim';
/** What a walk-up order label offers a customer (docs/architecture.md, "Walk-up orders"). */
export const ORDER_CAPTION = 'Scan to order a print';
/** What a location label offers (docs/architecture.md, Locations and pools): the pool, no claim. */
export const LOCATION_CAPTION = 'Scan: any free machine';

export interface LabelContent {
  code: string;
  url: string;
  /** The URL to type without a camera: no scheme, nothing else dropped (the signature is the label). */
  shortUrl: string;
  fleet: string;
  /** The line above the code: what scanning does. */
  caption: string;
  qr: QrMatrix;
}

export function labelContent(l: { code: string; url: string; fleet: string }, caption = LABEL_CAPTION): LabelContent {
  return { code: l.code, url: l.url, shortUrl: l.url.replace(/^https?:\/\//, ''), fleet: l.fleet, caption, qr: qrMatrix(l.url) };
}
