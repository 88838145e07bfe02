// What the generator refuses, each with one specific line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NvsEntry } from '../../host-tools/nvs/format';
import { buildNvsPartition } from '../../host-tools/nvs/writer';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { expectNvsError } from '../helpers/nvs';

const test = suite('nvs: refusals');
const build =
  (entries: NvsEntry[], size = 0x6000) =>
  () =>
    buildNvsPartition(entries, size);
const one = (e: Partial<NvsEntry>): NvsEntry[] => [{ namespace: 'fb', key: 'k', type: 'u8', value: 1, ...e }];

test('input that does not fit the partition', () => {
  // 0x3000 holds two data pages; 300 primitives need three.
  const many = Array.from({ length: 300 }, (_, i): NvsEntry => ({ namespace: 'fb', key: `k${i}`, type: 'u32', value: i }));
  expectNvsError(build(many, 0x3000), /^key "k251" does not fit: a partition of 0x3000 bytes has 2 data pages/);
  assert.is(buildNvsPartition(many, 0x4000).length, 0x4000, 'the same entries fit a page more');
  expectNvsError(build(one({ type: 'blob', value: new Uint8Array(9000) }), 0x3000), /^key "k" does not fit/);
});

test('a key or namespace longer than 15 bytes', () => {
  expectNvsError(build(one({ key: 'sixteen-chars-ab' })), /^key "sixteen-chars-ab" is 16 bytes long; NVS allows at most 15$/);
  expectNvsError(build(one({ namespace: 'namespace-of-16c' })), /^namespace "namespace-of-16c" is 16 bytes long/);
  expectNvsError(build(one({ key: 'ééééééé€' })), /is 17 bytes long/);
  assert.is(readNvsPartition(buildNvsPartition(one({ key: 'fifteen-chars-a', namespace: 'fifteen-chars-b' }), 0x6000))[0]!.key, 'fifteen-chars-a');
});

test('an empty key or namespace, or one with a NUL', () => {
  expectNvsError(build(one({ key: '' })), /^key must be a non-empty string$/);
  expectNvsError(build(one({ namespace: '' })), /^namespace must be a non-empty string$/);
  expectNvsError(build(one({ key: 'a\0b' })), /^key "a\0b" contains a NUL character$/);
});

test('a string over 4000 bytes with its NUL terminator', () => {
  expectNvsError(
    build(one({ type: 'string', value: 'x'.repeat(4000) })),
    /^key "k": string is 4000 bytes; NVS strings hold at most 3999 bytes plus the NUL terminator$/,
  );
  expectNvsError(build(one({ type: 'string', value: '€'.repeat(1334) })), /string is 4002 bytes/);
  assert.is(buildNvsPartition(one({ type: 'string', value: 'x'.repeat(3999) }), 0x6000).length, 0x6000);
});

test('a string with a NUL or a lone surrogate', () => {
  expectNvsError(build(one({ type: 'string', value: 'a\0b' })), /string contains a NUL character/);
  expectNvsError(build(one({ type: 'string', value: 'a\ud800' })), /not valid Unicode/);
});

test('a value out of range for its type', () => {
  const cases: [NvsEntry['type'], number | bigint, RegExp][] = [
    ['u8', 256, /^key "k": 256 is out of range for u8 \(0\.\.255\)$/],
    ['u8', -1, /out of range for u8/],
    ['i8', -129, /^key "k": -129 is out of range for i8 \(-128\.\.127\)$/],
    ['u16', 65536, /out of range for u16/],
    ['i16', 32768, /out of range for i16/],
    ['u32', 2 ** 32, /out of range for u32/],
    ['i32', -(2 ** 31) - 1, /out of range for i32/],
    ['u64', -1n, /out of range for u64/],
    ['u64', 1n << 64n, /out of range for u64/],
    ['i64', 1n << 63n, /^key "k": 9223372036854775808 is out of range for i64 \(-9223372036854775808\.\.9223372036854775807\)$/],
  ];
  for (const [type, value, message] of cases) expectNvsError(build(one({ type, value })), message);
  expectNvsError(build(one({ type: 'u32', value: 1.5 })), /^key "k": u32 value must be an integer/);
  expectNvsError(build(one({ type: 'u64', value: 2 ** 60 })), /must be an integer \(a safe integer number or a bigint\)/);
  expectNvsError(build(one({ type: 'u8', value: '1' })), /u8 value must be an integer/);
});

test('an unknown type, or a value of the wrong kind', () => {
  expectNvsError(
    build(one({ type: 'float' as NvsEntry['type'] })),
    /^key "k": unknown type "float" \(expected u8, i8, u16, i16, u32, i32, u64, i64, string or blob\)$/,
  );
  expectNvsError(build(one({ type: 'string', value: 5 })), /^key "k": string value must be a string$/);
  expectNvsError(build(one({ type: 'blob', value: 'aa' })), /^key "k": blob value must be a Uint8Array$/);
});

test('the same key twice in a namespace', () => {
  expectNvsError(build([...one({}), ...one({ value: 2 })]), /^key "k" appears twice in namespace "fb"$/);
  assert.is(buildNvsPartition([...one({}), ...one({ namespace: 'other' })], 0x6000).length, 0x6000, 'the same key in two namespaces is fine');
});

test('more namespaces than NVS has indexes for', () => {
  const entries = Array.from({ length: 255 }, (_, i): NvsEntry => ({ namespace: `ns${i}`, key: 'k', type: 'u8', value: 0 }));
  expectNvsError(build(entries, 0x10000), /^namespace "ns254" is one too many: NVS holds at most 254 namespaces$/);
  assert.is(readNvsPartition(buildNvsPartition(entries.slice(0, 254), 0x10000)).length, 254);
});

test('a partition size that is not a whole number of pages, or under 0x3000', () => {
  expectNvsError(build([], 0x6001), /^partition size 0x6001 is not a multiple of 4096 \(0x1000\)$/);
  expectNvsError(build([], 0x2000), /^partition size 0x2000 is too small: a read\/write NVS partition needs at least 0x3000 bytes$/);
  expectNvsError(build([], 0), /partition size must be a positive integer/);
  expectNvsError(build([], 1.5), /partition size must be a positive integer/);
});

test('the reader refuses images whose CRCs do not match', () => {
  const image = buildNvsPartition(one({ type: 'string', value: 'hello' }), 0x3000);
  const header = image.slice();
  header[4] ^= 1;
  expectNvsError(() => readNvsPartition(header), /^page 0: header CRC mismatch$/);
  const entry = image.slice();
  entry[64 + 32 + 9] ^= 1; // a key byte of the string entry (entry 1; entry 0 is the namespace)
  expectNvsError(() => readNvsPartition(entry), /^page 0 entry 1: entry CRC mismatch$/);
  const data = image.slice();
  data[64 + 64] ^= 1; // first byte of the string's data
  expectNvsError(() => readNvsPartition(data), /^page 0 entry 1: key "k" data CRC mismatch$/);
  expectNvsError(() => readNvsPartition(image.subarray(0, 100)), /whole number of 4096-byte pages/);
});

test.run();
