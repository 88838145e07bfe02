// Whatever the writer produces, the reader reads back the same entries, and the image is always
// exactly the requested size.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { INTEGER_TYPES, NvsError, PAGE_SIZE, integerRange, type NvsEntry, type NvsIntegerType } from '../../host-tools/nvs/format';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsPartition } from '../../host-tools/nvs/writer';

const test = suite('nvs: properties');
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** 1 to 15 bytes of any Unicode but NUL: keys and namespace names. */
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 15 }).filter((s) => !s.includes('\0') && utf8Length(s) <= 15);
const namespace = fc.oneof(fc.constant('fb'), name);

const integer = (type: NvsIntegerType) => {
  const { min, max } = integerRange(type);
  const big = fc.bigInt({ min, max });
  // Callers may pass numbers or bigints; small types also come as plain numbers.
  return fc
    .oneof(big, big.filter((v) => v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)).map(Number))
    .map((value) => ({ type, value }));
};
const text = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'binary-ascii', maxLength: 3999, size: 'max' }),
    fc.string({ unit: 'grapheme', maxLength: 1200, size: 'max' }),
  )
  .filter((s) => !s.includes('\0') && utf8Length(s) <= 3999);
const value = fc.oneof(
  ...INTEGER_TYPES.map(integer),
  text.map((value) => ({ type: 'string' as const, value })),
  fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 12000, size: 'max' })).map((value) => ({ type: 'blob' as const, value })),
);
const entries = fc.uniqueArray(
  fc.record({ namespace, key: name, v: value }).map(({ namespace, key, v }) => ({ namespace, key, ...v }) as NvsEntry),
  { maxLength: 60, size: 'medium', selector: (e) => `${e.namespace}\0${e.key}` },
);

/** What the reader gives for a written entry: numbers up to 32 bits, bigints for 64. */
function expected(e: NvsEntry): NvsEntry {
  if (e.type === 'u64' || e.type === 'i64') return { ...e, value: BigInt(e.value as number | bigint) };
  if ((INTEGER_TYPES as readonly string[]).includes(e.type)) return { ...e, value: Number(e.value) };
  return e;
}

/** Pages that surely hold these entries: every item may open a page, a blob one per 3968 bytes more. */
function generousSize(list: NvsEntry[]): number {
  let pages = 2; // the first page and the one kept free
  for (const e of list) {
    pages += 2; // its namespace entry and itself may each open a page
    if (e.type === 'blob') pages += Math.ceil((e.value as Uint8Array).length / 3968) + 1;
  }
  return Math.max(3, pages) * PAGE_SIZE;
}

function assertReadsBack(list: NvsEntry[], image: Uint8Array, size: number): void {
  assert.is(image.length, size);
  assert.equal(readNvsPartition(image), list.map(expected));
}

test('the reader returns exactly what the writer was given, at the requested size', () => {
  fc.assert(
    fc.property(entries, fc.nat(3), (list, extraPages) => {
      const size = generousSize(list) + extraPages * PAGE_SIZE;
      assertReadsBack(list, buildNvsPartition(list, size), size);
    }),
    { numRuns: 150 },
  );
});

test('any size either fits, giving an image of that size that reads back, or is refused as too small', () => {
  fc.assert(
    fc.property(entries, fc.integer({ min: 3, max: 40 }), (list, pages) => {
      const size = pages * PAGE_SIZE;
      let image: Uint8Array;
      try {
        image = buildNvsPartition(list, size);
      } catch (e) {
        if (!(e instanceof NvsError)) throw e;
        assert.match(e.message, /does not fit: a partition of 0x[0-9a-f]+ bytes/);
        assert.ok(size < generousSize(list), 'refused although it surely fits');
        return;
      }
      assertReadsBack(list, image, size);
    }),
    { numRuns: 150 },
  );
});

test('a larger partition holds the same pages, followed by erased ones', () => {
  fc.assert(
    fc.property(entries, fc.integer({ min: 1, max: 6 }), (list, more) => {
      const size = generousSize(list);
      const small = buildNvsPartition(list, size);
      const large = buildNvsPartition(list, size + more * PAGE_SIZE);
      assert.equal(large.subarray(0, size), small);
      assert.ok(large.subarray(size).every((b) => b === 0xff));
    }),
    { numRuns: 60 },
  );
});

test.run();
