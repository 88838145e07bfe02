// Byte-for-byte against images made by Espressif's nvs_partition_gen.py, and the reader against
// those same images (so the reader is checked on bytes this project did not write).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNvsCsv } from '../../host-tools/nvs/csv';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsImage, buildNvsPartition } from '../../host-tools/nvs/writer';
import type { NvsEntry } from '../../host-tools/nvs/format';
import { FIXTURE_SIZE, LOCAL_FIXTURES, SHARED_FIXTURES, fixtureCases, fixtureDirs, firstDifference } from '../helpers/nvs';

const test = suite('nvs: reference images');

const entriesOf = (csv: string): NvsEntry[] => readNvsCsv(csv).flatMap((r) => (r.kind === 'entry' ? [r.entry] : []));

test('the repo carries its own copy of every reference case', () => {
  const local = fixtureCases(LOCAL_FIXTURES);
  assert.ok(local.length >= 9, `found ${local.length} cases`);
  for (const name of local) assert.ok(existsSync(join(LOCAL_FIXTURES, `${name}.bin`)), `${name}.bin`);
  assert.ok(existsSync(join(LOCAL_FIXTURES, 'README.md')));
  if (existsSync(SHARED_FIXTURES)) {
    for (const name of fixtureCases(SHARED_FIXTURES)) {
      for (const ext of ['.csv', '.bin']) {
        const copy = join(LOCAL_FIXTURES, name + ext);
        assert.ok(existsSync(copy), `test/fixtures/nvs lacks ${name}${ext}`);
        assert.ok(readFileSync(copy).equals(readFileSync(join(SHARED_FIXTURES, name + ext))), `${name}${ext} differs from shared/`);
      }
    }
  }
});

for (const dir of fixtureDirs()) {
  for (const name of fixtureCases(dir)) {
    const csv = join(dir, `${name}.csv`);
    const reference = new Uint8Array(readFileSync(join(dir, `${name}.bin`)));
    const where = `${name} (${dir === LOCAL_FIXTURES ? 'test/fixtures' : 'shared'})`;

    test(`${where}: CSV gives the reference bytes`, () => {
      const image = buildNvsImage(readNvsCsv(csv), FIXTURE_SIZE);
      assert.is(firstDifference(image, reference), undefined);
    });

    test(`${where}: the typed API gives the reference bytes for the same entries`, () => {
      assert.is(firstDifference(buildNvsPartition(entriesOf(csv), FIXTURE_SIZE), reference), undefined);
    });

    test(`${where}: the reader decodes the reference image to the CSV's entries`, () => {
      const expected = entriesOf(csv).map((e) => ({
        ...e,
        value: typeof e.value === 'bigint' && e.type !== 'u64' && e.type !== 'i64' ? Number(e.value) : e.value,
      }));
      assert.equal(readNvsPartition(reference), expected);
    });
  }
}

test.run();
