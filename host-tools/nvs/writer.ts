// Builds an NVS partition image the way Espressif's nvs_partition_gen.py (format version 2)
// lays it out, so the same input gives the same bytes: items in input order, a new page when an
// item does not fit the current one (the old page marked FULL), blobs split into blob_data chunks
// across pages followed by a blob_idx, and every page after the last written one left erased
// (0xFF, no header), the final one being the page the device keeps free.
import {
  CHUNK_ANY,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  FIRST_ENTRY_OFFSET,
  BITMAP_OFFSET,
  ITEM_TYPE,
  MAX_NAMESPACES,
  MIN_PARTITION_SIZE,
  NvsError,
  PAGE_SIZE,
  PAGE_STATE,
  PAGE_VERSION_2,
  integerWidth,
  pageHeaderCrc,
  sealEntry,
  type NvsEntry,
  type NvsIntegerType,
} from './format';
import { nvsCrc32 } from './crc32';
import { entryPayload, nameBytes } from './values';

export type { NvsEntry, NvsType } from './format';

/**
 * What the generator writes, in order. An entry switches to its namespace (writing the namespace
 * entry the first time it is seen); an explicit namespace record does that alone, as a CSV
 * `namespace` row does even when no entry follows. `origin` (e.g. "line 7") prefixes errors.
 */
export type NvsRecord = { kind: 'namespace'; name: string; origin?: string } | { kind: 'entry'; entry: NvsEntry; origin?: string };

/** Chunk indexes of format version 2 blobs run from 0 to 127 (128 and up is the other version). */
const MAX_BLOB_CHUNKS = 128;

export function buildNvsPartition(entries: NvsEntry[], sizeBytes: number): Uint8Array {
  return buildNvsImage(
    entries.map((entry) => ({ kind: 'entry', entry })),
    sizeBytes,
  );
}

export function buildNvsImage(records: NvsRecord[], sizeBytes: number): Uint8Array {
  checkPartitionSize(sizeBytes);
  const writer = new ImageWriter(sizeBytes);
  const namespaces = new Map<string, number>();
  const seen = new Set<string>();
  let current = 0;

  const openNamespace = (name: string): void => {
    const known = namespaces.get(name);
    if (known !== undefined) {
      current = known;
      return;
    }
    const bytes = nameBytes(name, 'namespace');
    if (namespaces.size >= MAX_NAMESPACES) throw new NvsError(`namespace "${name}" is one too many: NVS holds at most ${MAX_NAMESPACES} namespaces`);
    current = namespaces.size + 1;
    namespaces.set(name, current);
    writer.writeInteger(0, bytes, 'u8', BigInt(current), `namespace "${name}"`);
  };

  for (const record of records) {
    try {
      if (record.kind === 'namespace') {
        openNamespace(record.name);
        continue;
      }
      const { entry } = record;
      const key = nameBytes(entry.key, 'key');
      const payload = entryPayload(entry);
      openNamespace(entry.namespace);
      const id = `${entry.namespace}\0${entry.key}`;
      if (seen.has(id)) throw new NvsError(`key "${entry.key}" appears twice in namespace "${entry.namespace}"`);
      seen.add(id);
      const what = `key "${entry.key}"`;
      if (payload.kind === 'integer') writer.writeInteger(current, key, payload.type, payload.value, what);
      else if (payload.kind === 'string') writer.writeString(current, key, payload.bytes, what);
      else writer.writeBlob(current, key, payload.bytes, what);
    } catch (e) {
      if (e instanceof NvsError && record.origin) throw new NvsError(`${record.origin}: ${e.message}`);
      throw e;
    }
  }
  return writer.image;
}

export function checkPartitionSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new NvsError(`partition size must be a positive integer, got ${sizeBytes}`);
  if (sizeBytes % PAGE_SIZE !== 0) throw new NvsError(`partition size 0x${sizeBytes.toString(16)} is not a multiple of 4096 (0x1000)`);
  if (sizeBytes < MIN_PARTITION_SIZE) {
    throw new NvsError(
      `partition size 0x${sizeBytes.toString(16)} is too small: a read/write NVS partition needs at least 0x${MIN_PARTITION_SIZE.toString(16)} bytes`,
    );
  }
}

class ImageWriter {
  readonly image: Uint8Array;
  private readonly view: DataView;
  /** All pages but the last, which the device keeps free for garbage collection. */
  private readonly dataPages: number;
  private page = -1;
  private entry = 0;

  constructor(size: number) {
    this.image = new Uint8Array(size).fill(0xff);
    this.view = new DataView(this.image.buffer);
    this.dataPages = size / PAGE_SIZE - 1;
    this.startPage();
  }

