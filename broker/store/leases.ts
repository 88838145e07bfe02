// The lease compare-and-set (docs/architecture.md, Locations and pools). A lease is the device's
// binding, like a claim: one conditional UPDATE of devices.agent_id (only a free pool device of
// that location), its history row in `leases`, an audit row and the webhook event, in the
// caller's transaction. Ending it is the reverse UPDATE, conditional on the binding version and on
// the device having no unfinished job. The pool queue's rows change the same way.
import { type Kysely, sql } from 'kysely';
import { recordEvent } from '../webhooks/outbox';
import { appendAudit } from './audit';
import type { BindingChange } from './bindings';
import { noOpenJobs } from './locations';
import { type Params, first, prepared, preparedShapes } from './prepared';
import type { Database, LeaseRow, PoolEntryRow, PoolQueueTable } from './schema';

export interface LeaseInput {
  lease: string;
  device: string;
  agent: string;
  location: string;
  job: string;
  route: string;
  now: number;
}

// The statements every pool job runs, twice over (its lease starting and ending), are prepared
// once (prepared.ts), as a claim's are.
const leaseUpdate = prepared((db: Kysely<Database>, p: { agent: string; now: number; device: string; location: string }) =>
  db
    .updateTable('devices')
    .set({ agent_id: p.agent, bound_at: p.now, bound_via: 'lease', binding_version: sql`binding_version + 1` })
    .where('id', '=', p.device)
    .where('agent_id', 'is', null)
    .where('mode', '=', 'pool')
    .where('location', '=', p.location)
    .returningAll()
    // The lessee's name for the device's config, read by the same statement.
    .returning((eb) => eb.selectFrom('agents').select('name').whereRef('agents.id', '=', 'devices.agent_id').as('agent_name')),
);
const leaseInsert = prepared(
  (db: Kysely<Database>, p: { id: string; device: string; agent: string; location: string; job: string; version: number; now: number }) =>
    db.insertInto('leases').values({
      id: p.id,
      device: p.device,
      agent: p.agent,
      location: p.location,
      job: p.job,
      version: p.version,
      started_at: p.now,
      ended_at: null,
      end_reason: null,
    }),
);
// The end is conditional on the lessee still holding the device by lease: that condition is the
// compare-and-set, so no read of the row comes first.
const unleaseUpdate = (idle: boolean) =>
  prepared((db: Kysely<Database>, p: { device: string; agent: string }) => {
    const q = db
      .updateTable('devices')
      .set({ agent_id: null, bound_at: null, bound_via: null, reserved_by_job: null, binding_version: sql`binding_version + 1` })
      .where('id', '=', p.device)
      .where('agent_id', '=', p.agent)
      .where('bound_via', '=', 'lease');
    return (idle ? q.where(noOpenJobs(p.device)) : q).returningAll();
  });
const unleaseIdle = unleaseUpdate(true);
const unleaseForced = unleaseUpdate(false);
const leaseClose = prepared((db: Kysely<Database>, p: { device: string; now: number; reason: string }) =>
  db.updateTable('leases').set({ ended_at: p.now, end_reason: p.reason }).where('device', '=', p.device).where('ended_at', 'is', null).returningAll(),
);

/**
 * Leases a free pool device at the location to the agent; null (and nothing written) when the
 * device is no longer free.
 */
export async function startLease(trx: Kysely<Database>, l: LeaseInput): Promise<BindingChange | null> {
  const updated = await first(leaseUpdate(trx, { agent: l.agent, now: l.now, device: l.device, location: l.location }));
  if (updated === undefined) return null;
  const { agent_name: toName, ...row } = updated;
  const version = Number(row.binding_version);
  await leaseInsert(trx, { id: l.lease, device: l.device, agent: l.agent, location: l.location, job: l.job, version, now: l.now });
  await appendAudit(trx, {
    at: l.now,
    actor: `agent:${l.agent}`,
    action: 'lease.start',
    device: l.device,
    agent: l.agent,
    detail: { lease: l.lease, location: l.location, job: l.job, route: l.route, version },
  });
  await recordEvent(
    trx,
    'binding.changed',
    { device: l.device, action: 'lease', from: null, to: l.agent, via: 'lease', actor: `agent:${l.agent}`, version },
    l.now,
  );
  return { device: l.device, from: null, to: l.agent, version, at: l.now, changed: true, row, ...(toName == null ? {} : { toName }) };
}

