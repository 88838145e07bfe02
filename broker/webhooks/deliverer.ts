// Delivers the outbox at least once: claims due deliveries (FOR UPDATE SKIP LOCKED on PostgreSQL,
// so in a cluster exactly one node takes each), POSTs them signed, and records each attempt.
// Failures retry with exponential backoff and jitter until --webhooks-retry-for-ms; an endpoint
// failing for --webhooks-disable-after-ms is disabled, audited, logged as an error and told to admins
// (docs/architecture.md, "Webhooks").
import { type Kysely, sql } from 'kysely';
import { Gauge } from 'prom-client';
import { adminAlertsTopic } from '../../protocol/topics';
import type { WebhookAlert } from '../../protocol/webhooks';
import type { WebhookOptions } from '../config';
import type { Context } from '../context';
import { type PublisherContext, publishJson } from '../publisher';
import { appendAudit } from '../store/audit';
import type { Dialect } from '../store/migrations';
import { first, prepared } from '../store/prepared';
import { postEvent, type PostResult } from './post';
import { type WebhookEventsTable, type WebhooksDatabase, type WebhooksTable, webhooksDb } from './schema';
import { signatureHeader } from './signature';
import { endpointsChanged, endpointsSettled } from './subscribers';

/** What this module reads of the node's context. */
type DelivererContext = Pick<Context, 'closing' | 'db' | 'log' | 'metrics' | 'now' | 'writer'> & PublisherContext;

const POLL_MS = 100;
/**
 * Deliveries in flight at once (each its own keep-alive request). A round claims what room there
 * is; when a backlog waits, finishing half of them starts the next round at once, so throughput is
 * bound by the receivers and the CPU, not by the poll interval (64 per 100 ms capped it near 600/s).
 */
const MAX_IN_FLIGHT = 256;
const MAX_BACKOFF_MS = 3600_000;
/**
 * How long a claim outlives the POST's timeout. It must also cover recording the outcome, which
 * waits for a group commit: on a loaded cluster that took over 5 s, the lock lapsed, and the other
 * node delivered the same event again. A dead node's deliveries wait this much longer, no more.
 */
const CLAIM_GRACE_MS = 60_000;

/**
 * Whether any delivery is due: what most polls ask, and all an idle broker does ten times a second,
 * so it is built once (building it each time was most of an idle broker's JavaScript time).
 */
const anyDue = prepared((db: Kysely<WebhooksDatabase>, p: { now: number }) =>
  db
    .selectFrom('webhook_deliveries')
    .select('seq')
    .where('state', '=', 'pending')
    .where('next_at', '<=', p.now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', p.now)]))
    .limit(1),
);

interface Claimed {
  seq: number;
  webhook: string;
  event: string;
  attempts: number;
  created_at: number;
}

/** Delay before attempt n+1 after n failed ones: base·2^(n-1), capped, scaled by a random 0.5-1. */
export function backoffMs(base: number, failed: number): number {
  const raw = Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(30, failed - 1));
  return Math.round(raw * (0.5 + Math.random() / 2));
}

