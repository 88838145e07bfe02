// ESP-IDF partition tables in their binary form (what gen_esp32part.py writes as
// partition-table.bin): 32-byte entries `<2sBBLL16sL` (magic AA 50, type, subtype, offset, size,
// NUL-padded label, flags), optionally an MD5 entry (EB EB, 14 x FF, then the MD5 of every entry
// before it), then 0xFF padding to 0xC00 bytes. Runs in the browser too.
import { md5 as md5Hash } from '@noble/hashes/legacy';

export const ENTRY_SIZE = 32;
export const MAX_TABLE_LENGTH = 0xc00;
export const PARTITION_TABLE_OFFSET = 0x8000;

export const PartitionType = { APP: 0x00, DATA: 0x01 } as const;
export const AppSubtype = { FACTORY: 0x00, OTA_0: 0x10, TEST: 0x20 } as const;
export const DataSubtype = { OTA: 0x00, PHY: 0x01, NVS: 0x02, COREDUMP: 0x03 } as const;

export interface Partition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  flags: number;
}

export class PartitionTableError extends Error {
  override name = 'PartitionTableError';
}

const MAGIC = [0xaa, 0x50];
const MD5_MAGIC = [0xeb, 0xeb];

export function parsePartitionTable(bytes: Uint8Array): Partition[] {
  const partitions: Partition[] = [];
  const md5 = md5Hash.create();
  for (let at = 0; at + ENTRY_SIZE <= bytes.length && at < MAX_TABLE_LENGTH; at += ENTRY_SIZE) {
    const entry = bytes.subarray(at, at + ENTRY_SIZE);
    if (entry.every((b) => b === 0xff)) return partitions;
    if (entry[0] === MD5_MAGIC[0] && entry[1] === MD5_MAGIC[1]) {
      const expected = md5.clone().digest();
      if (!expected.every((b, i) => b === entry[16 + i])) {
        throw new PartitionTableError(`partition table MD5 does not match its entries (entry at 0x${at.toString(16)})`);
      }
      continue;
    }
    if (entry[0] !== MAGIC[0] || entry[1] !== MAGIC[1]) {
      throw new PartitionTableError(`partition table entry at 0x${at.toString(16)} has no AA 50 magic; is this a partition table?`);
    }
    md5.update(entry);
    const view = new DataView(entry.buffer, entry.byteOffset, ENTRY_SIZE);
    const labelBytes = entry.subarray(12, 28);
    const nul = labelBytes.indexOf(0);
    partitions.push({
      type: entry[2]!,
      subtype: entry[3]!,
      offset: view.getUint32(4, true),
      size: view.getUint32(8, true),
      label: new TextDecoder().decode(nul >= 0 ? labelBytes.subarray(0, nul) : labelBytes),
      flags: view.getUint32(28, true),
    });
  }
  throw new PartitionTableError('partition table has no end marker');
}

/** Writes a table the way gen_esp32part.py does (with the MD5 entry). */
export function buildPartitionTable(partitions: Partition[]): Uint8Array {
  const out = new Uint8Array(MAX_TABLE_LENGTH).fill(0xff);
  const md5 = md5Hash.create();
  let at = 0;
  for (const p of partitions) {
    const label = new TextEncoder().encode(p.label);
    if (label.length > 16) throw new PartitionTableError(`partition label ${JSON.stringify(p.label)} is longer than 16 bytes`);
    const entry = new Uint8Array(ENTRY_SIZE);
    const view = new DataView(entry.buffer);
    entry.set(MAGIC, 0);
    entry[2] = p.type;
    entry[3] = p.subtype;
    view.setUint32(4, p.offset, true);
    view.setUint32(8, p.size, true);
    entry.set(label, 12);
    view.setUint32(28, p.flags, true);
    md5.update(entry);
    out.set(entry, at);
    at += ENTRY_SIZE;
  }
  if (at + ENTRY_SIZE >= MAX_TABLE_LENGTH) throw new PartitionTableError('too many partitions for one table');
  out.set([...MD5_MAGIC, ...new Array<number>(14).fill(0xff)], at);
  out.set(md5.digest(), at + 16);
  return out;
}

export function findPartition(partitions: Partition[], type: number, subtype: number): Partition | undefined {
  return partitions.find((p) => p.type === type && p.subtype === subtype);
}

/** The app the bootloader starts when no OTA data says otherwise: factory, else ota_0. */
export function bootApp(partitions: Partition[]): Partition | undefined {
  return findPartition(partitions, PartitionType.APP, AppSubtype.FACTORY) ?? findPartition(partitions, PartitionType.APP, AppSubtype.OTA_0);
}
