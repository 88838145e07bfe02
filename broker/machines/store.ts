// Machine shadows, history samples and alerts in the registry (docs/architecture.md, Machine state).
// A shadow row changes only by compare-and-set on its version, so a report handled on one node
// and a desired change made on another can never overwrite each other.
import type { Kysely, Transaction } from 'kysely';
import { isUniqueViolation } from '../store/db';
import type { AlertRow, Database, MachineShadowRow } from '../store/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** `lock` (PostgreSQL only) holds the row until the transaction ends, so no other node changes it meanwhile. */
export function loadShadow(db: Db, device: string, lock = false): Promise<MachineShadowRow | undefined> {
  const q = db.selectFrom('machine_shadows').selectAll().where('device', '=', device);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export function loadShadows(db: Db, devices: string[]): Promise<MachineShadowRow[]> {
  if (devices.length === 0) return Promise.resolve([]);
  return db.selectFrom('machine_shadows').selectAll().where('device', 'in', devices).execute();
}

/** Writes `row` if the stored version is still `expected` (0: no row yet); false when someone else changed it first. */
export async function storeShadow(db: Db, row: MachineShadowRow, expected: number): Promise<boolean> {
  if (expected === 0) {
    try {
      await db.insertInto('machine_shadows').values(row).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }
  const { device, ...rest } = row;
  const r = await db.updateTable('machine_shadows').set(rest).where('device', '=', device).where('version', '=', expected).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export interface Sample {
  device: string;
  field: string;
  at: number;
  value: number;
}

export async function insertSamples(db: Db, samples: Sample[]): Promise<void> {
  if (samples.length > 0) await db.insertInto('machine_history').values(samples).execute();
}

export function historySeries(db: Db, device: string, field: string | undefined, from: number, to: number, limit: number): Promise<Sample[]> {
  let q = db.selectFrom('machine_history').selectAll().where('device', '=', device).where('at', '>=', from).where('at', '<=', to);
  if (field !== undefined) q = q.where('field', '=', field);
  return q.orderBy('at').limit(limit).execute();
}

/** Deletes samples older than `before`, at most `batch` at a time so a long backlog never holds the database. */
export async function pruneHistory(db: Kysely<Database>, before: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await db
      .deleteFrom('machine_history')
      .where('at', 'in', (sub) => sub.selectFrom('machine_history').select('at').where('at', '<', before).orderBy('at').limit(batch))
      .where('at', '<', before)
      .executeTakeFirst();
    const n = Number(r.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}

/** Inserts an open alert; false when one of that kind and subject is already open for the device. */
export async function insertAlert(db: Db, row: AlertRow): Promise<boolean> {
  try {
    await db.insertInto('alerts').values(row).execute();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Clears the open alert of that kind and subject; the cleared row, or undefined when none was open. */
export async function clearAlert(db: Db, device: string, kind: string, subject: string, at: number): Promise<AlertRow | undefined> {
  const open = await db
    .selectFrom('alerts')
    .selectAll()
    .where('device', '=', device)
    .where('kind', '=', kind)
    .where('subject', '=', subject)
    .where('state', '=', 'open')
    .executeTakeFirst();
  if (!open) return undefined;
  const r = await db.updateTable('alerts').set({ state: 'cleared', cleared_at: at }).where('id', '=', open.id).where('state', '=', 'open').executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? { ...open, state: 'cleared', cleared_at: at } : undefined;
}

export function openAlerts(db: Db): Promise<AlertRow[]> {
  return db.selectFrom('alerts').selectAll().where('state', '=', 'open').execute();
}

export interface AlertFilter {
  devices?: string[];
  state?: 'open' | 'cleared';
  limit: number;
}

export function listAlerts(db: Db, f: AlertFilter): Promise<AlertRow[]> {
  let q = db.selectFrom('alerts').selectAll();
  if (f.devices !== undefined) {
    if (f.devices.length === 0) return Promise.resolve([]);
    q = q.where('device', 'in', f.devices);
  }
  if (f.state !== undefined) q = q.where('state', '=', f.state);
  return q.orderBy('raised_at', 'desc').limit(f.limit).execute();
}

export async function ackAlert(db: Db, id: string, by: string, at: number): Promise<AlertRow | undefined> {
  await db.updateTable('alerts').set({ acked_at: at, acked_by: by }).where('id', '=', id).where('acked_at', 'is', null).execute();
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}
