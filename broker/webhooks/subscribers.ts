// Which endpoints subscribe to an event type. Every transaction that records an event asks, and
// under a steady job rate transactions are small: reading the endpoints each time cost about 6 %
// of the broker's CPU per job at a fixed rate in bench:jobs. The endpoints are kept in memory per
// database instead, under a version that every change to them replaces in the same transaction.
// A transaction reads that version (one row by key), so an endpoint added on another node of a
// cluster counts from the first transaction that sees its commit, as it did when the endpoints
// were read each time. A SQLite file has one broker, the only writer of its endpoints: there the
// endpoints read outside any transaction since its last change serve every transaction with no
// read at all, and each change, once committed (or not), reads them again (endpointsSettled).
import { randomUUID } from 'node:crypto';
import { type DialectAdapter, type Kysely, SqliteAdapter } from 'kysely';
import type { WebhookEventType } from '../../protocol/webhooks';
import { first, prepared } from '../store/prepared';
import type { Database } from '../store/schema';
import { webhooksDb } from './schema';

const VERSION_KEY = 'webhooks.version';

interface Endpoints {
  version: string | null;
  byType: Map<string, { id: string }[]>;
}

const versionRow = prepared((db: Kysely<Database>, p: { key: string }) => db.selectFrom('kv').select('value').where('key', '=', p.key));
const enabledRows = prepared((db: Kysely<any>, _p: Record<string, never>) =>
  webhooksDb(db).selectFrom('webhooks').select(['id', 'events']).where('enabled', '=', 1).orderBy('id'),
);

/** By dialect adapter: one per database, shared by its transactions. */
const loaded = new WeakMap<DialectAdapter, Endpoints>();
/** A transaction's endpoints, read once however many events it records. */
const inTransaction = new WeakMap<Kysely<any>, Promise<Endpoints>>();
/**
 * SQLite only: endpoints read outside a transaction, so committed, with no change begun since. A
 * read inside one may see a change that its transaction then rolls back, so it never counts here.
 */
const settled = new WeakMap<DialectAdapter, Endpoints>();
/** Changes begun by this process, by database: a read that overlapped one is not settled. */
const changes = new WeakMap<DialectAdapter, number>();

async function read(db: Kysely<any>): Promise<Endpoints> {
  const adapter = db.getExecutor().adapter;
  const known = settled.get(adapter);
  if (known) return known;
  const seen = changes.get(adapter) ?? 0;
  const endpoints = await readVersioned(db, adapter);
  if (adapter instanceof SqliteAdapter && !db.isTransaction && (changes.get(adapter) ?? 0) === seen) settled.set(adapter, endpoints);
  return endpoints;
}

async function readVersioned(db: Kysely<any>, adapter: DialectAdapter): Promise<Endpoints> {
  const version = (await first(versionRow(db, { key: VERSION_KEY })))?.value ?? null;
  const cached = loaded.get(adapter);
  if (cached && cached.version === version) return cached;
  const byType = new Map<string, { id: string }[]>();
  for (const row of (await enabledRows(db, {})).rows) {
    for (const type of JSON.parse(row.events) as string[]) {
      const ids = byType.get(type) ?? [];
      ids.push({ id: row.id });
      byType.set(type, ids);
    }
  }
  const fresh = { version, byType };
  loaded.set(adapter, fresh);
  return fresh;
}

export async function subscribersOf(db: Kysely<any>, type: WebhookEventType): Promise<{ id: string }[]> {
  let endpoints: Promise<Endpoints>;
  if (!db.isTransaction) endpoints = read(db);
  else {
    endpoints = inTransaction.get(db) ?? read(db);
    inTransaction.set(db, endpoints);
  }
  return (await endpoints).byType.get(type) ?? [];
}

/**
 * Every write that adds, removes, enables, disables or re-subscribes an endpoint calls this in its
 * transaction, and endpointsSettled once that transaction is over.
 */
export async function endpointsChanged(trx: Kysely<any>): Promise<void> {
  const adapter = trx.getExecutor().adapter;
  changes.set(adapter, (changes.get(adapter) ?? 0) + 1);
  settled.delete(adapter);
  const value = randomUUID();
  await (trx as Kysely<Database>)
    .insertInto('kv')
    .values({ key: VERSION_KEY, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

/**
 * Reads the endpoints outside any transaction on SQLite, unless they are already: at start, and
 * after a transaction that changed them committed or rolled back. Nothing on PostgreSQL, where
 * each transaction reads the version.
 */
export async function endpointsSettled(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) await read(db);
}
