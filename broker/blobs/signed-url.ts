// Short-lived signed blob URLs (docs/architecture.md, "Blobs"): /api/blobs/<sha>?exp=<s>&sig=<hex>
// (and `type` when the URL serves an image to a browser). The signature is an HMAC under a key
// derived from the fleet's label key for this one purpose, so no label signature is ever a valid
// blob signature or the reverse. Anyone holding the URL may fetch the blob until it expires:
// devices and browsers fetch without a session.
import { createHmac } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { constantTimeEqual } from '../auth/secrets';
import { checkSha } from './store';

/** What a signed URL may ask the blob to be served as. */
export const BLOB_TYPES = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', bin: 'application/octet-stream' } as const;
export type BlobType = keyof typeof BLOB_TYPES;

export interface SignedBlobQuery {
  exp?: string;
  sig?: string;
  type?: string;
}

export class BlobUrls {
  private readonly key: Buffer;

  constructor(
    labelKey: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', Buffer.from(labelKey, 'hex')).update('fleetbind blob url v1').digest();
  }

  private sign(sha256: string, exp: number, type: BlobType): string {
    return createHmac('sha256', this.key).update(`${sha256}\n${exp}\n${type}`).digest('hex').slice(0, 32);
  }

  /** A path (no host) that serves the blob until ttlMs from now. */
  path(sha256: string, ttlMs: number, type: BlobType = 'bin'): string {
    checkSha(sha256);
    const exp = Math.ceil((this.now() + ttlMs) / 1000);
    const typePart = type === 'bin' ? '' : `&type=${type}`;
    return `/api/blobs/${sha256}?exp=${exp}${typePart}&sig=${this.sign(sha256, exp, type)}`;
  }

  /** The content type a valid URL serves the blob as; refuses a missing, forged or expired signature. */
  verify(sha256: string, q: SignedBlobQuery): BlobType {
    checkSha(sha256);
    if (q.exp === undefined || q.sig === undefined)
      throw new ProtocolError(ErrorCode.BAD_SIGNATURE, 'a blob URL needs exp and sig; ask for a fresh one', q.exp === undefined ? 'exp' : 'sig');
    if (!/^[0-9]{1,12}$/.test(q.exp)) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'exp is seconds since the epoch', 'exp');
    const type = (q.type ?? 'bin') as BlobType;
    if (!Object.hasOwn(BLOB_TYPES, type)) throw new ProtocolError(ErrorCode.BAD_REQUEST, `type is one of ${Object.keys(BLOB_TYPES).join(', ')}`, 'type');
    const exp = Number(q.exp);
    // The signature first: an altered exp is a forgery, not an expiry.
    if (!constantTimeEqual(this.sign(sha256, exp, type), q.sig))
      throw new ProtocolError(ErrorCode.BAD_SIGNATURE, 'the blob URL signature does not match', 'sig');
    if (exp * 1000 <= this.now()) throw new ProtocolError(ErrorCode.LINK_EXPIRED, 'the blob URL has expired; ask for a fresh one', 'exp');
    return type;
  }
}
