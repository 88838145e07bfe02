// The open-jobs and queued-jobs queries run several times per job. They must read only the
// device's unfinished jobs, however long its history: SQLite's plan names a partial index, and
// the answers stay right with thousands of finished jobs beside them. A state change rewrites no
// index entry it does not need (migration 0016).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type JobRow, jobsDb } from '../../broker/jobs/schema';
import { activeJobs, dueDevices, dueJobs, nextQueued, openCountQuery, openJobs, openJobsQuery, queueQueries, queuedDevices } from '../../broker/jobs/store';
import { isUniqueViolation } from '../../broker/store/db';
import type { Registry } from '../../broker/store/db';
import { jobRow, plan } from '../helpers/query-plans';
import { openTestRegistry } from '../helpers/registry';

const t = suite<{ dir: string; registry: Registry; raw: SQLite.Database }>('jobs: open-jobs index');

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-open-index-'));
  c.registry = await openTestRegistry(join(c.dir, 'fleetbind.db'));
  const db = jobsDb(c.registry.db);
  const rows: JobRow[] = [];
  // A long history for d1, a little for d2, and a few unfinished jobs between the finished ones.
  for (let i = 1; i <= 3000; i++) rows.push(jobRow('d1', i, i % 3 === 0 ? 'done' : i % 3 === 1 ? 'failed' : 'cancelled'));
  rows.push(jobRow('d1', 3001, 'running'), jobRow('d1', 3002, 'queued'), jobRow('d1', 3003, 'queued'), jobRow('d1', 3004, 'done'));
  rows.push(jobRow('d2', 1, 'done'), jobRow('d2', 2, 'dispatched'));
  // d3's queued job expires later than the others (expires_at 1000).
  rows.push({ ...jobRow('d3', 1, 'queued'), expires_at: 5000 });
  for (let i = 0; i < rows.length; i += 200)
    await db
      .insertInto('jobs')
      .values(rows.slice(i, i + 200))
      .execute();
  c.raw = new SQLite(join(c.dir, 'fleetbind.db'), { readonly: true });
});

t.after(async (c) => {
  c.raw.close();
  await c.registry.close();
  rmSync(c.dir, { recursive: true, force: true });
});

t("the open-jobs query reads the partial index of unfinished jobs, not the device's history", async (c) => {
  const p = plan(c.raw, openJobsQuery(jobsDb(c.registry.db), 'd1'));
  assert.match(p, /jobs_open/, `plan: ${p}`);
  assert.not.match(p, /TEMP B-TREE/, `no sort needed: ${p}`);
});

t('the queue-cap count reads only unfinished jobs (the open index, or device and state)', async (c) => {
  const p = plan(c.raw, openCountQuery(jobsDb(c.registry.db), 'd1'));
  assert.match(p, /jobs_open|\(device=\? AND state=\?\)/, `plan: ${p}`);
});

t('the answers are the unfinished jobs in queue order, per device', async (c) => {
  const db = jobsDb(c.registry.db);
  assert.equal(
    (await openJobs(db, 'd1')).map((r) => [r.seq, r.state]),
    [
      [3001, 'running'],
      [3002, 'queued'],
      [3003, 'queued'],
    ],
  );
  assert.equal(
    (await openJobs(db, 'd2')).map((r) => r.id),
    ['d2-2'],
  );
  assert.equal(Number((await openCountQuery(db, 'd1').executeTakeFirstOrThrow()).n), 3);
  assert.equal(await openJobs(db, 'nobody'), []);
});

t('the queued-job queries read the partial index of queued jobs; the running ones the open index', async (c) => {
  const db = jobsDb(c.registry.db);
  for (const [name, q] of [
    ['next queued', queueQueries.nextQueued(db, 'd1')],
    ['due jobs', queueQueries.dueJobs(db, 'd1', 2000)],
    ['queued devices', queueQueries.queuedDevices(db)],
    ['due devices', queueQueries.dueDevices(db, 2000)],
  ] as const) {
    const p = plan(c.raw, q);
    assert.match(p, /jobs_queued/, `${name}: ${p}`);
  }
  const p = plan(c.raw, queueQueries.active(db));
  assert.match(p, /jobs_open/, `active jobs: ${p}`);
});

t('the queued-job answers', async (c) => {
  const db = jobsDb(c.registry.db);
  assert.is((await nextQueued(db, 'd1'))?.seq, 3002);
  assert.is(await nextQueued(db, 'd2'), undefined);
  assert.equal(
    (await dueJobs(db, 'd1', 2000)).map((r) => r.seq),
    [3002, 3003],
  );
  assert.equal(await dueJobs(db, 'd3', 2000), []);
  assert.equal((await queuedDevices(db)).sort(), ['d1', 'd3']);
  assert.equal(await dueDevices(db, 2000), ['d1']);
  assert.equal(
    (await activeJobs(db)).map((r) => r.id),
    ['d1-3001', 'd2-2'],
  );
});

t('a state change rewrites only the indexes that hold it: no index on state alone or device and state', (c) => {
  const indexes = (
    c.raw.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL`).all() as { name: string; sql: string }[]
  )
    .map((r) => r.name)
    .sort();
  assert.equal(indexes, ['jobs_agent', 'jobs_device_seq', 'jobs_idempotency', 'jobs_open', 'jobs_queued']);
});

t('an idempotency key is unique per agent; jobs without one are not in its index', async (c) => {
  const db = jobsDb(c.registry.db);
  await db
    .insertInto('jobs')
    .values({ ...jobRow('d4', 1, 'done'), idempotency_key: 'k1' })
    .execute();
  const err = await db
    .insertInto('jobs')
    .values({ ...jobRow('d4', 2, 'queued'), idempotency_key: 'k1' })
    .execute()
    .then(
      () => null,
      (e: unknown) => e,
    );
  assert.ok(isUniqueViolation(err), `a second job with key k1: ${String(err)}`);
  await db
    .insertInto('jobs')
    .values({ ...jobRow('d4', 3, 'done'), agent: 'other', idempotency_key: 'k1' })
    .execute();
  const p = plan(c.raw, db.selectFrom('jobs').selectAll().where('agent', '=', 'ag').where('idempotency_key', '=', 'k1'));
  assert.match(p, /jobs_idempotency/, `plan: ${p}`);
  const { sql } = c.raw.prepare(`SELECT sql FROM sqlite_master WHERE name = 'jobs_idempotency'`).get() as { sql: string };
  assert.match(sql, /WHERE idempotency_key IS NOT NULL$/, sql);
  await db.deleteFrom('jobs').where('device', '=', 'd4').execute();
});

t.run();
