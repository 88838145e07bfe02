// Webhook endpoints and their delivery history. Registration, changes and removal are audited.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { WebhookDeliveryView, WebhookView } from '../../protocol/rest';
import { appendAudit } from '../store/audit';
import type { Database } from '../store/schema';
import { type WebhooksDatabase, type WebhooksTable, webhooksDb } from './schema';
import { endpointsChanged, endpointsSettled } from './subscribers';

/** The same transaction seen as the core registry, for appendAudit. */
const core = (trx: Kysely<WebhooksDatabase>): Kysely<Database> => trx as unknown as Kysely<Database>;

export function webhookView(r: WebhooksTable): WebhookView {
  return {
    id: r.id,
    url: r.url,
    events: JSON.parse(r.events) as WebhookView['events'],
    enabled: Number(r.enabled) === 1,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    failingSince: r.failing_since === null ? null : Number(r.failing_since),
    disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
    disabledReason: r.disabled_reason,
  };
}

/** A transaction that changes the endpoints: once it is over, committed or not, they are read again. */
async function changingEndpoints(db: Kysely<any>, fn: (trx: Transaction<WebhooksDatabase>) => Promise<void>): Promise<void> {
  try {
    await webhooksDb(db).transaction().execute(fn);
  } finally {
    await endpointsSettled(db);
  }
}

export async function createWebhook(db: Kysely<any>, w: { url: string; events: string[]; secret: string }, actor: string, now: number): Promise<WebhooksTable> {
  const row: WebhooksTable = {
    id: `wh-${randomUUID()}`,
    url: w.url,
    events: JSON.stringify(w.events),
    secret: w.secret,
    enabled: 1,
    created_at: now,
    created_by: actor,
    failing_since: null,
    disabled_at: null,
    disabled_reason: null,
  };
  await changingEndpoints(db, async (trx) => {
    await trx.insertInto('webhooks').values(row).execute();
    await endpointsChanged(trx);
    await appendAudit(core(trx), { at: now, actor, action: 'webhook.created', detail: { webhook: row.id, url: w.url, events: w.events } });
  });
  return row;
}

export async function getWebhook(db: Kysely<any>, id: string): Promise<WebhooksTable> {
  const row = await webhooksDb(db).selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new ProtocolError(ErrorCode.NOT_FOUND, `no webhook ${id}`, 'id');
  return row;
}

export async function listWebhooks(db: Kysely<any>): Promise<WebhooksTable[]> {
  return webhooksDb(db).selectFrom('webhooks').selectAll().orderBy('created_at').execute();
}

export interface WebhookPatch {
  url?: string;
  events?: string[];
  secret?: string;
  enabled?: boolean;
}

export async function updateWebhook(db: Kysely<any>, id: string, p: WebhookPatch, actor: string, now: number): Promise<void> {
  await changingEndpoints(db, async (trx) => {
    const set: Partial<WebhooksTable> = {};
    if (p.url !== undefined) set.url = p.url;
    if (p.events !== undefined) set.events = JSON.stringify(p.events);
    if (p.secret !== undefined) set.secret = p.secret;
    if (p.enabled === true) Object.assign(set, { enabled: 1, failing_since: null, disabled_at: null, disabled_reason: null });
    if (p.enabled === false) Object.assign(set, { enabled: 0, disabled_at: now, disabled_reason: `disabled by ${actor}` });
    if (Object.keys(set).length === 0) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'nothing to change');
    const r = await trx.updateTable('webhooks').set(set).where('id', '=', id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no webhook ${id}`, 'id');
    await endpointsChanged(trx);
    const changed = Object.keys(p).filter((k) => k !== 'secret');
    if (p.secret !== undefined) changed.push('secret');
    await appendAudit(core(trx), { at: now, actor, action: 'webhook.updated', detail: { webhook: id, changed } });
  });
}

export async function deleteWebhook(db: Kysely<any>, id: string, actor: string, now: number): Promise<void> {
  await changingEndpoints(db, async (trx) => {
    const r = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no webhook ${id}`, 'id');
    await endpointsChanged(trx);
    await trx.updateTable('webhook_deliveries').set({ state: 'disabled' }).where('webhook', '=', id).where('state', '=', 'pending').execute();
    await appendAudit(core(trx), { at: now, actor, action: 'webhook.deleted', detail: { webhook: id } });
  });
}

export async function listDeliveries(db: Kysely<any>, webhook: string, limit: number, before?: number): Promise<WebhookDeliveryView[]> {
  const w = webhooksDb(db);
  let q = w
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event')
    .select(['d.seq', 'd.event', 'e.type', 'd.state', 'd.created_at', 'd.next_at', 'd.delivered_at', 'd.last_status', 'd.last_error'])
    .where('d.webhook', '=', webhook)
    .orderBy('d.seq', 'desc')
    .limit(limit);
  if (before !== undefined) q = q.where('d.seq', '<', before);
  const rows = await q.execute();
  const seqs = rows.map((r) => Number(r.seq));
  const attempts = seqs.length === 0 ? [] : await w.selectFrom('webhook_attempts').selectAll().where('delivery', 'in', seqs).orderBy('seq').execute();
  const byDelivery = new Map<number, WebhookDeliveryView['attempts']>();
  for (const a of attempts) {
    const list = byDelivery.get(Number(a.delivery)) ?? [];
    list.push({ at: Number(a.at), status: a.status === null ? null : Number(a.status), error: a.error, latencyMs: Number(a.latency_ms) });
    byDelivery.set(Number(a.delivery), list);
  }
  return rows.map((r) => ({
    seq: Number(r.seq),
    event: r.event,
    type: r.type,
    state: r.state,
    attempts: byDelivery.get(Number(r.seq)) ?? [],
    createdAt: Number(r.created_at),
    nextAt: r.state === 'pending' ? Number(r.next_at) : null,
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
  }));
}

/** Queues a delivery again now, whatever became of it; refused while its endpoint is disabled. */
export async function redeliver(db: Kysely<any>, webhook: string, seq: number, actor: string, now: number): Promise<void> {
  const hook = await getWebhook(db, webhook);
  if (Number(hook.enabled) !== 1)
    throw new ProtocolError(ErrorCode.CONFLICT, 'this webhook is disabled; enable it (PATCH {"enabled": true}) before redelivering', 'id');
  await webhooksDb(db)
    .transaction()
    .execute(async (trx) => {
      const r = await trx
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', next_at: now, locked_until: null })
        .where('seq', '=', seq)
        .where('webhook', '=', webhook)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no delivery ${seq} for webhook ${webhook}`, 'seq');
      await appendAudit(core(trx), { at: now, actor, action: 'webhook.redelivered', detail: { webhook, delivery: seq } });
    });
}
