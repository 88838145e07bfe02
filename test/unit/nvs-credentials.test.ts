// The flashing tool's credentials, laid out as docs/architecture.md, Firmware, says: strings in namespace `fb`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { credentialEntries, type Credentials } from '../../host-tools/nvs/credentials';
import { readNvsCsv } from '../../host-tools/nvs/csv';
import { MAX_KEY_BYTES } from '../../host-tools/nvs/format';
import { readNvsPartition } from '../../host-tools/nvs/reader';
import { buildNvsPartition } from '../../host-tools/nvs/writer';
import { FIXTURE_SIZE, LOCAL_FIXTURES, firstDifference } from '../helpers/nvs';

const test = suite('nvs: credentials');
const FIELDS = ['ssid', 'psk', 'broker', 'id', 'secret', 'enroll', 'machine'] as const;

/** The credentials a reference CSV holds, read the way the firmware would: strings in `fb`. */
function credentialsIn(csv: string): Credentials {
  const c: Credentials = {};
  for (const r of readNvsCsv(join(LOCAL_FIXTURES, csv))) {
    if (r.kind !== 'entry') continue;
    assert.is(r.entry.namespace, 'fb');
    assert.is(r.entry.type, 'string');
    assert.ok((FIELDS as readonly string[]).includes(r.entry.key), `unexpected key ${r.entry.key}`);
    c[r.entry.key as (typeof FIELDS)[number]] = r.entry.value as string;
  }
  return c;
}

for (const name of ['basic', 'enroll', 'unicode']) {
  test(`${name}: the helper's entries give the reference image byte for byte, and read back`, () => {
    const c = credentialsIn(`${name}.csv`);
    const image = buildNvsPartition(credentialEntries(c), FIXTURE_SIZE);
    assert.is(firstDifference(image, new Uint8Array(readFileSync(join(LOCAL_FIXTURES, `${name}.bin`)))), undefined);
    const back = Object.fromEntries(readNvsPartition(image).map((e) => [e.key, e.value]));
    assert.equal(back, c);
  });
}

test('only the fields that are set become entries, all strings in namespace fb; an empty string is set', () => {
  assert.equal(credentialEntries({ enroll: 'enr_1', ssid: 'net', psk: '' }), [
    { namespace: 'fb', key: 'ssid', type: 'string', value: 'net' },
    { namespace: 'fb', key: 'psk', type: 'string', value: '' },
    { namespace: 'fb', key: 'enroll', type: 'string', value: 'enr_1' },
  ]);
  assert.equal(credentialEntries({}), []);
});

test('every key fits NVS', () => {
  const all = credentialEntries(Object.fromEntries(FIELDS.map((f) => [f, 'x'])));
  assert.equal(
    all.map((e) => e.key),
    [...FIELDS],
  );
  for (const e of all) assert.ok(e.key.length <= MAX_KEY_BYTES);
});

test.run();
