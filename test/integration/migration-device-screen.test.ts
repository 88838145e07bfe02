// The migration that moves each device's screen from the key-value table (`screen:<device>`)
// into its row (`devices.screen`), on SQLite and PostgreSQL: a registry as the previous release
// left it is brought up to date by the start-up migration, the screens come along, the kv rows go,
// and the hello's own UPDATE records the screen from then on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { migrate } from '../../broker/store/db';
import { screenOf } from '../../broker/store/device-screens';
import { getDevice, recordHello } from '../../broker/store/devices';
import { type Dialect, migrationProvider } from '../../broker/store/migrations';
import type { Database } from '../../broker/store/schema';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { suite } from '../helpers/suite';

const t = suite<{ backends?: Backends | Error }>('the device screen moves into the device row');
const BEFORE = '0016-perf-leaner-job-indexes';

t.before(async (c) => {
  c.backends = await freshBackends();
});
t.after(async (c) => {
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

/** A registry at the release before the column, holding what that release wrote. */
async function previousRelease(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const { error } = await new Migrator({ db, provider: migrationProvider(dialect), allowUnorderedMigrations: true }).migrateTo(BEFORE);
  if (error) throw error;
  for (const [id, mac] of [
    ['dev-screen', 'aa:bb:cc:00:00:01'],
    ['dev-plain', 'aa:bb:cc:00:00:02'],
  ])
    await db.insertInto('devices').values({ id, secret_hash: 'h', mac, created_at: 1 }).execute();
  await db
    .insertInto('kv')
    .values([
      { key: 'screen:dev-screen', value: '240x320' },
      { key: 'webhooks.version', value: 'v1' },
    ])
    .execute();
}

async function check(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  await previousRelease(db, dialect);
  await migrate(db, dialect);

  assert.equal(screenOf((await getDevice(db, 'dev-screen'))!), { width: 240, height: 320 }, 'the stored screen came along');
  assert.is(screenOf((await getDevice(db, 'dev-plain'))!), null, 'a device without one has none');
  const kv = await db.selectFrom('kv').select(['key', 'value']).orderBy('key').execute();
  assert.equal(kv, [{ key: 'webhooks.version', value: 'v1' }], 'the screen rows are gone, the others stay');

  const hello = { fw: '1.0.0', model: 'm', caps: ['identify'], concurrency: 1 };
  await recordHello(db, 'dev-plain', { ...hello, screen: { width: 128, height: 64 } }, 2);
  assert.equal(screenOf((await getDevice(db, 'dev-plain'))!), { width: 128, height: 64 }, 'a hello records its screen');
  await recordHello(db, 'dev-screen', hello, 3);
  assert.is(screenOf((await getDevice(db, 'dev-screen'))!), null, 'a hello without one forgets it');
  const after = await sql<{ n: number }>`select count(*) as n from kv where key like 'screen:%'`.execute(db);
  assert.is(Number(after.rows[0]!.n), 0, 'a hello writes no kv row');
}

t('on SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-screen-migration-'));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(join(dir, 'registry.db')) }) });
  try {
    await check(db, 'sqlite');
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

t('on PostgreSQL', async (c) => {
  requireBackends(c.backends);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: c.backends.databaseUrl, max: 2 }) }) });
  try {
    await check(db, 'postgres');
  } finally {
    await db.destroy();
  }
});

t.run();
