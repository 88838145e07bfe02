// The open-jobs queries run several times per job. They must read only the device's unfinished
// jobs, however long its history: SQLite's plan names the partial index of open jobs, and the
// answers stay right with thousands of finished jobs beside them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Compilable } from 'kysely';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type JobRow, jobsDb } from '../../broker/jobs/schema';
import { openCountQuery, openJobs, openJobsQuery } from '../../broker/jobs/store';
import type { Registry } from '../../broker/store/db';
import type { JobState } from '../../protocol/jobs';
import { openTestRegistry } from '../helpers/registry';

const t = suite<{ dir: string; registry: Registry; raw: SQLite.Database }>('jobs: open-jobs index');

function row(device: string, seq: number, state: JobState): JobRow {
  return {
    id: `${device}-${seq}`,
    device,
    agent: 'ag',
    kind: 'identify',
    params: '{}',
    hold: 0,
    seq,
    state,
    attempt: 0,
    ttl_ms: 1000,
    expires_at: 1000,
    idempotency_key: null,
    progress: null,
    result: null,
    error_code: null,
    error: null,
    control: null,
    control_reason: null,
    retries: 0,
    queued_at: seq,
    dispatched_at: null,
    running_at: null,
    done_at: null,
    failed_at: null,
    cancelled_at: null,
    expired_at: null,
    interrupted_at: null,
    updated_at: seq,
  };
}

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-open-index-'));
  c.registry = await openTestRegistry(join(c.dir, 'fleetbind.db'));
  const db = jobsDb(c.registry.db);
  const rows: JobRow[] = [];
  // A long history for d1, a little for d2, and a few unfinished jobs between the finished ones.
  for (let i = 1; i <= 3000; i++) rows.push(row('d1', i, i % 3 === 0 ? 'done' : i % 3 === 1 ? 'failed' : 'cancelled'));
  rows.push(row('d1', 3001, 'running'), row('d1', 3002, 'queued'), row('d1', 3003, 'queued'), row('d1', 3004, 'done'));
  rows.push(row('d2', 1, 'done'), row('d2', 2, 'dispatched'));
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

function plan(raw: SQLite.Database, q: Compilable): string {
  const c = q.compile();
  return (raw.prepare(`EXPLAIN QUERY PLAN ${c.sql}`).all(...(c.parameters as unknown[])) as { detail: string }[]).map((r) => r.detail).join('; ');
}

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

t.run();
