// The endpoints an event goes to, kept in memory under a version: every kind of change to an
// endpoint counts from the next transaction, on this registry and on a second one over the same
// file (as a second node sees a shared database), and an event recorded in a transaction goes to
// the endpoints that transaction sees.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Registry } from '../../broker/store/db';
import { recordEvent } from '../../broker/webhooks/outbox';
import { webhooksDb } from '../../broker/webhooks/schema';
import { createWebhook, deleteWebhook, updateWebhook } from '../../broker/webhooks/store';
import { endpointsChanged, subscribersOf } from '../../broker/webhooks/subscribers';
import { openTestRegistry } from '../helpers/registry';

const t = suite<{ dir: string; a: Registry; b: Registry }>('webhooks: subscribed endpoints');

t.before(async (c) => {
  c.dir = mkdtempSync(join(tmpdir(), 'fleetbind-subscribers-'));
  c.a = await openTestRegistry(join(c.dir, 'fleetbind.db'));
  c.b = await openTestRegistry(join(c.dir, 'fleetbind.db'));
});

t.after(async (c) => {
  await c.a.close();
  await c.b.close();
  rmSync(c.dir, { recursive: true, force: true });
});

const ids = async (r: Registry, type: 'job.state' | 'device.presence'): Promise<string[]> => (await subscribersOf(r.db, type)).map((s) => s.id).sort();

t('every change to an endpoint counts at once, on both registries', async (c) => {
  assert.equal(await ids(c.a, 'job.state'), []);
  assert.equal(await ids(c.b, 'job.state'), []);
  const hook = await createWebhook(c.a.db, { url: 'https://example.com/h', events: ['job.state'], secret: 's'.repeat(32) }, 'admin:t', 1);
  assert.equal(await ids(c.a, 'job.state'), [hook.id]);
  assert.equal(await ids(c.b, 'job.state'), [hook.id], 'the other registry sees the new endpoint');
  assert.equal(await ids(c.b, 'device.presence'), []);

  await updateWebhook(c.b.db, hook.id, { events: ['device.presence'] }, 'admin:t', 2);
  assert.equal(await ids(c.a, 'job.state'), []);
  assert.equal(await ids(c.a, 'device.presence'), [hook.id]);

  await updateWebhook(c.a.db, hook.id, { enabled: false }, 'admin:t', 3);
  assert.equal(await ids(c.b, 'device.presence'), [], 'a disabled endpoint gets nothing');
  await updateWebhook(c.a.db, hook.id, { enabled: true }, 'admin:t', 4);
  assert.equal(await ids(c.b, 'device.presence'), [hook.id]);

  await deleteWebhook(c.b.db, hook.id, 'admin:t', 5);
  assert.equal(await ids(c.a, 'device.presence'), []);
});

t('an endpoint written without a version change (a database from before versions) is read on first use', async (c) => {
  const fresh = await openTestRegistry(join(c.dir, 'fleetbind.db'));
  try {
    await webhooksDb(c.a.db)
      .insertInto('webhooks')
      .values({
        id: 'wh-old',
        url: 'https://example.com/o',
        events: JSON.stringify(['job.state']),
        secret: 'x'.repeat(32),
        enabled: 1,
        created_at: 1,
        created_by: 'admin:t',
        failing_since: null,
        disabled_at: null,
        disabled_reason: null,
      })
      .execute();
    assert.equal(await ids(fresh, 'job.state'), ['wh-old']);
    // The cached registry learns of it with the next change, as every writer of endpoints makes one.
    await c.a.db.transaction().execute((trx) => endpointsChanged(trx));
    assert.equal(await ids(c.a, 'job.state'), ['wh-old']);
    await deleteWebhook(c.a.db, 'wh-old', 'admin:t', 6);
  } finally {
    await fresh.close();
  }
});

t('an event recorded in a transaction gets one delivery per endpoint that transaction sees', async (c) => {
  const one = await createWebhook(c.a.db, { url: 'https://example.com/1', events: ['job.state'], secret: 's'.repeat(32) }, 'admin:t', 10);
  const two = await createWebhook(c.b.db, { url: 'https://example.com/2', events: ['job.state', 'device.presence'], secret: 's'.repeat(32) }, 'admin:t', 11);
  const data = { job: 'j1', device: 'd1', agent: 'a1', kind: 'identify', state: 'done', detail: {} } as const;
  await c.a.db.transaction().execute(async (trx) => {
    await recordEvent(trx, 'job.state', data, 12);
    await recordEvent(trx, 'job.state', { ...data, job: 'j2' }, 12);
  });
  const rows = await webhooksDb(c.b.db).selectFrom('webhook_deliveries').select(['webhook']).execute();
  assert.equal(rows.map((r) => r.webhook).sort(), [one.id, one.id, two.id, two.id].sort());
});

t.run();
