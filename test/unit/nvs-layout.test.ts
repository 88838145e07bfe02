// Where the writer puts things at page boundaries. The expectations follow the placement rules of
// Espressif's nvs_partition_gen.py (the reference images do not reach every boundary).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ENTRY_SIZE, FIRST_ENTRY_OFFSET, ITEM_TYPE, PAGE_SIZE, PAGE_STATE, PAGE_VERSION_2, type NvsEntry } from '../../host-tools/nvs/format';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsImage, buildNvsPartition } from '../../host-tools/nvs/writer';

const test = suite('nvs: page layout');
const SIZE = 0x8000;

function entry(image: Uint8Array, page: number, i: number) {
  const at = page * PAGE_SIZE + FIRST_ENTRY_OFFSET + i * ENTRY_SIZE;
  const dv = new DataView(image.buffer, at, ENTRY_SIZE);
  const key = new TextDecoder().decode(image.subarray(at + 8, at + 24)).replace(/\0+$/, '');
  return {
    ns: image[at]!,
    type: image[at + 1]!,
    span: image[at + 2]!,
    chunk: image[at + 3]!,
    key,
    size16: dv.getUint16(24, true),
    size32: dv.getUint32(24, true),
    byte28: image[at + 28]!,
  };
}
function state(image: Uint8Array, page: number, i: number): number {
  return (image[page * PAGE_SIZE + 32 + (i >> 2)]! >> ((i & 3) * 2)) & 3;
}
function written(image: Uint8Array, page: number): number {
  let n = 0;
  for (let i = 0; i < 126; i++) if (state(image, page, i) === 0b10) n++;
  return n;
}
const pageState = (image: Uint8Array, page: number): number => new DataView(image.buffer).getUint32(page * PAGE_SIZE, true);
const u8s = (n: number): NvsEntry[] => Array.from({ length: n }, (_, i) => ({ namespace: 'fb', key: `k${i}`, type: 'u8', value: i & 0xff }));
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

test('a primitive may take the last entry of a page; the next item opens a page and marks the old one FULL', () => {
  const image = buildNvsPartition(u8s(125), SIZE);
  assert.is(written(image, 0), 126);
  assert.is(pageState(image, 0), PAGE_STATE.ACTIVE);
  assert.is(entry(image, 0, 125).key, 'k124');
  const more = buildNvsPartition(u8s(126), SIZE);
  assert.is(pageState(more, 0), PAGE_STATE.FULL);
  assert.is(pageState(more, 1), PAGE_STATE.ACTIVE);
  assert.is(entry(more, 1, 0).key, 'k125');
});

test('a string never takes the last entry of a page that already holds something', () => {
  const entries: NvsEntry[] = [...u8s(123), { namespace: 'fb', key: 's', type: 'string', value: 'short' }];
  const image = buildNvsPartition(entries, SIZE);
  assert.is(written(image, 0), 124, 'entries 124 and 125 stay empty');
  assert.equal(entry(image, 1, 0), { ...entry(image, 1, 0), type: ITEM_TYPE.string, span: 2, key: 's', size16: 6 });
  assert.equal(readNvsPartition(image), entries);
});

test('a string of 3999 bytes (126 entries with its NUL) gets a page to itself', () => {
  const long = 'x'.repeat(3999);
  const entries: NvsEntry[] = [...u8s(1), { namespace: 'fb', key: 'long', type: 'string', value: long }, ...u8s(2).slice(1)];
  const image = buildNvsPartition(entries, SIZE);
  assert.equal(entry(image, 1, 0), { ...entry(image, 1, 0), type: ITEM_TYPE.string, span: 126, size16: 4000 });
  assert.is(written(image, 1), 126);
  assert.is(entry(image, 2, 0).key, 'k1');
  assert.equal(readNvsPartition(image), entries);
});

test('a blob that starts on the last entry writes an empty first chunk there', () => {
  const blob = bytes(100);
  const entries: NvsEntry[] = [...u8s(124), { namespace: 'fb', key: 'b', type: 'blob', value: blob }];
  const image = buildNvsPartition(entries, SIZE);
  assert.equal(entry(image, 0, 125), { ...entry(image, 0, 125), type: ITEM_TYPE.blobData, span: 1, chunk: 0, size16: 0 });
  assert.equal(entry(image, 1, 0), { ...entry(image, 1, 0), type: ITEM_TYPE.blobData, span: 5, chunk: 1, size16: 100 });
  const idx = entry(image, 1, 5);
  assert.equal(idx, { ...idx, type: ITEM_TYPE.blobIndex, span: 1, chunk: 0xff, size32: 100, byte28: 2 });
  assert.equal(readNvsPartition(image), entries);
});