export interface EndLeaseInput {
  device: string;
  agent: string;
  reason: string;
  actor: string;
  now: number;
  force?: boolean;
}

/**
 * Ends the agent's lease of the device: only while it still holds it by lease and (unless forced)
 * no job is unfinished on the device. Null when nothing changed.
 */
export async function endLease(trx: Kysely<Database>, e: EndLeaseInput): Promise<{ change: BindingChange; lease: LeaseRow | undefined } | null> {
  const unlease = e.force === true ? unleaseForced : unleaseIdle;
  const row = await first(unlease(trx, { device: e.device, agent: e.agent }));
  if (row === undefined) return null;
  // The version the end gave the binding (the UPDATE raised it by one).
  const version = Number(row.binding_version);
  const lease = await first(leaseClose(trx, { device: e.device, now: e.now, reason: e.reason }));
  await appendAudit(trx, {
    at: e.now,
    actor: e.actor,
    action: 'lease.end',
    device: e.device,
    agent: e.agent,
    detail: { lease: lease?.id ?? null, location: lease?.location ?? row.location, reason: e.reason, version },
  });
  await recordEvent(trx, 'binding.changed', { device: e.device, action: 'lease-end', from: e.agent, to: null, via: null, actor: e.actor, version }, e.now);
  return { change: { device: e.device, from: e.agent, to: null, version, at: e.now, changed: true, row }, lease };
}

/** Lease rows still open whose device is no longer leased to their agent (a forced release). */
export async function closeOrphanedLeases(db: Kysely<Database>, now: number): Promise<number> {
  const orphans = await db
    .selectFrom('leases')
    .innerJoin('devices', 'devices.id', 'leases.device')
    .select(['leases.id', 'leases.device', 'leases.agent', 'leases.location'])
    .where('leases.ended_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('devices.agent_id', 'is', null),
        eb('devices.agent_id', '!=', eb.ref('leases.agent')),
        eb('devices.bound_via', 'is', null),
        eb('devices.bound_via', '!=', 'lease'),
      ]),
    )
    .execute();
  for (const o of orphans) {
    await db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('leases')
        .set({ ended_at: now, end_reason: 'orphaned' })
        .where('id', '=', o.id)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1)
        await appendAudit(trx, {
          at: now,
          actor: 'broker',
          action: 'lease.end',
          device: o.device,
          agent: o.agent,
          detail: { lease: o.id, location: o.location, reason: 'orphaned' },
        });
    });
  }
  return orphans.length;
}

export async function openLeases(db: Kysely<Database>, location?: string): Promise<LeaseRow[]> {
  let q = db.selectFrom('leases').selectAll().where('ended_at', 'is', null).orderBy('started_at');
  if (location !== undefined) q = q.where('location', '=', location);
  return q.execute();
}

/**
 * Open leases with no unfinished job on their device, whose last job ended before `idleSince`
 * (the sweep's query, which plan tests read). Only the device's jobs from the lease's own job on
 * are looked at (the device's (device, seq) index): older ones all ended before the lease began,
 * since a lease starts only on a device with none unfinished, and reading them made the sweep's
 * cost grow with the device's history.
 */
export function idleLeasesQuery(db: Kysely<Database>, idleSince: number) {
  return db
    .selectFrom('leases')
    .selectAll()
    .where('ended_at', 'is', null)
    .where(
      sql<boolean>`not exists (select 1 from jobs where jobs.device = leases.device and jobs.seq >= coalesce((select j0.seq from jobs j0 where j0.id = leases.job), 0) and (jobs.state in ('queued', 'dispatched', 'running') or jobs.updated_at > ${idleSince}))`,
    );
}

export async function idleLeases(db: Kysely<Database>, idleSince: number): Promise<LeaseRow[]> {
  return idleLeasesQuery(db, idleSince).execute();
}

