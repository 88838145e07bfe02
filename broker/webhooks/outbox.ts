// The outbox: a change that causes a webhook event writes it in the change's own transaction, one
// delivery row per subscribed endpoint, so a crash after the commit loses nothing
// (docs/architecture.md, "Webhooks"). With no endpoint subscribed it costs one small read per
// event type and transaction.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { WebhookDataByType, WebhookEventType } from '../../protocol/webhooks';
import { webhooksDb } from './schema';

/**
 * Subscribers by event type, read once per transaction. A group commit records an event for
 * every job step in its batch (hundreds), and the endpoints cannot change under it: on SQLite the
 * transaction holds the only connection, and on PostgreSQL an endpoint committed meanwhile is a
 * race with the batch either way, as it is for one statement.
 */
const subscribersIn = new WeakMap<Kysely<any>, Map<string, Promise<{ id: string }[]>>>();

function subscribersOf(db: Kysely<any>, type: WebhookEventType): Promise<{ id: string }[]> {
  // Event types are plain words (protocol/webhooks.ts), so the quoted name cannot match another.
  const read = (): Promise<{ id: string }[]> =>
    webhooksDb(db).selectFrom('webhooks').select('id').where('enabled', '=', 1).where('events', 'like', `%"${type}"%`).execute();
  if (!db.isTransaction) return read();
  let byType = subscribersIn.get(db);
  if (!byType) subscribersIn.set(db, (byType = new Map()));
  let subscribers = byType.get(type);
  if (!subscribers) byType.set(type, (subscribers = read()));
  return subscribers;
}

export async function recordEvent<T extends WebhookEventType>(db: Kysely<any>, type: T, data: WebhookDataByType[T], at: number): Promise<void> {
  const w = webhooksDb(db);
  const subscribers = await subscribersOf(db, type);
  if (subscribers.length === 0) return;
  const id = randomUUID();
  await w
    .insertInto('webhook_events')
    .values({ id, type, at, data: JSON.stringify(data) })
    .execute();
  await w
    .insertInto('webhook_deliveries')
    .values(
      subscribers.map((s) => ({
        webhook: s.id,
        event: id,
        state: 'pending' as const,
        attempts: 0,
        next_at: at,
        locked_until: null,
        created_at: at,
        delivered_at: null,
        last_status: null,
        last_error: null,
      })),
    )
    .execute();
}
