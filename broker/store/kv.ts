// Fleet-wide settings kept in the registry (e.g. the label key), so every cluster node agrees.
import type { Kysely } from 'kysely';
import type { Database } from './schema';

export async function getKv(db: Kysely<Database>, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('kv').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Stores value unless the key exists; returns whichever value is stored (first writer wins). */
export async function ensureKv(db: Kysely<Database>, key: string, value: string): Promise<string> {
  await db
    .insertInto('kv')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return (await getKv(db, key)) as string;
}
