// The outbox: a change that causes a webhook event writes it in the change's own transaction, one
// delivery row per subscribed endpoint, so a crash after the commit loses nothing
// (docs/architecture.md, "Webhooks"). With no endpoint subscribed it costs one small read.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { WebhookDataByType, WebhookEventType } from '../../protocol/webhooks';
import { webhooksDb } from './schema';

export async function recordEvent<T extends WebhookEventType>(db: Kysely<any>, type: T, data: WebhookDataByType[T], at: number): Promise<void> {
  const w = webhooksDb(db);
  // Event types are plain words (protocol/webhooks.ts), so the quoted name cannot match another.
  const subscribers = await w.selectFrom('webhooks').select('id').where('enabled', '=', 1).where('events', 'like', `%"${type}"%`).execute();
  if (subscribers.length === 0) return;
  const id = randomUUID();
  await w.insertInto('webhook_events').values({ id, type, at, data: JSON.stringify(data) }).execute();
  await w
    .insertInto('webhook_deliveries')
    .values(subscribers.map((s) => ({ webhook: s.id, event: id, state: 'pending' as const, attempts: 0, next_at: at, locked_until: null, created_at: at, delivered_at: null, last_status: null, last_error: null })))
    .execute();
}
