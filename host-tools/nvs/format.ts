// ESP-IDF NVS on-flash layout, format version 2 (multi-page blobs), as written by
// Espressif's nvs_partition_gen.py and read by nvs_flash.
//
// Page (4096 bytes): 32-byte header, 32-byte entry state bitmap, 126 entries of 32 bytes.
// Header: state u32 | sequence u32 | version u8 | 19 x 0xFF | crc32(bytes 4..27) u32.
// Entry:  ns u8 | type u8 | span u8 | chunkIndex u8 | crc32(bytes 0..3 ++ 8..31) u32 |
//         key[16] (NUL padded) | data[8].
// Variable-length items (strings, blob chunks) put size u16 | 0xFFFF | crc32(payload) u32 in
// the data field and the payload in the following span-1 entries.
import { nvsCrc32 } from './crc32';

export const PAGE_SIZE = 4096;
export const ENTRY_SIZE = 32;
export const ENTRIES_PER_PAGE = 126;
export const BITMAP_OFFSET = 32;
export const FIRST_ENTRY_OFFSET = 64;
/** Like the reference tool: two pages of data at least, plus the one the device keeps free. */
export const MIN_PARTITION_SIZE = 3 * PAGE_SIZE;

export const PAGE_STATE = {
  UNINITIALIZED: 0xffffffff,
  ACTIVE: 0xfffffffe,
  FULL: 0xfffffffc,
  FREEING: 0xfffffff8,
} as const;
export const PAGE_VERSION_2 = 0xfe;
export const CHUNK_ANY = 0xff;

/** Two bits per entry in the page bitmap. */
export const ENTRY_STATE = { EMPTY: 0b11, WRITTEN: 0b10, ERASED: 0b00 } as const;

export const ITEM_TYPE = {
  u8: 0x01,
  i8: 0x11,
  u16: 0x02,
  i16: 0x12,
  u32: 0x04,
  i32: 0x14,
  u64: 0x08,
  i64: 0x18,
  string: 0x21,
  blobV1: 0x41,
  blobData: 0x42,
  blobIndex: 0x48,
} as const;

export const MAX_KEY_BYTES = 15;
/** Largest string payload, its NUL terminator included (ESP-IDF's Page::CHUNK_MAX_SIZE). */
export const MAX_STRING_BYTES = (ENTRIES_PER_PAGE - 1) * ENTRY_SIZE;
/** Namespace index 0 holds the namespace table and 255 is reserved. */
export const MAX_NAMESPACES = 254;

export type NvsIntegerType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';
export type NvsType = NvsIntegerType | 'string' | 'blob';
export const INTEGER_TYPES: readonly NvsIntegerType[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64'];

export interface NvsEntry {
  namespace: string;
  key: string;
  type: NvsType;
  /** number or bigint for integers (the reader gives bigint for u64/i64), string, or Uint8Array for blob. */
  value: number | bigint | string | Uint8Array;
}

/** Input the generator refuses, or an image the reader cannot decode. */
export class NvsError extends Error {
  override name = 'NvsError';
}

export function integerWidth(type: NvsIntegerType): 1 | 2 | 4 | 8 {
  return (ITEM_TYPE[type] & 0x0f) as 1 | 2 | 4 | 8;
}

export function isSigned(type: NvsIntegerType): boolean {
  return (ITEM_TYPE[type] & 0x10) !== 0;
}

export function integerRange(type: NvsIntegerType): { min: bigint; max: bigint } {
  const bits = BigInt(integerWidth(type) * 8);
  return isSigned(type) ? { min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n } : { min: 0n, max: (1n << bits) - 1n };
}

/** Computes and stores the entry CRC, which skips the CRC field itself. */
export function sealEntry(entry: Uint8Array): void {
  new DataView(entry.buffer, entry.byteOffset, ENTRY_SIZE).setUint32(4, entryCrc(entry), true);
}

export function entryCrc(entry: Uint8Array): number {
  const covered = new Uint8Array(28);
  covered.set(entry.subarray(0, 4), 0);
  covered.set(entry.subarray(8, 32), 4);
  return nvsCrc32(covered);
}

export function pageHeaderCrc(header: Uint8Array): number {
  return nvsCrc32(header.subarray(4, 28));
}