  writeInteger(ns: number, key: Uint8Array, type: NvsIntegerType, value: bigint, what: string): void {
    if (this.entry >= ENTRIES_PER_PAGE) this.openPage(what);
    const e = entryHeader(ns, ITEM_TYPE[type], 1, CHUNK_ANY, key);
    const width = integerWidth(type);
    let bits = BigInt.asUintN(width * 8, value);
    for (let i = 0; i < width; i++, bits >>= 8n) e[24 + i] = Number(bits & 0xffn);
    sealEntry(e);
    this.put(e, 1);
  }

  writeString(ns: number, key: Uint8Array, bytes: Uint8Array, what: string): void {
    const span = entriesFor(bytes.length) + 1;
    // The reference generator moves a string to a new page unless it leaves an entry free behind
    // it, so a 126-entry string can never be placed there (it crashes); here it gets an empty page.
    const fits = this.entry === 0 ? span <= ENTRIES_PER_PAGE : this.entry + span < ENTRIES_PER_PAGE;
    if (!fits) this.openPage(what);
    this.putVariable(ns, ITEM_TYPE.string, CHUNK_ANY, key, bytes);
  }

  writeBlob(ns: number, key: Uint8Array, bytes: Uint8Array, what: string): void {
    if (this.entry >= ENTRIES_PER_PAGE) this.openPage(what);
    let offset = 0;
    let chunks = 0;
    for (;;) {
      // Room for the chunk's data after its header, counted as the reference tool does.
      const tailroom = (ENTRIES_PER_PAGE - this.entry - 1) * ENTRY_SIZE;
      const size = Math.min(tailroom, bytes.length - offset);
      if (chunks >= MAX_BLOB_CHUNKS) throw new NvsError(`${what}: blob needs more than ${MAX_BLOB_CHUNKS} chunks`);
      this.putVariable(ns, ITEM_TYPE.blobData, chunks, key, bytes.subarray(offset, offset + size));
      chunks++;
      offset += size;
      const done = offset === bytes.length;
      if (!done || tailroom - size < ENTRY_SIZE) this.openPage(what);
      if (done) break;
    }
    const idx = entryHeader(ns, ITEM_TYPE.blobIndex, 1, CHUNK_ANY, key);
    new DataView(idx.buffer).setUint32(24, bytes.length, true);
    idx[28] = chunks;
    idx[29] = 0; // chunk start: version 2 numbering begins at 0
    sealEntry(idx);
    this.put(idx, 1);
  }

  private putVariable(ns: number, type: number, chunkIndex: number, key: Uint8Array, data: Uint8Array): void {
    const count = entriesFor(data.length);
    const e = entryHeader(ns, type, count + 1, chunkIndex, key);
    const dv = new DataView(e.buffer);
    dv.setUint16(24, data.length, true);
    dv.setUint32(28, nvsCrc32(data), true);
    sealEntry(e);
    this.put(e, 1);
    this.put(data, count);
  }

  /** Writes `bytes` at the next free entry and marks `count` entries written. */
  private put(bytes: Uint8Array, count: number): void {
    const base = this.page * PAGE_SIZE;
    this.image.set(bytes, base + FIRST_ENTRY_OFFSET + this.entry * ENTRY_SIZE);
    for (let i = 0; i < count; i++, this.entry++) {
      const bit = this.entry * 2;
      this.image[base + BITMAP_OFFSET + (bit >> 3)]! &= ~(1 << (bit & 7));
    }
  }

  /** Closes the current page (FULL) and starts the next; `what` is the item that needs it. */
  private openPage(what: string): void {
    this.view.setUint32(this.page * PAGE_SIZE, PAGE_STATE.FULL, true);
    if (this.page + 1 >= this.dataPages) {
      throw new NvsError(
        `${what} does not fit: a partition of 0x${this.image.length.toString(16)} bytes has ${this.dataPages} data pages ` +
          `(one more is kept free) and they are full; use a larger size`,
      );
    }
    this.startPage();
  }

  private startPage(): void {
    this.page++;
    this.entry = 0;
    const base = this.page * PAGE_SIZE;
    this.view.setUint32(base, PAGE_STATE.ACTIVE, true);
    this.view.setUint32(base + 4, this.page, true);
    this.image[base + 8] = PAGE_VERSION_2;
    this.view.setUint32(base + 28, pageHeaderCrc(this.image.subarray(base, base + 32)), true);
  }
}

function entriesFor(bytes: number): number {
  return Math.ceil(bytes / ENTRY_SIZE);
}

function entryHeader(ns: number, type: number, span: number, chunkIndex: number, key: Uint8Array): Uint8Array {
  const e = new Uint8Array(ENTRY_SIZE).fill(0xff);
  e[0] = ns;
  e[1] = type;
  e[2] = span;
  e[3] = chunkIndex;
  e.fill(0, 8, 24);
  e.set(key, 8);
  return e;
}
