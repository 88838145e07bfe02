// The SQLite registry's commits are durable before anyone hears of them: every commit, and every
// write outside a transaction, ends with a sync of the WAL (broker/store/wal-sync.ts), which
// FULL would have done inside COMMIT on the main thread. Reads and rolled-back transactions
// sync nothing, and the writes that arrive during a sync join the next group commit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import * as assert from 'uvu/assert';
import type { Registry } from '../../broker/store/db';
import { GroupWriter } from '../../broker/store/group-writer';
import type { Database } from '../../broker/store/schema';
import { openTestRegistry } from '../helpers/registry';
import { suite } from '../helpers/suite';

const t = suite('SQLite registry: WAL synced after each commit');
let dir = '';
let reg: Registry;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-wal-sync-'));
  reg = await openTestRegistry(join(dir, 'registry.db'));
});
t.after(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

const syncs = (): number => (reg.walSyncs as () => number)();
const put = (key: string, value: string) => reg.db.insertInto('kv').values({ key, value }).execute();

t('the registry runs in WAL mode with synchronous=NORMAL, so the syncs here are what makes a commit durable', async () => {
  const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(reg.db);
  const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(reg.db);
  assert.is(mode.rows[0]?.journal_mode, 'wal');
  assert.is(sync.rows[0]?.synchronous, 1);
});

t('a write outside a transaction syncs once; a read syncs nothing', async () => {
  const before = syncs();
  await put('alone', '1');
  assert.is(syncs(), before + 1);
  await reg.db.selectFrom('kv').selectAll().execute();
  assert.is(syncs(), before + 1);
});

t('a transaction of several writes syncs once, at its commit; a rolled-back one not at all', async () => {
  const before = syncs();
  await reg.db.transaction().execute(async (trx) => {
    await trx.insertInto('kv').values({ key: 't1', value: '1' }).execute();
    await trx.insertInto('kv').values({ key: 't2', value: '2' }).execute();
    assert.is(syncs(), before, 'nothing is synced before the commit');
  });
  assert.is(syncs(), before + 1);
  await reg.db
    .transaction()
    .execute(async (trx) => {
      await trx.insertInto('kv').values({ key: 'gone', value: '1' }).execute();
      throw new Error('roll back');
    })
    .catch(() => undefined);
  assert.is(syncs(), before + 1);
  assert.is(await reg.db.selectFrom('kv').select('key').where('key', '=', 'gone').executeTakeFirst(), undefined);
});

t('writes handed to the group writer while a commit syncs go in one later commit', async () => {
  const writer = new GroupWriter<Database>(reg.db);
  const first = writer.write((trx) => trx.insertInto('kv').values({ key: 'g0', value: '0' }).execute());
  // Handed in one per turn while the first batch commits and syncs: they wait for the connection.
  const rest: Promise<unknown>[] = [];
  for (let i = 1; i <= 20; i++) {
    await new Promise((r) => setImmediate(r));
    rest.push(
      writer.write((trx) =>
        trx
          .insertInto('kv')
          .values({ key: `g${i}`, value: String(i) })
          .execute(),
      ),
    );
  }
  const before = syncs();
  await first;
  await Promise.all(rest);
  const rows = await reg.db.selectFrom('kv').select('key').where('key', 'like', 'g%').execute();
  assert.is(rows.length, 21);
  assert.ok(syncs() - before <= 10, `20 writes took ${syncs() - before} commits`);
});

t.run();
