// The endpoints an event goes to, kept in memory. Two nodes over one PostgreSQL database: every
// kind of change to an endpoint counts from the next transaction on either node, and an event
// recorded in a transaction goes to the endpoints that transaction sees. One broker over a SQLite
// file, its only writer: every change counts at once, one rolled back leaves nothing behind, and a
// transaction that records events reads no endpoint row at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { migrate, type Registry } from '../../broker/store/db';
import type { Database } from '../../broker/store/schema';
import { recordEvent } from '../../broker/webhooks/outbox';
import { webhooksDb } from '../../broker/webhooks/schema';
import { createWebhook, deleteWebhook, updateWebhook } from '../../broker/webhooks/store';
import { endpointsChanged, endpointsSettled, subscribersOf } from '../../broker/webhooks/subscribers';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { openTestRegistry } from '../helpers/registry';
import { suite } from '../helpers/suite';

const t = suite<{ backends?: Backends | Error; dir: string; a?: Kysely<Database>; b?: Kysely<Database> }>('webhooks: subscribed endpoints');

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-subscribers-'));
  c.backends = await freshBackends();
  if (c.backends instanceof Error) return;
  const node = (): Kysely<Database> =>
    new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: (c.backends as Backends).databaseUrl, max: 2 }) }) });
  c.a = node();
  c.b = node();
  await migrate(c.a, 'postgres');
});

t.after(async (c) => {
  await c.a?.destroy();
  await c.b?.destroy();
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
  rmSync(c.dir, { recursive: true, force: true });
});

const ids = async (db: Kysely<any>, type: 'job.state' | 'device.presence'): Promise<string[]> => (await subscribersOf(db, type)).map((s) => s.id).sort();
const oldRow = (id: string) => ({
  id,
  url: 'https://example.com/o',
  events: JSON.stringify(['job.state']),
  secret: 'x'.repeat(32),
  enabled: 1,
  created_at: 1,
  created_by: 'admin:t',
  failing_since: null,
  disabled_at: null,
  disabled_reason: null,
});

t('PostgreSQL: every change to an endpoint counts at once, on both nodes', async (c) => {
  requireBackends(c.backends);
  const [a, b] = [c.a!, c.b!];
  assert.equal(await ids(a, 'job.state'), []);
  assert.equal(await ids(b, 'job.state'), []);
  const hook = await createWebhook(a, { url: 'https://example.com/h', events: ['job.state'], secret: 's'.repeat(32) }, 'admin:t', 1);
  assert.equal(await ids(a, 'job.state'), [hook.id]);
  assert.equal(await ids(b, 'job.state'), [hook.id], 'the other node sees the new endpoint');
  assert.equal(await ids(b, 'device.presence'), []);

  await updateWebhook(b, hook.id, { events: ['device.presence'] }, 'admin:t', 2);
  assert.equal(await ids(a, 'job.state'), []);
  assert.equal(await ids(a, 'device.presence'), [hook.id]);

  await updateWebhook(a, hook.id, { enabled: false }, 'admin:t', 3);
  assert.equal(await ids(b, 'device.presence'), [], 'a disabled endpoint gets nothing');
  await updateWebhook(a, hook.id, { enabled: true }, 'admin:t', 4);
  assert.equal(await ids(b, 'device.presence'), [hook.id]);

  await deleteWebhook(b, hook.id, 'admin:t', 5);
  assert.equal(await ids(a, 'device.presence'), []);
});

t('PostgreSQL: an endpoint written without a version change (a database from before versions) is read on first use', async (c) => {
  requireBackends(c.backends);
  const a = c.a!;
  const fresh = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: c.backends.databaseUrl, max: 1 }) }) });
  try {
    await webhooksDb(a).insertInto('webhooks').values(oldRow('wh-old')).execute();
    assert.equal(await ids(fresh, 'job.state'), ['wh-old']);
    // The node that cached the endpoints learns of it with the next change, as every writer of endpoints makes one.
    await a.transaction().execute((trx) => endpointsChanged(trx));
    assert.equal(await ids(a, 'job.state'), ['wh-old']);
    await deleteWebhook(a, 'wh-old', 'admin:t', 6);
  } finally {
    await fresh.destroy();
  }
});

