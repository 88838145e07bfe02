// Order labels: https://<host>/o/<code>.<sig> (docs/architecture.md, "Walk-up orders"). The
// signature is an HMAC of the code under the label key with the purpose in front, a domain apart
// from claim labels (labels.ts, which sign the bare code): a machine code cannot contain a
// newline, so no claim signature is ever an order signature or the reverse.
import { createHmac } from 'node:crypto';
import { orderLabelPath } from '../../protocol/order-label';
import { constantTimeEqual } from '../auth/secrets';

export function orderLabelSignature(key: string, code: string): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(`order\n${code}`).digest('hex').slice(0, 16);
}

export function verifyOrderLabel(key: string, code: string, sig: string): boolean {
  return constantTimeEqual(orderLabelSignature(key, code), sig);
}

export function orderLabelUrl(publicUrl: string, key: string, code: string): string {
  return publicUrl.replace(/\/+$/, '') + orderLabelPath(code, orderLabelSignature(key, code));
}
