// Decodes an NVS partition image into its entries, checking every CRC on the way, as nvs_flash
// would on the device. Entries come back in the order they were written (pages by sequence
// number); a blob appears where its blob_idx is. Erased and uninitialised pages are skipped.
import {
  BITMAP_OFFSET,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  ENTRY_STATE,
  FIRST_ENTRY_OFFSET,
  INTEGER_TYPES,
  ITEM_TYPE,
  NvsError,
  PAGE_SIZE,
  PAGE_STATE,
  entryCrc,
  integerWidth,
  isSigned,
  pageHeaderCrc,
  type NvsEntry,
  type NvsIntegerType,
} from './format';
import { nvsCrc32 } from './crc32';
import { decodeUtf8 } from './values';

export type { NvsEntry } from './format';

interface Item {
  ns: number;
  key: string;
  type: NvsEntry['type'];
  value: NvsEntry['value'];
}

const INTEGER_BY_CODE = new Map<number, NvsIntegerType>(INTEGER_TYPES.map((t) => [ITEM_TYPE[t], t]));

export function readNvsPartition(bytes: Uint8Array): NvsEntry[] {
  if (bytes.length === 0 || bytes.length % PAGE_SIZE !== 0) {
    throw new NvsError(`an NVS image is a whole number of 4096-byte pages; got ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pages: { base: number; seq: number }[] = [];
  for (let base = 0; base < bytes.length; base += PAGE_SIZE) {
    const state = view.getUint32(base, true);
    if (state === PAGE_STATE.UNINITIALIZED) continue;
    const where = `page ${base / PAGE_SIZE}`;
    if (state !== PAGE_STATE.ACTIVE && state !== PAGE_STATE.FULL && state !== PAGE_STATE.FREEING) {
      throw new NvsError(`${where}: unknown page state 0x${state.toString(16)}`);
    }
    if (view.getUint32(base + 28, true) !== pageHeaderCrc(bytes.subarray(base, base + 32))) throw new NvsError(`${where}: header CRC mismatch`);
    pages.push({ base, seq: view.getUint32(base + 4, true) });
  }
  pages.sort((a, b) => a.seq - b.seq);

  const namespaces = new Map<number, string>();
  const items: Item[] = [];
  const chunks = new Map<string, Uint8Array>();
  for (const { base } of pages) readPage(bytes, view, base, namespaces, items, chunks);

  return items.map(({ ns, key, type, value }) => {
    const namespace = namespaces.get(ns);
    if (namespace === undefined) throw new NvsError(`key "${key}" is in namespace index ${ns}, which has no namespace entry`);
    return { namespace, key, type, value };
  });
}

function readPage(bytes: Uint8Array, view: DataView, base: number, namespaces: Map<number, string>, items: Item[], chunks: Map<string, Uint8Array>): void {
  const page = base / PAGE_SIZE;
  for (let i = 0; i < ENTRIES_PER_PAGE; ) {
    const state = (bytes[base + BITMAP_OFFSET + ((i * 2) >> 3)]! >> ((i * 2) & 7)) & 0b11;
    if (state !== ENTRY_STATE.WRITTEN) {
      i++;
      continue;
    }
    const at = base + FIRST_ENTRY_OFFSET + i * ENTRY_SIZE;
    const e = bytes.subarray(at, at + ENTRY_SIZE);
    const where = `page ${page} entry ${i}`;
    if (view.getUint32(at + 4, true) !== entryCrc(e)) throw new NvsError(`${where}: entry CRC mismatch`);
    const [ns, type, span, chunkIndex] = [e[0]!, e[1]!, e[2]!, e[3]!];
    if (span < 1 || i + span > ENTRIES_PER_PAGE) throw new NvsError(`${where}: span ${span} runs past the page`);
    const key = readKey(e.subarray(8, 24), where);
    const payload = (): Uint8Array => {
      const size = view.getUint16(at + 24, true);
      if (size > (span - 1) * ENTRY_SIZE) throw new NvsError(`${where}: key "${key}" claims ${size} bytes in ${span - 1} entries`);
      const data = bytes.subarray(at + ENTRY_SIZE, at + ENTRY_SIZE + size);
      if (view.getUint32(at + 28, true) !== nvsCrc32(data)) throw new NvsError(`${where}: key "${key}" data CRC mismatch`);
      return data;
    };

    const integer = INTEGER_BY_CODE.get(type);
    if (ns === 0) {
      if (type !== ITEM_TYPE.u8) throw new NvsError(`${where}: namespace table entry "${key}" has type 0x${type.toString(16)}, not u8`);
      namespaces.set(e[24]!, key);
    } else if (integer) {
      items.push({ ns, key, type: integer, value: readInteger(view, at + 24, integer) });
    } else if (type === ITEM_TYPE.string) {
      const data = payload();
      if (data.length === 0 || data[data.length - 1] !== 0) throw new NvsError(`${where}: string "${key}" is not NUL-terminated`);
      items.push({ ns, key, type: 'string', value: decodeUtf8(data.subarray(0, -1), `${where}: string "${key}"`) });
    } else if (type === ITEM_TYPE.blobV1) {
      items.push({ ns, key, type: 'blob', value: payload().slice() });
    } else if (type === ITEM_TYPE.blobData) {
      chunks.set(chunkId(ns, key, chunkIndex), payload());
    } else if (type === ITEM_TYPE.blobIndex) {
      items.push({ ns, key, type: 'blob', value: assembleBlob(view, at, ns, key, chunks, where) });
    } else {
      throw new NvsError(`${where}: key "${key}" has unknown item type 0x${type.toString(16)}`);
    }
    i += span;
  }
}

function readKey(field: Uint8Array, where: string): string {
  const end = field.indexOf(0);
  if (end < 1) throw new NvsError(`${where}: key is empty or not NUL-terminated`);
  return decodeUtf8(field.subarray(0, end), `${where}: key`);
}

function readInteger(view: DataView, at: number, type: NvsIntegerType): number | bigint {
  const width = integerWidth(type);
  const signed = isSigned(type);
  if (width === 8) return signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
  if (width === 4) return signed ? view.getInt32(at, true) : view.getUint32(at, true);
  if (width === 2) return signed ? view.getInt16(at, true) : view.getUint16(at, true);
  return signed ? view.getInt8(at) : view.getUint8(at);
}

function chunkId(ns: number, key: string, index: number): string {
  return `${ns}\0${key}\0${index}`;
}

function assembleBlob(view: DataView, at: number, ns: number, key: string, chunks: Map<string, Uint8Array>, where: string): Uint8Array {
  const size = view.getUint32(at + 24, true);
  const count = view.getUint8(at + 28);
  const start = view.getUint8(at + 29);
  const out = new Uint8Array(size);
  let offset = 0;
  for (let c = start; c < start + count; c++) {
    const id = chunkId(ns, key, c);
    const chunk = chunks.get(id);
    if (!chunk) throw new NvsError(`${where}: blob "${key}" is missing chunk ${c}`);
    if (offset + chunk.length > size) throw new NvsError(`${where}: blob "${key}" chunks exceed its size ${size}`);
    out.set(chunk, offset);
    offset += chunk.length;
    chunks.delete(id);
  }
  if (offset !== size) throw new NvsError(`${where}: blob "${key}" chunks hold ${offset} bytes, its index says ${size}`);
  return out;
}
