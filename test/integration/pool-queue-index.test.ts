// The pool queue keeps every entry it ever had, and a pool device every job it ever ran. The
// queue's reads (a place, a drain, the sweep, a cluster's every submit) and the sweep's look for
// idle leases run again and again: SQLite's plan must name the index of the waiting entries and
// the device's (device, seq) index from the lease's own job on, never a scan of the history, and
// the answers must stay right with thousands of decided entries and finished jobs beside them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { JobRow } from '../../broker/jobs/schema';
import { jobsDb } from '../../broker/jobs/schema';
import type { Registry } from '../../broker/store/db';
import { openPostgres } from '../../broker/store/postgres';
import type { Database } from '../../broker/store/schema';
import {
  allWaiting,
  anyWaiting,
  dueEntries,
  idleLeases,
  idleLeasesQuery,
  locationsWaiting,
  oldestWaitingFor,
  placeInQueue,
  poolQueueQueries,
  waiting,
  waitingCount,
} from '../../broker/store/leases';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { jobRow, plan } from '../helpers/query-plans';
import { openTestRegistry } from '../helpers/registry';

const t = suite<{ dir: string; registry: Registry; raw: SQLite.Database; backends?: Backends | Error }>('pools: queue and lease indexes');

type EntryState = 'waiting' | 'assigned' | 'cancelled' | 'expired';

function entry(n: number, location: string, state: EntryState, kind = 'identify', expiresAt = 10_000) {
  return {
    id: `e${n}`,
    location,
    agent: `ag${n % 7}`,
    kind,
    params: '{}',
    hold: 0,
    ttl_ms: 1000,
    route: 'pool',
    state,
    device: state === 'assigned' ? 'd1' : null,
    queued_at: n,
    expires_at: expiresAt,
    decided_at: state === 'waiting' ? null : n,
  };
}

function lease(id: string, device: string, jobId: string) {
  return { id, device, agent: 'ag', location: 'loc-a', job: jobId, version: 1, started_at: 0, ended_at: null, end_reason: null };
}

/** The same history on either backend. */
async function fill(db: Kysely<Database>): Promise<void> {
  const decided: EntryState[] = ['assigned', 'cancelled', 'expired'];
  const entries = [];
  // A long history at both locations, then the waiting ones between decided ones.
  for (let n = 1; n <= 3000; n++) entries.push(entry(n, n % 2 === 0 ? 'loc-a' : 'loc-b', decided[n % 3]!));
  entries.push(entry(3001, 'loc-a', 'waiting', 'identify', 500), entry(3002, 'loc-a', 'assigned'), entry(3003, 'loc-a', 'waiting', 'qr.show'));
  entries.push(entry(3004, 'loc-a', 'waiting', 'identify', 400), entry(3005, 'loc-b', 'waiting', 'identify', 20_000));
  for (let i = 0; i < entries.length; i += 200)
    await db
      .insertInto('pool_queue')
      .values(entries.slice(i, i + 200))
      .execute();
  // d1: a long finished history, then its lease's job, finished long ago. d2: its lease's job runs.
  // d3: its lease's job ended a moment ago. d4: its lease's job finished long ago; a job before the
  // lease (finished before the lease began) was written a moment ago, which says nothing of the lease.
  const jobs: JobRow[] = [];
  for (let i = 1; i <= 3000; i++) jobs.push(jobRow('d1', i, 'done', i));
  jobs.push(jobRow('d1', 3001, 'done', 3001), jobRow('d2', 1, 'done', 1), jobRow('d2', 2, 'running', 2), jobRow('d3', 1, 'done', 9_000));
  jobs.push(jobRow('d4', 1, 'done', 9_500), jobRow('d4', 2, 'done', 100));
  for (let i = 0; i < jobs.length; i += 200)
    await jobsDb(db)
      .insertInto('jobs')
      .values(jobs.slice(i, i + 200))
      .execute();
  await db
    .insertInto('leases')
    .values([lease('l1', 'd1', 'd1-3001'), lease('l2', 'd2', 'd2-2'), lease('l3', 'd3', 'd3-1'), lease('l4', 'd4', 'd4-2')])
    .execute();
}

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-pool-index-'));
  c.registry = await openTestRegistry(join(c.dir, 'fleetbind.db'));
  await fill(c.registry.db);
  c.raw = new SQLite(join(c.dir, 'fleetbind.db'), { readonly: true });
  c.backends = await freshBackends();
});

