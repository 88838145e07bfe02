// The webhook tables as Kysely sees them (migration 0005-idp-webhooks).
import type { Generated, Kysely } from 'kysely';
import type { Database } from '../store/schema';

export interface WebhooksTable {
  id: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  /** The HMAC key; kept as given because signing needs it, and never shown again. */
  secret: string;
  enabled: number;
  created_at: number;
  created_by: string;
  /** Since when every delivery failed; null after a success. */
  failing_since: number | null;
  disabled_at: number | null;
  disabled_reason: string | null;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  at: number;
  /** JSON text of the event's data. */
  data: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'disabled';

export interface WebhookDeliveriesTable {
  seq: Generated<number>;
  webhook: string;
  event: string;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  /** A node is delivering it until then; another node may take it over afterwards. */
  locked_until: number | null;
  created_at: number;
  delivered_at: number | null;
  last_status: number | null;
  last_error: string | null;
}

export interface WebhookAttemptsTable {
  seq: Generated<number>;
  delivery: number;
  at: number;
  status: number | null;
  error: string | null;
  latency_ms: number;
}

// A type alias, not an interface: withTables() needs an implicit index signature.
export type WebhookTables = {
  webhooks: WebhooksTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
};

export type WebhooksDatabase = Database & WebhookTables;

/** Widens any registry handle or transaction (core, jobs) to see the webhook tables. */
export function webhooksDb(db: Kysely<any>): Kysely<WebhooksDatabase> {
  return db as Kysely<WebhooksDatabase>;
}