// ---- the pool queue

export interface NewPoolEntry {
  id: string;
  location: string;
  agent: string;
  kind: string;
  params: string;
  hold: boolean;
  ttlMs: number;
  route: string;
  now: number;
  idempotencyKey: string | null;
}

// A waiting pool job's insert and the check before it run on every pool submit that finds no
// free device (prepared.ts).
const entryInsert = prepared((db: Kysely<Database>, p: Omit<PoolQueueTable, 'seq' | 'state' | 'device' | 'decided_at'>) =>
  db
    .insertInto('pool_queue')
    .values({
      id: p.id,
      location: p.location,
      agent: p.agent,
      kind: p.kind,
      params: p.params,
      hold: p.hold,
      ttl_ms: p.ttl_ms,
      route: p.route,
      state: 'waiting',
      device: null,
      queued_at: p.queued_at,
      expires_at: p.expires_at,
      decided_at: null,
      idempotency_key: p.idempotency_key,
    })
    .returningAll(),
);
const oneWaiting = prepared((db: Kysely<Database>, p: { location: string }) => poolQueueQueries.any(db, p.location));

export async function enqueue(trx: Kysely<Database>, e: NewPoolEntry): Promise<PoolEntryRow> {
  const row = await first(
    entryInsert(trx, {
      id: e.id,
      location: e.location,
      agent: e.agent,
      kind: e.kind,
      params: e.params,
      hold: e.hold ? 1 : 0,
      ttl_ms: e.ttlMs,
      route: e.route,
      queued_at: e.now,
      expires_at: e.now + e.ttlMs,
      idempotency_key: e.idempotencyKey,
    }),
  );
  if (row === undefined) throw new Error(`the pool queue's insert of ${e.id} returned no row`);
  await appendAudit(trx, {
    at: e.now,
    actor: `agent:${e.agent}`,
    action: 'pool.queued',
    agent: e.agent,
    detail: { job: e.id, location: e.location, kind: e.kind, route: e.route },
  });
  return row;
}

// The queue keeps every entry it ever had; the waiting ones have a partial index of their own
// (location, seq). The state is a literal, as for jobs (OPEN_STATES_SQL in jobs/store.ts), so the
// index matches when the statement is prepared: with `state = ?` it matches only because this
// SQLite build (STAT4) plans again with the bound value.
const WAITING_SQL = sql<boolean>`state = 'waiting'`;

function waitingAt(db: Kysely<Database>, location: string) {
  return db.selectFrom('pool_queue').where('location', '=', location).where(WAITING_SQL);
}

/**
 * The reads of the pool queue's waiting entries: a submit's place, a drain, the sweep and (in a
 * cluster) every submit run them. Each reads the waiting entries' partial index, never the queue's
 * whole history; exported so a test can check SQLite's plan.
 */
export const poolQueueQueries = {
  waiting: (db: Kysely<Database>, location: string) => waitingAt(db, location).selectAll().orderBy('seq'),
  place: (db: Kysely<Database>, location: string, seq: number) =>
    waitingAt(db, location)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('seq', '<=', seq),
  oldestOfKinds: (db: Kysely<Database>, location: string, kinds: readonly string[]) =>
    waitingAt(db, location).selectAll().where('kind', 'in', kinds).orderBy('seq').limit(1),
  any: (db: Kysely<Database>, location: string) => waitingAt(db, location).select('seq').limit(1),
  count: (db: Kysely<Database>, location: string) => waitingAt(db, location).select((eb) => eb.fn.countAll<number>().as('n')),
  locations: (db: Kysely<Database>) => db.selectFrom('pool_queue').select('location').distinct().where(WAITING_SQL),
  // No ORDER BY seq: with it SQLite walks the whole table in seq order instead of the index.
  due: (db: Kysely<Database>, now: number) => db.selectFrom('pool_queue').selectAll().where(WAITING_SQL).where('expires_at', '<=', now),
};

