// Signed machine labels: https://<host>/c/<code>.<sig>, sig = first 8 bytes of
// HMAC-SHA256(labelKey, code) in hex. Only the broker holds the key.
import { createHmac } from 'node:crypto';
import { labelPath } from '../protocol/claim-target';
import { poolLabelPath } from '../protocol/pool-label';
import { constantTimeEqual } from './auth/secrets';

export function labelSignature(key: string, code: string): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(code).digest('hex').slice(0, 16);
}

export function verifyLabel(key: string, code: string, sig: string): boolean {
  return constantTimeEqual(labelSignature(key, code), sig);
}

export function labelUrl(publicUrl: string, key: string, code: string): string {
  return publicUrl.replace(/\/+$/, '') + labelPath(code, labelSignature(key, code));
}

/**
 * A location label's signature (docs/architecture.md, Locations and pools): the same key under its
 * own purpose prefix, which no machine code can contain, so neither kind of label forges the other.
 */
export function poolLabelSignature(key: string, location: string): string {
  return labelSignature(key, `pool\n${location}`);
}

export function verifyPoolLabel(key: string, location: string, sig: string): boolean {
  return constantTimeEqual(poolLabelSignature(key, location), sig);
}

export function poolLabelUrl(publicUrl: string, key: string, location: string): string {
  return publicUrl.replace(/\/+$/, '') + poolLabelPath(location, poolLabelSignature(key, location));
}
