// Patient writes in the group commit (broker/store/group-writer.ts): writes that may wait (a
// storm's hellos and presence events) gather into one commit until the first of them runs out of
// patience, and a write that may not wait takes every patient one waiting with it on the next turn.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { Registry } from '../../broker/store/db';
import { GroupWriter } from '../../broker/store/group-writer';
import type { Database } from '../../broker/store/schema';
import { openTestRegistry } from '../helpers/registry';
import { suite } from '../helpers/suite';

const t = suite('group commit: patient writes');
let dir = '';
let reg: Registry;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-group-patience-'));
  reg = await openTestRegistry(join(dir, 'registry.db'));
});
t.after(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

const syncs = (): number => (reg.walSyncs as () => number)();
const turn = () => new Promise((r) => setImmediate(r));
const keys = async (prefix: string) =>
  (await reg.db.selectFrom('kv').select('key').where('key', 'like', `${prefix}%`).orderBy('key').execute()).map((r) => r.key);

function putter(writer: GroupWriter<Database>, done: string[]) {
  return (key: string, patienceMs: number) =>
    writer
      .write((trx) => trx.insertInto('kv').values({ key, value: '1' }).execute(), patienceMs)
      .then(() => {
        done.push(key);
      });
}

t('patient writes handed in over many turns wait for each other and share one commit', async () => {
  const writer = new GroupWriter<Database>(reg.db);
  const done: string[] = [];
  const put = putter(writer, done);
  const before = syncs();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    writes.push(put(`p${String(i).padStart(2, '0')}`, 1500));
    await turn();
  }
  assert.equal(done, [], 'none committed while all of them could still wait');
  assert.is(syncs(), before);
  await Promise.all(writes);
  assert.is(syncs(), before + 1, 'one commit for the twenty');
  assert.is((await keys('p')).length, 20);
});

t('a write that cannot wait commits on the next turn, and the patient ones waiting go with it', async () => {
  const writer = new GroupWriter<Database>(reg.db);
  const done: string[] = [];
  const put = putter(writer, done);
  const before = syncs();
  // Their patience outlasts the test's timeout: only the urgent write can start their commit.
  const patient = [put('u-a', 600_000), put('u-b', 600_000)];
  await turn();
  await turn();
  assert.equal(done, []);
  await put('u-urgent', 0);
  await Promise.all(patient);
  assert.equal(done.sort(), ['u-a', 'u-b', 'u-urgent']);
  assert.is(syncs(), before + 1);
});

t('a patient write with less patience than those waiting cuts their wait short', async () => {
  const writer = new GroupWriter<Database>(reg.db);
  const done: string[] = [];
  const put = putter(writer, done);
  const before = syncs();
  const slow = put('s-slow', 600_000);
  await turn();
  await put('s-quick', 5);
  await slow;
  assert.equal(done.sort(), ['s-quick', 's-slow']);
  assert.is(syncs(), before + 1);
});

t('a patient write that fails takes only itself; the batch around it commits', async () => {
  const writer = new GroupWriter<Database>(reg.db);
  const done: string[] = [];
  const put = putter(writer, done);
  await put('f-taken', 0);
  const ok = put('f-ok', 20);
  const bad = put('f-taken', 20).then(
    () => 'committed',
    (err: Error) => err.message,
  );
  await ok;
  assert.match(await bad, /UNIQUE/);
  assert.equal(await keys('f-'), ['f-ok', 'f-taken']);
});

t.run();
