// History rows a group commit inserts at the end of its transaction (broker/store/commit-inserts.ts):
// they commit with the writes that made them, in order, and a write that fails takes only its own.
// Job events and audit rows both go this way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import { type JobsDatabase, asRegistry, jobsDb } from '../../broker/jobs/schema';
import { addEvent } from '../../broker/jobs/store';
import { appendAudit } from '../../broker/store/audit';
import type { Registry } from '../../broker/store/db';
import { GroupWriter } from '../../broker/store/group-writer';
import { openTestRegistry } from '../helpers/registry';

const t = suite('group commit: history rows at the end of the transaction');
let dir = '';
let reg: Registry;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbind-commit-inserts-'));
  reg = await openTestRegistry(join(dir, 'registry.db'));
});
t.after(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

const events = (job: string) => jobsDb(reg.db).selectFrom('job_events').select(['event', 'at']).where('job', '=', job).orderBy('seq').execute();

t('rows of one batch commit together, in the order they were made, and only at the commit', async () => {
  const db = jobsDb(reg.db);
  const writer = new GroupWriter<JobsDatabase>(db);
  let seenInside = -1;
  const writes = [
    writer.write(async (trx) => {
      await addEvent(trx, 'job-a', 1, 'queued');
      await addEvent(trx, 'job-a', 2, 'dispatched');
    }),
    writer.write(async (trx) => {
      await addEvent(trx, 'job-a', 3, 'running');
      seenInside = (await trx.selectFrom('job_events').select('seq').where('job', '=', 'job-a').execute()).length;
    }),
  ];
  await Promise.all(writes);
  assert.is(seenInside, 0, 'held back until the batch ends');
  assert.equal(
    (await events('job-a')).map((e) => e.event),
    ['queued', 'dispatched', 'running'],
  );
});

t('a write that fails takes its own rows with it; the batch around it commits', async () => {
  const writer = new GroupWriter<JobsDatabase>(jobsDb(reg.db));
  const ok1 = writer.write((trx) => addEvent(trx, 'job-b', 1, 'queued'));
  const bad = writer
    .write(async (trx) => {
      await addEvent(trx, 'job-c', 1, 'queued');
      throw new Error('refused');
    })
    .then(
      () => 'committed',
      (err: Error) => err.message,
    );
  const ok2 = writer.write((trx) => addEvent(trx, 'job-b', 2, 'dispatched'));
  await ok1;
  await ok2;
  assert.is(await bad, 'refused');
  assert.equal(
    (await events('job-b')).map((e) => e.event),
    ['queued', 'dispatched'],
  );
  assert.equal(await events('job-c'), []);
});

t('more rows than one INSERT takes go in several, all of them', async () => {
  const writer = new GroupWriter<JobsDatabase>(jobsDb(reg.db));
  await writer.write(async (trx) => {
    for (let i = 0; i < 700; i++) await addEvent(trx, 'job-d', i, `e${i}`);
  });
  const rows = await events('job-d');
  assert.is(rows.length, 700);
  assert.ok(rows.every((r, i) => Number(r.at) === i));
});

t('audit rows of a batch commit with it in the order appended, and a failed write leaves none of its own', async () => {
  const writer = new GroupWriter<JobsDatabase>(jobsDb(reg.db));
  const audit = (trx: Kysely<JobsDatabase>, action: string) => appendAudit(asRegistry(trx), { at: 1, actor: 'test', action, device: 'dev-audit' });
  let seenInside = -1;
  await Promise.all([
    writer.write(async (trx) => {
      await audit(trx, 'lease.end');
      await audit(trx, 'lease.start');
    }),
    writer.write(async (trx) => {
      await audit(trx, 'claim');
      seenInside = (await asRegistry(trx).selectFrom('audit').select('seq').where('device', '=', 'dev-audit').execute()).length;
    }),
  ]);
  assert.is(seenInside, 0, 'held back until the batch ends');
  const refused = writer
    .write(async (trx) => {
      await audit(trx, 'refused.change');
      throw new Error('refused');
    })
    .then(
      () => 'committed',
      (err: Error) => err.message,
    );
  await writer.write((trx) => audit(trx, 'release'));
  assert.is(await refused, 'refused');
  const rows = await reg.db.selectFrom('audit').select('action').where('device', '=', 'dev-audit').orderBy('seq').execute();
  assert.equal(
    rows.map((r) => r.action),
    ['lease.end', 'lease.start', 'claim', 'release'],
  );
});

t('outside a group commit a row goes in at once', async () => {
  await jobsDb(reg.db)
    .transaction()
    .execute(async (trx) => {
      await addEvent(trx, 'job-e', 1, 'queued');
      assert.is((await trx.selectFrom('job_events').select('seq').where('job', '=', 'job-e').execute()).length, 1);
    });
});

t.run();