/** Waiting entries of a location in FIFO order; `after` starts past that seq (a page of a longer queue). */
export async function waiting(db: Kysely<Database>, location: string, limit = 1000, after?: number): Promise<PoolEntryRow[]> {
  let q = poolQueueQueries.waiting(db, location);
  if (after !== undefined) q = q.where('seq', '>', after);
  return q.limit(limit).execute();
}

/** Every waiting entry of a location in FIFO order (a single node's in-memory pool queue is read from this). */
export async function allWaiting(db: Kysely<Database>, location: string): Promise<PoolEntryRow[]> {
  return poolQueueQueries.waiting(db, location).execute();
}

/** The waiting entry's place in its location's queue: how many waiting entries are as old or older. */
export async function placeInQueue(db: Kysely<Database>, location: string, seq: number): Promise<number> {
  return Number((await poolQueueQueries.place(db, location, seq).executeTakeFirstOrThrow()).n);
}

/** The oldest waiting entry of a location that a device running these kinds can take. */
/** One compiled query per number of kinds: a device announces few, out of the few kinds there are. */
const oldestOfKinds = preparedShapes(
  (n: number) => String(n),
  (db: Kysely<Database>, n: number, p: Params) =>
    poolQueueQueries.oldestOfKinds(
      db,
      p.location as string,
      Array.from({ length: n }, (_, i) => p[`k${i}`] as string),
    ),
);

export async function oldestWaitingFor(db: Kysely<Database>, location: string, kinds: readonly string[]): Promise<PoolEntryRow | undefined> {
  if (kinds.length === 0) return undefined;
  const params: Params = { location };
  for (const [i, k] of kinds.entries()) params[`k${i}`] = k;
  return first(oldestOfKinds(db, kinds.length, params));
}

/** Whether anyone waits in the location's queue (one index entry read, where a count reads them all). */
export async function anyWaiting(db: Kysely<Database>, location: string): Promise<boolean> {
  return (await first(oneWaiting(db, { location }))) !== undefined;
}

export async function waitingCount(db: Kysely<Database>, location: string): Promise<number> {
  return Number((await poolQueueQueries.count(db, location).executeTakeFirstOrThrow()).n);
}

export async function locationsWaiting(db: Kysely<Database>): Promise<string[]> {
  return (await poolQueueQueries.locations(db).execute()).map((r) => r.location);
}

export async function poolEntry(db: Kysely<Database>, id: string): Promise<PoolEntryRow | undefined> {
  return db.selectFrom('pool_queue').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function poolEntryByKey(db: Kysely<Database>, agent: string, key: string): Promise<PoolEntryRow | undefined> {
  return db.selectFrom('pool_queue').selectAll().where('agent', '=', agent).where('idempotency_key', '=', key).executeTakeFirst();
}

/** Puts an entry this transaction just assigned back in its place (its device was taken meanwhile). */
export async function unassign(trx: Kysely<Database>, id: string): Promise<void> {
  await trx.updateTable('pool_queue').set({ state: 'waiting', device: null, decided_at: null }).where('id', '=', id).where('state', '=', 'assigned').execute();
}

const decideUpdate = prepared((db: Kysely<Database>, p: { state: string; device: string | null; now: number; id: string }) =>
  db
    .updateTable('pool_queue')
    .set({ state: p.state as PoolEntryRow['state'], device: p.device, decided_at: p.now })
    .where('id', '=', p.id)
    .where('state', '=', 'waiting'),
);

/** Moves a waiting entry on (assigned to a device, cancelled, expired); false if it was not waiting. */
export async function decide(
  trx: Kysely<Database>,
  id: string,
  state: 'assigned' | 'cancelled' | 'expired',
  now: number,
  device: string | null = null,
): Promise<boolean> {
  const r = await decideUpdate(trx, { state, device, now, id });
  return Number(r.numAffectedRows) === 1;
}

/** Waiting entries whose time is up, oldest first. */
export async function dueEntries(db: Kysely<Database>, now: number): Promise<PoolEntryRow[]> {
  return (await poolQueueQueries.due(db, now).execute()).sort((a, b) => Number(a.seq) - Number(b.seq));
}
