import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { crc32, nvsCrc32 } from '../../host-tools/nvs/crc32';
import { ENTRIES_PER_PAGE, ENTRY_SIZE, FIRST_ENTRY_OFFSET, PAGE_SIZE, PAGE_STATE, entryCrc, pageHeaderCrc } from '../../host-tools/nvs/format';
import { LOCAL_FIXTURES, fixtureCases } from '../helpers/nvs';

const test = suite('nvs: crc32');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test('plain CRC-32 matches the standard check value', () => {
  assert.is(crc32(ascii('123456789')), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test("NVS's CRC is zlib.crc32(data, 0xFFFFFFFF), not the plain CRC-32", () => {
  // zlib.crc32(b'123456789', 0xffffffff) in Python, which ESP-IDF's generator calls.
  assert.is(nvsCrc32(ascii('123456789')), 0xd202d277);
  assert.is(nvsCrc32(new Uint8Array(0)), 0xffffffff);
  assert.is.not(nvsCrc32(ascii('123456789')), crc32(ascii('123456789')));
});

test('continuing a CRC equals the CRC of the concatenation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      const ab = new Uint8Array([...a, ...b]);
      assert.is(crc32(b, crc32(a)), crc32(ab));
      assert.is(crc32(b, nvsCrc32(a)), nvsCrc32(ab));
    }),
  );
});

test('every page header and written entry in the reference images carries the CRC computed here', () => {
  let headers = 0;
  let entries = 0;
  for (const name of fixtureCases(LOCAL_FIXTURES)) {
    const image = new Uint8Array(readFileSync(join(LOCAL_FIXTURES, `${name}.bin`)));
    const view = new DataView(image.buffer);
    for (let base = 0; base < image.length; base += PAGE_SIZE) {
      if (view.getUint32(base, true) === PAGE_STATE.UNINITIALIZED) continue;
      assert.is(view.getUint32(base + 28, true), pageHeaderCrc(image.subarray(base, base + 32)), `${name} page ${base / PAGE_SIZE}`);
      headers++;
      // Walk by span so data entries are not taken for headers.
      for (let i = 0; i < ENTRIES_PER_PAGE; ) {
        const at = base + FIRST_ENTRY_OFFSET + i * ENTRY_SIZE;
        if (((image[base + 32 + (i >> 2)]! >> ((i & 3) * 2)) & 3) !== 0b10) break;
        const e = image.subarray(at, at + ENTRY_SIZE);
        assert.is(view.getUint32(at + 4, true), entryCrc(e), `${name} page ${base / PAGE_SIZE} entry ${i}`);
        entries++;
        i += e[2]!;
      }
    }
  }
  assert.ok(headers >= 15, `${headers} headers checked`);
  assert.ok(entries >= 200, `${entries} entries checked`);
});

test.run();