test('a blob chunk that fills a page exactly sends the blob_idx to the next page', () => {
  const entries: NvsEntry[] = [{ namespace: 'fb', key: 'b', type: 'blob', value: bytes(124 * 32) }];
  const image = buildNvsPartition(entries, SIZE);
  assert.is(written(image, 0), 126);
  assert.equal(entry(image, 0, 1), { ...entry(image, 0, 1), type: ITEM_TYPE.blobData, span: 125, chunk: 0, size16: 3968 });
  assert.equal(entry(image, 1, 0), { ...entry(image, 1, 0), type: ITEM_TYPE.blobIndex, size32: 3968, byte28: 1 });
  assert.is(pageState(image, 0), PAGE_STATE.FULL);
  assert.equal(readNvsPartition(image), entries);
});

test('one byte more and the blob continues in a second chunk, its index right after it', () => {
  const entries: NvsEntry[] = [{ namespace: 'fb', key: 'b', type: 'blob', value: bytes(124 * 32 + 1) }];
  const image = buildNvsPartition(entries, SIZE);
  assert.equal(entry(image, 1, 0), { ...entry(image, 1, 0), type: ITEM_TYPE.blobData, span: 2, chunk: 1, size16: 1 });
  assert.equal(entry(image, 1, 2), { ...entry(image, 1, 2), type: ITEM_TYPE.blobIndex, size32: 3969, byte28: 2 });
  assert.equal(readNvsPartition(image), entries);
});

test('pages carry their index as sequence number and version 2; pages after the last written one are erased', () => {
  const image = buildNvsPartition([{ namespace: 'fb', key: 'b', type: 'blob', value: bytes(6000) }], 0xa000);
  const dv = new DataView(image.buffer);
  for (const p of [0, 1]) {
    assert.is(dv.getUint32(p * PAGE_SIZE + 4, true), p);
    assert.is(image[p * PAGE_SIZE + 8], PAGE_VERSION_2);
  }
  assert.is(pageState(image, 0), PAGE_STATE.FULL);
  assert.is(pageState(image, 1), PAGE_STATE.ACTIVE);
  assert.ok(image.subarray(2 * PAGE_SIZE).every((b) => b === 0xff));
});

test('no entries still gives a header page, as the reference tool does for a CSV without rows', () => {
  const image = buildNvsPartition([], 0x3000);
  assert.is(pageState(image, 0), PAGE_STATE.ACTIVE);
  assert.is(written(image, 0), 0);
  assert.ok(image.subarray(PAGE_SIZE).every((b) => b === 0xff));
  assert.equal(readNvsPartition(image), []);
});

test('a namespace is written once; returning to it reuses its index', () => {
  const entries: NvsEntry[] = [
    { namespace: 'fb', key: 'a', type: 'u8', value: 1 },
    { namespace: 'app', key: 'b', type: 'u8', value: 2 },
    { namespace: 'fb', key: 'c', type: 'u8', value: 3 },
  ];
  const image = buildNvsPartition(entries, SIZE);
  const namespaceEntries = [0, 1, 2, 3, 4].map((i) => entry(image, 0, i)).filter((e) => e.ns === 0);
  assert.equal(
    namespaceEntries.map((e) => e.key),
    ['fb', 'app'],
  );
  assert.is(entry(image, 0, 4).ns, 1);
  assert.equal(readNvsPartition(image), entries);
});

test('a namespace record with no entry after it is still written (a CSV namespace row alone)', () => {
  const image = buildNvsImage([{ kind: 'namespace', name: 'empty' }], SIZE);
  assert.equal(entry(image, 0, 0), { ...entry(image, 0, 0), ns: 0, type: ITEM_TYPE.u8, key: 'empty' });
  assert.is(image[FIRST_ENTRY_OFFSET + 24], 1, 'namespace index 1');
});

test.run();
