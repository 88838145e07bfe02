// The content-addressed blob store (docs/architecture.md, "Blobs"): uploaded designs and firmware
// images, named by the sha256 of their bytes. One interface, two backings: files under the data
// dir on a single SQLite node (file-store.ts), PostgreSQL bytea chunks when the registry is on
// PostgreSQL, so every cluster node serves every blob (pg-store.ts). A blob becomes visible only
// once all of its bytes are durable, so a reader never sees half of one.
import type { Readable } from 'node:stream';
import { ErrorCode, ProtocolError } from '../../protocol/errors';

export interface BlobInfo {
  /** Lower-case hex sha256 of the bytes: the blob's name. */
  sha256: string;
  size: number;
}

export interface PutOptions {
  /** Refuse (TOO_LARGE) and keep nothing once the input passes this many bytes. */
  maxBytes: number;
}

/** Inclusive byte positions, as in an HTTP Range. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStore {
  /** Stores the bytes and names them; storing bytes already held is a no-op answering the same name. */
  put(input: Buffer | AsyncIterable<Buffer | Uint8Array>, opts: PutOptions): Promise<BlobInfo>;
  /** The blob's size, or null when no complete blob has that name. */
  stat(sha256: string): Promise<BlobInfo | null>;
  has(sha256: string): Promise<boolean>;
  /** The blob's bytes (or the given inclusive range of them); NOT_FOUND when absent. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Removes what an interrupted put left behind (never a complete blob). */
  sweep(): Promise<void>;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function checkSha(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new ProtocolError(ErrorCode.BAD_ID, 'a blob is named by 64 lower-case hex digits (its sha256)', 'sha256');
}

export function tooLarge(maxBytes: number): ProtocolError {
  return new ProtocolError(ErrorCode.TOO_LARGE, `the upload is larger than ${maxBytes} bytes`);
}

export function notFound(sha256: string): ProtocolError {
  return new ProtocolError(ErrorCode.NOT_FOUND, `no blob ${sha256}`);
}

/** The input as chunks, whether it is one buffer or a stream. */
export async function* chunksOf(input: Buffer | AsyncIterable<Buffer | Uint8Array>): AsyncIterable<Buffer> {
  if (Buffer.isBuffer(input)) {
    yield input;
    return;
  }
  for await (const c of input) yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
