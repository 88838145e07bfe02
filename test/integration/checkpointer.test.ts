// The SQLite registry checkpoints its WAL on a worker thread (broker/store/checkpointer.ts), not
// inside a COMMIT on the main thread. Under continuous writes one checkpoint in a while holds the
// connection so the WAL starts again from the beginning. Real registry files, a real worker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import * as assert from 'uvu/assert';
import { BACKSTOP_PAGES, COMMITS_PER_CHECKPOINT, Checkpointer, RESTART_FRAMES } from '../../broker/store/checkpointer';
import type { Registry } from '../../broker/store/db';
import { openTestRegistry } from '../helpers/registry';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  dir: string;
  reg: Registry;
}

const t = suite<Ctx>('SQLite registry: checkpoints off the main thread', {} as Ctx);

t.before.each(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-checkpointer-'));
  c.reg = await openTestRegistry(join(c.dir, 'registry.db'));
});
t.after.each(async (c) => {
  await c.reg.close();
  rmSync(c.dir, { recursive: true, force: true });
});

// About 16 pages of WAL per commit: a row with a 60 KB value.
const BIG = 'x'.repeat(60_000);
const put = (reg: Registry, key: string) => reg.db.insertInto('kv').values({ key, value: BIG }).execute();

t('the main connection checkpoints by itself only past the backstop', async (c) => {
  const r = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(c.reg.db);
  assert.is(r.rows[0]?.wal_autocheckpoint, BACKSTOP_PAGES);
});

t('every so many commits the worker copies the WAL into the file', async (c) => {
  const ck = c.reg.checkpointer!;
  // Opening the registry committed its migrations; a checkpoint starts the count again.
  await ck.checkpoint();
  const before = ck.checkpoints;
  for (let i = 0; i < COMMITS_PER_CHECKPOINT - 1; i++) await put(c.reg, `k${i}`);
  assert.is(ck.checkpoints, before, 'not before the count is reached');
  await put(c.reg, 'last');
  await waitUntil(() => ck.checkpoints === before + 1, 10_000, 'the worker checkpointed');
  const result = await ck.checkpoint();
  assert.ok(result.log > 0, 'the WAL holds the commits');
  assert.is(result.checkpointed, result.log, 'every frame is copied');
  assert.not.ok(result.busy);
});

t('under continuous writes the WAL restarts from the beginning, with no checkpoint on the main thread', async (c) => {
  const ck = c.reg.checkpointer!;
  let written = 0;
  let longest = 0;
  // Four writes in flight at all times, so that commits keep arriving while each checkpoint runs
  // and no checkpoint ever finds the WAL at rest.
  const writer = async (): Promise<void> => {
    while (ck.restarts === 0 && written < 4_000) {
      await put(c.reg, `w${written++}`);
      longest = Math.max(longest, ck.walFrames);
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
  assert.ok(ck.restarts >= 1, `a checkpoint held the connection (${written} commits, longest WAL ${longest} frames)`);
  assert.ok(longest >= RESTART_FRAMES, `only once the WAL had grown past the mark (${longest} frames)`);
  assert.ok(longest < BACKSTOP_PAGES, 'before the main connection would have checkpointed');
  for (let k = 0; k < COMMITS_PER_CHECKPOINT; k++) await put(c.reg, `after${k}`);
  const after = await ck.checkpoint();
  assert.ok(after.log < RESTART_FRAMES / 2, `the WAL started again from the beginning (${after.log} frames now)`);
  const rows = await c.reg.db
    .selectFrom('kv')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('value', '=', BIG)
    .executeTakeFirstOrThrow();
  assert.is(Number(rows.n), written + COMMITS_PER_CHECKPOINT);
});

t('what was written survives closing and opening again, and the file is sound', async (c) => {
  for (let i = 0; i < COMMITS_PER_CHECKPOINT * 2; i++) await put(c.reg, `d${i}`);
  await c.reg.checkpointer!.checkpoint();
  await c.reg.close();
  c.reg = await openTestRegistry(join(c.dir, 'registry.db'));
  const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(c.reg.db);
  assert.equal(
    check.rows.map((r) => r.integrity_check),
    ['ok'],
  );
  const rows = await c.reg.db
    .selectFrom('kv')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('value', '=', BIG)
    .executeTakeFirstOrThrow();
  assert.is(Number(rows.n), COMMITS_PER_CHECKPOINT * 2);
});

t('a worker that cannot open the file says why, through the error handler too', async (c) => {
  const errors: Error[] = [];
  const ck = new Checkpointer(join(c.dir, 'missing.db'), (err) => errors.push(err));
  try {
    await ck.checkpoint().then(
      () => assert.unreachable('a checkpoint of a missing file succeeded'),
      (err: Error) => assert.match(err.message, /WAL checkpoint failed: .*(unable to open|does not exist|missing)/i, err.message),
    );
    for (let i = 0; i < COMMITS_PER_CHECKPOINT; i++) ck.committed();
    await waitUntil(() => errors.length === 1, 10_000, 'the handler heard of the failure');
    assert.match(errors[0]!.message, /WAL checkpoint failed/);
  } finally {
    await ck.close();
  }
});

t.run();