t('PostgreSQL: an event recorded in a transaction gets one delivery per endpoint that transaction sees', async (c) => {
  requireBackends(c.backends);
  const [a, b] = [c.a!, c.b!];
  const one = await createWebhook(a, { url: 'https://example.com/1', events: ['job.state'], secret: 's'.repeat(32) }, 'admin:t', 10);
  const two = await createWebhook(b, { url: 'https://example.com/2', events: ['job.state', 'device.presence'], secret: 's'.repeat(32) }, 'admin:t', 11);
  const data = { job: 'j1', device: 'd1', agent: 'a1', kind: 'identify', state: 'done', detail: {} } as const;
  await a.transaction().execute(async (trx) => {
    await recordEvent(trx, 'job.state', data, 12);
    await recordEvent(trx, 'job.state', { ...data, job: 'j2' }, 12);
  });
  const rows = await webhooksDb(b).selectFrom('webhook_deliveries').select(['webhook']).execute();
  assert.equal(rows.map((r) => r.webhook).sort(), [one.id, one.id, two.id, two.id].sort());
});

/** Statements a transaction that asks for the job.state endpoints runs: its begin and commit, and any read. */
async function statementsOfAsking(r: Registry): Promise<{ statements: number; ids: string[] }> {
  const before = r.statements!();
  let seen: string[] = [];
  await r.db.transaction().execute(async (trx) => {
    seen = await ids(trx, 'job.state');
  });
  return { statements: r.statements!() - before, ids: seen };
}

t('SQLite: every change counts at once, a rolled-back one leaves nothing, and a transaction reads no endpoint row', async (c) => {
  const r = await openTestRegistry(join(c.dir, 'single.db'));
  try {
    await endpointsSettled(r.db);
    assert.equal(await statementsOfAsking(r), { statements: 2, ids: [] }, 'begin and commit only');

    const hook = await createWebhook(r.db, { url: 'https://example.com/h', events: ['job.state'], secret: 's'.repeat(32) }, 'admin:t', 1);
    assert.equal(await statementsOfAsking(r), { statements: 2, ids: [hook.id] }, 'the new endpoint, still with no read');
    await updateWebhook(r.db, hook.id, { events: ['device.presence'] }, 'admin:t', 2);
    assert.equal(await ids(r.db, 'job.state'), []);
    assert.equal(await ids(r.db, 'device.presence'), [hook.id]);
    await updateWebhook(r.db, hook.id, { enabled: false }, 'admin:t', 3);
    assert.equal(await ids(r.db, 'device.presence'), [], 'a disabled endpoint gets nothing');

    // A change whose transaction records an event after it (and so reads the endpoint it is
    // adding), then rolls back: no transaction after it sees that endpoint.
    const rolledBack = await r.db
      .transaction()
      .execute(async (trx) => {
        await webhooksDb(trx).insertInto('webhooks').values(oldRow('wh-gone')).execute();
        await endpointsChanged(trx);
        assert.equal(await ids(trx, 'job.state'), ['wh-gone'], 'its own transaction sees it');
        throw new Error('rolled back');
      })
      .then(
        () => null,
        (err: Error) => err.message,
      );
    assert.is(rolledBack, 'rolled back');
    await endpointsSettled(r.db);
    assert.equal(await statementsOfAsking(r), { statements: 2, ids: [] }, 'the rolled-back endpoint is not there');
    await deleteWebhook(r.db, hook.id, 'admin:t', 4);
    assert.equal(await ids(r.db, 'device.presence'), []);
  } finally {
    await r.close();
  }
});

t.run();