export class Deliverer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private ticking: Promise<void> = Promise.resolve();
  private busy = false;
  /** A round ran out of room: more may be due, so freed room starts the next round. */
  private backlog = false;
  private again = false;

  constructor(
    private readonly ctx: DelivererContext,
    private readonly dialect: Dialect,
    private readonly o: WebhookOptions,
  ) {
    const db = this.db;
    new Gauge({
      name: 'fleetbind_webhook_outbox_depth',
      help: 'Webhook deliveries waiting to be delivered (pending, due or backing off)',
      registers: [ctx.metrics.registry],
      async collect() {
        const r = await db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('state', '=', 'pending')
          .executeTakeFirstOrThrow();
        this.set(Number(r.n));
      },
    });
  }

  private get db() {
    return webhooksDb(this.ctx.db);
  }

  async start(): Promise<void> {
    // One SQLite node owns every delivery: locks left by a crash are its own, free them now.
    if (this.dialect === 'sqlite') await this.db.updateTable('webhook_deliveries').set({ locked_until: null }).where('locked_until', 'is not', null).execute();
    await endpointsSettled(this.ctx.db);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all(this.inFlight);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.round();
    }, ms);
  }

  /** One round at a time; a wake-up during a round runs another straight after it. */
  private round(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.ticking = this.tick()
      .catch((err: unknown) => {
        this.ctx.log.error({ err }, 'webhook delivery round failed');
        return POLL_MS;
      })
      .then((next) => {
        this.busy = false;
        this.schedule(this.again ? 0 : next);
        this.again = false;
      });
  }

  private finished(): void {
    if (this.backlog && this.inFlight.size <= MAX_IN_FLIGHT / 2) {
      this.backlog = false;
      this.schedule(0);
    }
  }

  /** Claims and starts what is due; resolves with the delay before the next round. */
  private async tick(): Promise<number> {
    const room = MAX_IN_FLIGHT - this.inFlight.size;
    let claimed: Claimed[] = [];
    if (room > 0 && !this.ctx.closing) {
      try {
        claimed = await this.claim(room);
      } catch (err) {
        this.ctx.log.warn({ err: (err as Error).message }, 'claiming webhook deliveries failed; retrying');
      }
    }
    if (claimed.length > 0) {
      const events = await this.db
        .selectFrom('webhook_events')
        .selectAll()
        .where('id', 'in', [...new Set(claimed.map((c) => c.event))])
        .execute();
      const hooks = await this.db
        .selectFrom('webhooks')
        .selectAll()
        .where('id', 'in', [...new Set(claimed.map((c) => c.webhook))])
        .execute();
      const eventById = new Map(events.map((e) => [e.id, e]));
      const hookById = new Map(hooks.map((h) => [h.id, h]));
      for (const c of claimed) {
        const p = this.deliver(c, hookById.get(c.webhook), eventById.get(c.event))
          .catch((err: unknown) => this.ctx.log.error({ err, delivery: c.seq }, 'recording a webhook delivery failed'))
          .finally(() => {
            this.inFlight.delete(p);
            this.finished();
          });
        this.inFlight.add(p);
      }
    }
    // Every free slot taken (or none free): more is probably due, and freed room starts the next
    // round; otherwise the outbox is drained and the next round waits for the poll interval.
    this.backlog = room <= 0 || claimed.length === room;
    return POLL_MS;
  }

  private async claim(limit: number): Promise<Claimed[]> {
    const now = this.ctx.now();
    // Most polls find nothing due. A read says so cheaply; the claiming UPDATE is a write
    // transaction (1-2 ms here even when it changes no row), ten times a second on every node.
    if ((await first(anyDue(this.db, { now }))) === undefined) return [];
    const lockUntil = now + this.o.timeoutMs + CLAIM_GRACE_MS;
    const skipLocked = this.dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    const r = await sql<Claimed>`
      UPDATE webhook_deliveries SET locked_until = ${lockUntil}
      WHERE seq IN (
        SELECT seq FROM webhook_deliveries
        WHERE state = 'pending' AND next_at <= ${now} AND (locked_until IS NULL OR locked_until <= ${now})
        ORDER BY seq LIMIT ${limit} ${skipLocked}
      )
      RETURNING seq, webhook, event, attempts, created_at`.execute(this.ctx.db);
    return r.rows.map((row) => ({
      seq: Number(row.seq),
      webhook: row.webhook,
      event: row.event,
      attempts: Number(row.attempts),
      created_at: Number(row.created_at),
    }));
  }

  private async deliver(c: Claimed, hook: WebhooksTable | undefined, ev: WebhookEventsTable | undefined): Promise<void> {
    if (!hook || Number(hook.enabled) !== 1 || !ev) {
      await this.ctx.writer.write((trx) =>
        webhooksDb(trx).updateTable('webhook_deliveries').set({ state: 'disabled', locked_until: null }).where('seq', '=', c.seq).execute(),
      );
      return;
    }
    // The stored data is already JSON: splice it in rather than parse and re-serialise.
    const body = `{"id":${JSON.stringify(ev.id)},"type":${JSON.stringify(ev.type)},"time":${JSON.stringify(new Date(Number(ev.at)).toISOString())},"data":${ev.data}}`;
    const headers = {
      'fleetbind-signature': signatureHeader(hook.secret, body, Math.floor(this.ctx.now() / 1000)),
      'fleetbind-event-id': ev.id,
      'fleetbind-event-type': ev.type,
      'fleetbind-delivery': String(c.seq),
      'fleetbind-attempt': String(c.attempts + 1),
    };
    const result = await postEvent(hook.url, body, headers, this.o.timeoutMs, this.o.allowPrivate);
    await this.record(c, hook, result);
  }

  private async record(c: Claimed, hook: WebhooksTable, r: PostResult): Promise<void> {
    const now = this.ctx.now();
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    const attempts = c.attempts + 1;
    const error = ok ? null : (r.error ?? `HTTP ${r.status}`);
    this.ctx.metrics.webhookAttempts.inc({ outcome: ok ? 'delivered' : 'failed' });
    // A write that disabled the endpoint changed the endpoints: once it is over, they are read again.
    const disabled = await this.ctx.writer
      .write(async (trx) => {
        const w = webhooksDb(trx);
        await w.insertInto('webhook_attempts').values({ delivery: c.seq, at: now, status: r.status, error, latency_ms: r.latencyMs }).execute();
        if (ok) {
          await w
            .updateTable('webhook_deliveries')
            .set({ state: 'delivered', attempts, delivered_at: now, last_status: r.status, last_error: null, locked_until: null })
            .where('seq', '=', c.seq)
            .execute();
          await w.updateTable('webhooks').set({ failing_since: null }).where('id', '=', hook.id).where('failing_since', 'is not', null).execute();
          return null;
        }
        const giveUp = now - c.created_at >= this.o.retryForMs;
        await w
          .updateTable('webhook_deliveries')
          .set({
            state: giveUp ? 'failed' : 'pending',
            attempts,
            next_at: now + backoffMs(this.o.backoffMs, attempts),
            last_status: r.status,
            last_error: error,
            locked_until: null,
          })
          .where('seq', '=', c.seq)
          .execute();
        await w.updateTable('webhooks').set({ failing_since: now }).where('id', '=', hook.id).where('failing_since', 'is', null).execute();
        const cur = await w.selectFrom('webhooks').select(['enabled', 'failing_since']).where('id', '=', hook.id).executeTakeFirst();
        if (!cur || Number(cur.enabled) !== 1 || cur.failing_since === null || now - Number(cur.failing_since) < this.o.disableAfterMs) return null;
        const reason = `every delivery failed for ${Math.round((now - Number(cur.failing_since)) / 1000)} s (last: ${error})`;
        await w.updateTable('webhooks').set({ enabled: 0, disabled_at: now, disabled_reason: reason }).where('id', '=', hook.id).execute();
        await endpointsChanged(w);
        await w.updateTable('webhook_deliveries').set({ state: 'disabled' }).where('webhook', '=', hook.id).where('state', '=', 'pending').execute();
        await appendAudit(trx, { at: now, actor: 'broker', action: 'webhook.disabled', detail: { webhook: hook.id, url: hook.url, reason } });
        return `webhook ${hook.id} (${hook.url}) disabled: ${reason}`;
      })
      .finally(() => endpointsSettled(this.ctx.db));
    if (disabled === null) return;
    this.ctx.log.error({ alert: 'webhook-disabled', webhook: hook.id, url: hook.url }, `ALERT: ${disabled}`);
    const alert: WebhookAlert = { event: 'webhook', kind: 'webhook-disabled', webhook: hook.id, url: hook.url, message: disabled, at: now };
    await publishJson(this.ctx, adminAlertsTopic, alert);
  }
}
