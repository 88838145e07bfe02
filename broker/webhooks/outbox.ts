// The outbox: a change that causes a webhook event writes it in the change's own transaction, one
// delivery row per subscribed endpoint, so a crash after the commit loses nothing
// (docs/architecture.md, "Webhooks"). With no endpoint subscribed it costs one read of a row by
// key per transaction (subscribers.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { WebhookDataByType, WebhookEventType } from '../../protocol/webhooks';
import { webhooksDb } from './schema';
import { subscribersOf } from './subscribers';

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
