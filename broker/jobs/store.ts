// Job queries. Every state change is one conditional UPDATE on the current state plus its history
// row, in one transaction; the conditions make a late or repeated change a no-op.
import { randomFillSync } from 'node:crypto';
import { type Insertable, type Transaction, sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { FINAL_JOB_STATES, type JobState } from '../../protocol/jobs';
import { insertAtCommit } from '../store/commit-inserts';
import { type Params, prepared, preparedShapes } from '../store/prepared';
import { recordEvent } from '../webhooks/outbox';
import type { Duration } from './eta';
import type { JobEventsTable, JobRow, JobsDatabase, JobsDb } from './schema';

type Db = JobsDb | Transaction<JobsDatabase>;

export const OPEN_STATES: readonly JobState[] = ['queued', 'dispatched', 'running'];
/**
 * OPEN_STATES as the literal condition of the jobs_open partial index (migration 0004): a planner
 * can prove a query covered by a partial index only from the same constants, never from bound
 * parameters.
 */
const OPEN_STATES_SQL = sql<boolean>`state in ('queued', 'dispatched', 'running')`;
/** The condition of the jobs_queued partial index (migration 0016), literal for the same reason. */
const QUEUED_SQL = sql<boolean>`state = 'queued'`;
export const ACTIVE_STATES: readonly JobState[] = ['dispatched', 'running'];
export { FINAL_JOB_STATES };

/** The per-state timestamp column each state sets. */
export const STATE_TIME = {
  queued: 'queued_at',
  dispatched: 'dispatched_at',
  running: 'running_at',
  done: 'done_at',
  failed: 'failed_at',
  cancelled: 'cancelled_at',
  expired: 'expired_at',
  interrupted: 'interrupted_at',
} as const satisfies Record<JobState, keyof JobRow>;

export async function getJob(db: Db, id: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function jobByKey(db: Db, agent: string, key: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('agent', '=', agent).where('idempotency_key', '=', key).executeTakeFirst();
}

/** Unfinished jobs of a device in queue order. */
export function openJobsQuery(db: Db, device: string) {
  return db.selectFrom('jobs').selectAll().where('device', '=', device).where(OPEN_STATES_SQL).orderBy('seq');
}

// Compiled once (prepared.ts): each binding change and each queue step of a device reads them.
const openJobsByDevice = prepared((db: Db, p: { device: string }) => openJobsQuery(db, p.device));

export async function openJobs(db: Db, device: string): Promise<JobRow[]> {
  return (await openJobsByDevice(db, { device })).rows;
}

/** Unfinished jobs of many devices at once, in queue order (the machine list). */
export async function openJobsOf(db: Db, devices: string[]): Promise<Array<Pick<JobRow, 'device' | 'id' | 'state'>>> {
  if (devices.length === 0) return [];
  return db.selectFrom('jobs').select(['device', 'id', 'state']).where('device', 'in', devices).where(OPEN_STATES_SQL).orderBy('seq').execute();
}

/** How many unfinished jobs the device has (its queue cap counts these). */
export function openCountQuery(db: Db, device: string) {
  return db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('device', '=', device)
    .where(OPEN_STATES_SQL);
}

// Compiled once (prepared.ts): every submit counts the queue it joins.
const openCountByDevice = prepared((db: Db, p: { device: string }) => openCountQuery(db, p.device));

export async function openCount(db: Db, device: string): Promise<number> {
  return Number((await openCountByDevice(db, { device })).rows[0]?.n ?? 0);
}

/**
 * The queries the dispatcher, the expiry sweep and a restart run on every device's queue. Each
 * reads a partial index (jobs_queued, jobs_open), never a device's whole history; exported so a
 * test can check SQLite's plan.
 */
export const queueQueries = {
  nextQueued: (db: Db, device: string) => db.selectFrom('jobs').selectAll().where('device', '=', device).where(QUEUED_SQL).orderBy('seq').limit(1),
  active: (db: Db) => db.selectFrom('jobs').selectAll().where(OPEN_STATES_SQL).where('state', 'in', ACTIVE_STATES).orderBy('device').orderBy('seq'),
  queuedDevices: (db: Db) => db.selectFrom('jobs').select('device').distinct().where(QUEUED_SQL),
  dueDevices: (db: Db, now: number) => db.selectFrom('jobs').select('device').distinct().where(QUEUED_SQL).where('expires_at', '<=', now),
  dueJobs: (db: Db, device: string, now: number) =>
    db.selectFrom('jobs').selectAll().where('device', '=', device).where(QUEUED_SQL).where('expires_at', '<=', now).orderBy('seq'),
};

export async function nextQueued(db: Db, device: string): Promise<JobRow | undefined> {
  return queueQueries.nextQueued(db, device).executeTakeFirst();
}

export async function activeJobs(db: Db): Promise<JobRow[]> {
  return queueQueries.active(db).execute();
}

export async function queuedDevices(db: Db): Promise<string[]> {
  return (await queueQueries.queuedDevices(db).execute()).map((r) => r.device);
}

export async function dueDevices(db: Db, now: number): Promise<string[]> {
  return (await queueQueries.dueDevices(db, now).execute()).map((r) => r.device);
}

export async function dueJobs(db: Db, device: string, now: number): Promise<JobRow[]> {
  return queueQueries.dueJobs(db, device, now).execute();
}

export interface JobQuery {
  device?: string;
  agent?: string;
  state?: JobState;
  limit: number;
}

/** Newest first. */
export async function listJobs(db: Db, q: JobQuery): Promise<JobRow[]> {
  let query = db.selectFrom('jobs').selectAll().orderBy('queued_at', 'desc').orderBy('seq', 'desc').limit(q.limit);
  if (q.device !== undefined) query = query.where('device', '=', q.device);
  if (q.agent !== undefined) query = query.where('agent', '=', q.agent);
  if (q.state !== undefined) query = query.where('state', '=', q.state);
  return query.execute();
}

export async function addEvent(db: Db, job: string, at: number, event: string, detail: Record<string, unknown> = {}): Promise<void> {
  await insertAtCommit(db, 'job_events', { job, at, event, detail: JSON.stringify(detail) } satisfies Insertable<JobEventsTable>);
}

/** How a job that named no device found one: through a location's pool, or the agent's primary (pool null). */
export interface JobVia {
  pool: string | null;
  route: string;
}

export interface NewJob {
  id: string;
  device: string;
  agent: string;
  kind: string;
  params: string;
  hold: boolean;
  ttlMs: number;
  idempotencyKey: string | null;
  now: number;
  /** Set when the job came through a location's pool (docs/architecture.md, Locations and pools). */
  via?: JobVia;
}

/**
 * Appends a job to its device's queue unless the queue holds `cap` unfinished jobs already.
 * Bumping the queue row first serialises concurrent submits for one device (a row lock on
 * PostgreSQL), so neither the order nor the cap can be raced.
 */
// A submit's statements, compiled once per shape (prepared.ts).
const bumpQueue = prepared((db: Db, p: { device: string }) =>
  db
    .insertInto('job_queues')
    .values({ device: p.device, next_seq: 1 })
    .onConflict((oc) => oc.column('device').doUpdateSet({ next_seq: sql`job_queues.next_seq + 1` }))
    .returning('next_seq'),
);
/** By the columns given: a pool job has two more. */
const insertJobRow = preparedShapes(
  (cols: string[]) => cols.join(),
  (db: Db, cols, p: Params) => db.insertInto('jobs').values(Object.fromEntries(cols.map((c) => [c, p[c]])) as unknown as JobRow),
);

/** Random bytes for job ids, drawn 4 KiB at a time, and the time and counter of the last id. */
const ids = { pool: Buffer.alloc(0), used: 0, msecs: -Infinity, seq: 0 };

/**
 * A new job's id: a UUID whose leading bits are its creation time in ms (RFC 9562 version 7), then
 * a counter that orders the ids of one millisecond, then random bits. A job's history rows are
 * indexed by its id, as is the job itself, so random ids put every job's inserts on a random index
 * page: 3.5 of the 10.5 pages an average commit wrote to the WAL at 500 jobs/s. Ids in time order
 * put recent jobs' entries on the last few pages. uuid keeps that counter only when it draws the
 * random bytes itself, with crypto.getRandomValues on each call (8-12 µs a call on this machine);
 * here they come from a pool and the counter is kept as uuid keeps it, about 1 µs an id.
 */
export function newJobId(): string {
  if (ids.used + 16 > ids.pool.length) {
    ids.pool = randomFillSync(Buffer.allocUnsafe(4096));
    ids.used = 0;
  }
  const random = ids.pool.subarray(ids.used, ids.used + 16);
  ids.used += 16;
  const now = Date.now();
  if (now > ids.msecs) {
    // Each millisecond's counter starts at a random 31-bit value.
    ids.msecs = now;
    ids.seq = random.readUInt32BE(6) >>> 1;
  } else {
    ids.seq = (ids.seq + 1) | 0;
    // The counter wrapped: the id borrows the next millisecond.
    if (ids.seq === 0) ids.msecs++;
  }
  return uuidv7({ random, msecs: ids.msecs, seq: ids.seq });
}

/**
 * Queues a job on its device, or 'full' when the device already has `cap` unfinished jobs. A cap
 * of null skips that count: the caller's transaction has itself found the device with none (a
 * lease handed over, whose end required it).
 */
export async function insertJob(trx: Transaction<JobsDatabase>, j: NewJob, cap: number | null): Promise<JobRow | 'full'> {
  const q = (await bumpQueue(trx, { device: j.device })).rows[0];
  if (q === undefined) throw new Error(`no queue row came back for ${j.device}`);
  if (cap !== null && (await openCount(trx, j.device)) >= cap) return 'full';
  const row: JobRow = {
    id: j.id,
    device: j.device,
    agent: j.agent,
    kind: j.kind,
    params: j.params,
    hold: j.hold ? 1 : 0,
    seq: Number(q.next_seq),
    state: 'queued',
    attempt: 0,
    ttl_ms: j.ttlMs,
    expires_at: j.now + j.ttlMs,
    idempotency_key: j.idempotencyKey,
    progress: null,
    result: null,
    error_code: null,
    error: null,
    control: null,
    control_reason: null,
    retries: 0,
    queued_at: j.now,
    dispatched_at: null,
    running_at: null,
    done_at: null,
    failed_at: null,
    cancelled_at: null,
    expired_at: null,
    interrupted_at: null,
    updated_at: j.now,
    ...(j.via ? { pool: j.via.pool, route: j.via.route } : {}),
  };
  await insertJobRow(trx, Object.keys(row), row as unknown as Params);
  const detail = { agent: j.agent, kind: j.kind, seq: row.seq, ...(j.via ? { pool: j.via.pool, route: j.via.route } : {}) };
  await addEvent(trx, j.id, j.now, 'queued', detail);
  await recordEvent(trx, 'job.state', { job: j.id, device: j.device, agent: j.agent, kind: j.kind, state: 'queued', detail }, j.now);
  return row;
}

export type JobPatch = Partial<Omit<JobRow, 'id' | 'device' | 'agent' | 'kind' | 'params' | 'seq'>>;

/** The columns a move to `to` sets: the patch, the state's time (a job going back to its queue keeps its submit time), the state. */
export function transitionSet(to: JobState, now: number, patch: JobPatch = {}): JobPatch {
  const stamp = to === 'queued' ? {} : { [STATE_TIME[to]]: now };
  return { ...patch, ...stamp, state: to, updated_at: now };
}

// By the columns set and the number of states moved from: a handful of shapes, each compiled once
// (prepared.ts), for the three or four moves of every job.
const transitionUpdate = preparedShapes(
  (s: { cols: string[]; from: number }) => `${s.cols.join()}|${s.from}`,
  (db: Db, s, p: Params) =>
    db
      .updateTable('jobs')
      .set(Object.fromEntries(s.cols.map((c) => [c, p[c]])) as JobPatch)
      .where('id', '=', p.id as string)
      .where(
        'state',
        'in',
        Array.from({ length: s.from }, (_, i) => p[`from${i}`] as JobState),
      )
      .returning(['device', 'agent', 'kind']),
);

/** Moves a job from one of `from` to `to` (transitionSet); false if it was not in `from`. */
export async function transition(
  db: Db,
  id: string,
  from: readonly JobState[],
  to: JobState,
  now: number,
  patch: JobPatch = {},
  detail: Record<string, unknown> = {},
): Promise<boolean> {
  const set: Params = transitionSet(to, now, patch);
  const cols = Object.keys(set).filter((c) => set[c] !== undefined);
  const params: Params = { ...set, id };
  for (const [i, state] of from.entries()) params[`from${i}`] = state;
  const moved = (await transitionUpdate(db, { cols, from: from.length }, params)).rows[0];
  if (moved === undefined) return false;
  await addEvent(db, id, now, to, detail);
  await recordEvent(db, 'job.state', { job: id, ...moved, state: to, detail }, now);
  return true;
}

export async function patchJob(db: Db, id: string, patch: JobPatch, now: number): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ ...patch, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/**
 * Reserves the device for a held job: only while the job's agent still holds the device, and
 * no other job holds the reservation.
 */
export async function reserveDevice(db: Db, device: string, agent: string, job: string): Promise<'ok' | 'unbound' | 'reserved'> {
  const r = await db
    .updateTable('devices')
    .set({ reserved_by_job: job })
    .where('id', '=', device)
    .where('agent_id', '=', agent)
    .where((eb) => eb.or([eb('reserved_by_job', 'is', null), eb('reserved_by_job', '=', job)]))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 1) return 'ok';
  const row = await db.selectFrom('devices').select(['agent_id']).where('id', '=', device).executeTakeFirst();
  return row?.agent_id === agent ? 'reserved' : 'unbound';
}

export async function unreserveDevice(db: Db, device: string, job: string): Promise<void> {
  await db.updateTable('devices').set({ reserved_by_job: null }).where('id', '=', device).where('reserved_by_job', '=', job).execute();
}

export async function loadDurations(db: Db, device: string): Promise<Map<string, Duration>> {
  const rows = await db.selectFrom('job_durations').selectAll().where('device', '=', device).execute();
  return new Map(rows.map((r) => [r.kind, { ewmaMs: Number(r.ewma_ms), samples: Number(r.samples) }]));
}

// Compiled once (prepared.ts): every job that ends well updates its kind's duration.
const upsertDuration = prepared((db: Db, p: { device: string; kind: string; ewma: number; samples: number }) =>
  db
    .insertInto('job_durations')
    .values({ device: p.device, kind: p.kind, ewma_ms: p.ewma, samples: p.samples })
    .onConflict((oc) => oc.columns(['device', 'kind']).doUpdateSet({ ewma_ms: p.ewma, samples: p.samples })),
);

export async function saveDuration(db: Db, device: string, kind: string, d: Duration): Promise<void> {
  await upsertDuration(db, { device, kind, ewma: d.ewmaMs, samples: d.samples });
}

export async function addData(db: Db, job: string, at: number, stream: string, payload: string, encoding: 'utf8' | 'base64'): Promise<void> {
  await db.insertInto('job_data').values({ job, at, stream, payload, encoding }).execute();
}

export async function dataStats(db: Db, job: string): Promise<{ rows: number; bytes: number }> {
  const r = await db
    .selectFrom('job_data')
    .select((eb) => [eb.fn.countAll<number>().as('rows'), eb.fn.coalesce(eb.fn.sum<number>(eb.fn('length', ['payload'])), eb.lit(0)).as('bytes')])
    .where('job', '=', job)
    .executeTakeFirstOrThrow();
  return { rows: Number(r.rows), bytes: Number(r.bytes) };
}

export async function jobHistory(db: Db, job: string): Promise<{ at: number; event: string; detail: Record<string, unknown> }[]> {
  const rows = await db.selectFrom('job_events').selectAll().where('job', '=', job).orderBy('seq').execute();
  return rows.map((r) => ({ at: Number(r.at), event: r.event, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

export async function jobData(db: Db, job: string): Promise<{ at: number; stream: string; payload: string; encoding: 'utf8' | 'base64' }[]> {
  const rows = await db.selectFrom('job_data').selectAll().where('job', '=', job).orderBy('seq').execute();
  return rows.map((r) => ({ at: Number(r.at), stream: r.stream, payload: r.payload, encoding: r.encoding }));
}