t.after(async (c) => {
  c.raw.close();
  await c.registry.close();
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
  rmSync(c.dir, { recursive: true, force: true });
});

t("every read of the waiting entries goes through their partial index, not the queue's history", (c) => {
  const db = c.registry.db;
  for (const [name, q] of [
    ['waiting', poolQueueQueries.waiting(db, 'loc-a')],
    ['place', poolQueueQueries.place(db, 'loc-a', 3003)],
    ['oldest of kinds', poolQueueQueries.oldestOfKinds(db, 'loc-a', ['identify', 'qr.show'])],
    ['any', poolQueueQueries.any(db, 'loc-a')],
    ['count', poolQueueQueries.count(db, 'loc-a')],
    ['locations', poolQueueQueries.locations(db)],
    ['due', poolQueueQueries.due(db, 1000)],
  ] as const) {
    const p = plan(c.raw, q);
    assert.match(p, /pool_queue_waiting/, `${name}: ${p}`);
  }
});

/** What the waiting-entry reads answer over the history `fill` wrote. */
async function waitingAnswers(db: Kysely<Database>): Promise<void> {
  assert.equal(
    (await allWaiting(db, 'loc-a')).map((e) => e.id),
    ['e3001', 'e3003', 'e3004'],
  );
  assert.equal(
    (await waiting(db, 'loc-a', 1, 3001)).map((e) => e.id),
    ['e3003'],
  );
  assert.is(await placeInQueue(db, 'loc-a', 3003), 2);
  assert.is((await oldestWaitingFor(db, 'loc-a', ['qr.show']))?.id, 'e3003');
  assert.is((await oldestWaitingFor(db, 'loc-a', ['identify', 'qr.show']))?.id, 'e3001');
  assert.is(await oldestWaitingFor(db, 'loc-a', ['print']), undefined);
  assert.ok(await anyWaiting(db, 'loc-b'));
  assert.not.ok(await anyWaiting(db, 'loc-c'));
  assert.is(await waitingCount(db, 'loc-a'), 3);
  assert.equal((await locationsWaiting(db)).sort(), ['loc-a', 'loc-b']);
  // e3004 (expires 400) is due before e3001 (500); the order is the queue's, not the expiry's.
  assert.equal(
    (await dueEntries(db, 1000)).map((e) => e.id),
    ['e3001', 'e3004'],
  );
  assert.equal(await dueEntries(db, 100), []);
}

/** What the idle-lease sweep answers over the history `fill` wrote. */
async function idleAnswers(db: Kysely<Database>): Promise<void> {
  assert.equal((await idleLeases(db, 5000)).map((l) => l.id).sort(), ['l1', 'l4']);
  // Before every job ended, none is idle.
  assert.equal((await idleLeases(db, 50)).map((l) => l.id).sort(), []);
}

t('the waiting answers: FIFO per location, places, kinds, counts and due entries oldest first', (c) => waitingAnswers(c.registry.db));

t("the idle-lease sweep reads the device's jobs from the lease's own job on, by index", (c) => {
  const p = plan(c.raw, idleLeasesQuery(c.registry.db, 5000));
  assert.match(p, /SEARCH jobs USING INDEX jobs_device_seq \(device=\? AND seq>\?\)/, `plan: ${p}`);
  assert.not.match(p, /SCAN jobs/, `plan: ${p}`);
});

t('idle leases: a finished job long ago is idle; a running job, or one that just ended, is not', (c) => idleAnswers(c.registry.db));

t('PostgreSQL: the same answers from the same history', async (c) => {
  requireBackends(c.backends);
  const reg = await openPostgres(c.backends.databaseUrl, { max: 2 });
  try {
    await fill(reg.db);
    await waitingAnswers(reg.db);
    await idleAnswers(reg.db);
  } finally {
    await reg.close();
  }
});

t.run();
