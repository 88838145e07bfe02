// Alerts (docs/architecture.md, Machine state): low consumable, machine error, offline too long,
// and a job failure rate over the threshold. Each is raised once (one open row per machine, kind
// and subject, held by a unique index), cleared once, and acknowledged by an admin. The holder is
// told on `fb/v1/a/<agent>/alerts`, admins on `fb/v1/admin/alerts`.
import { randomUUID } from 'node:crypto';
import type { AlertView } from '../../protocol/rest';
import { type ReportedState, consumableWords, lowThreshold } from '../../protocol/machine-state';
import type { Status } from '../../protocol/messages';
import { adminAlertsTopic, agentTopic } from '../../protocol/topics';
import type { Context } from '../context';
import { publishJson } from '../publisher';
import type { AlertRow } from '../store/schema';
import { recordEvent } from '../webhooks/outbox';
import { ackAlert, clearAlert, insertAlert, openAlerts } from './store';

export const ALERT_KINDS = ['consumable-low', 'machine-error', 'offline', 'job-failures'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export function alertView(r: AlertRow): AlertView {
  return {
    id: r.id,
    device: r.device,
    kind: r.kind as AlertKind,
    subject: r.subject,
    state: r.state as AlertView['state'],
    message: r.message,
    raisedAt: Number(r.raised_at),
    clearedAt: r.cleared_at === null ? null : Number(r.cleared_at),
    ackedAt: r.acked_at === null ? null : Number(r.acked_at),
    ackedBy: r.acked_by,
  };
}

const key = (kind: string, subject: string): string => `${kind}\u0000${subject}`;
const ALERTS_TOPIC = '$SYS/fleetbind/alerts';

export class Alerts {
  /** Open alerts per device, so a report that changes nothing alarming costs no query. */
  private readonly open = new Map<string, Set<string>>();
  private readonly offlineTimers = new Map<string, NodeJS.Timeout>();
  private readonly recentJobs = new Map<string, boolean[]>();
  /** One device's raises and clears run in order. */
  private readonly chains = new Map<string, Promise<void>>();

  /** Tells the other nodes an alert opened or closed here; null on one node. */
  private tellNodes: ((msg: { d: string; k: string; open: boolean }) => void) | null = null;

  constructor(private readonly ctx: Context) {}

  async start(): Promise<void> {
    // A device's reports and presence may be handled by another node after it reconnects there:
    // every node follows which alerts are open, so the one raised here is cleared there.
    this.tellNodes =
      (await this.ctx.backends.channel<{ d: string; k: string; open: boolean }>(ALERTS_TOPIC, 'alert change', ({ d, k, open }) => this.mark(d, k, open))) ??
      null;
    for (const r of await openAlerts(this.ctx.db)) this.mark(r.device, key(r.kind, r.subject), true);
  }

  stop(): void {
    for (const t of this.offlineTimers.values()) clearTimeout(t);
    this.offlineTimers.clear();
  }

  /** After each accepted state report. */
  onReported(device: string, before: ReportedState, after: ReportedState): void {
    const { lowPercent, hysteresisPercent } = this.ctx.opts.machines;
    const low = lowThreshold(after, lowPercent);
    const names = new Set([...Object.keys(before.consumables ?? {}), ...Object.keys(after.consumables ?? {})]);
    for (const name of names) {
      const c = after.consumables?.[name];
      if (c !== undefined && c.level < low) this.raise(device, 'consumable-low', name, `${consumableWords(name)} is at ${c.level}% (under ${low}%)`);
      // Hysteresis: a level hovering at the threshold neither clears nor re-raises.
      else if (c === undefined || c.level >= low + hysteresisPercent) this.clear(device, 'consumable-low', name);
    }
    const m = after.machine;
    if (m?.status === 'error') this.raise(device, 'machine-error', 'machine', m.error ? `${m.error.code}: ${m.error.message}` : 'the machine reports an error');
    else this.clear(device, 'machine-error', 'machine');
  }

  onPresence(device: string, status: Status): void {
    const timer = this.offlineTimers.get(device);
    if (status.state === 'online') {
      if (timer) clearTimeout(timer);
      this.offlineTimers.delete(device);
      this.clear(device, 'offline', 'presence');
      return;
    }
    if (status.state !== 'offline' || timer) return;
    const wait = Math.max(0, status.since + this.ctx.opts.machines.offlineAlertMs - this.ctx.now());
    const t = setTimeout(() => {
      this.offlineTimers.delete(device);
      if (this.ctx.presence.status(device).state === 'offline')
        this.raise(device, 'offline', 'presence', `offline since ${new Date(status.since).toISOString()}`);
    }, wait);
    t.unref();
    this.offlineTimers.set(device, t);
  }

  /** A job of the device ended; `failed` counts against it. */
  onJobEnded(device: string, failed: boolean): void {
    const { failureRate, failureWindow } = this.ctx.opts.machines;
    const recent = this.recentJobs.get(device) ?? [];
    recent.push(failed);
    if (recent.length > failureWindow) recent.shift();
    this.recentJobs.set(device, recent);
    if (recent.length < failureWindow) return;
    const rate = recent.filter(Boolean).length / recent.length;
    if (rate >= failureRate) this.raise(device, 'job-failures', 'jobs', `${Math.round(rate * 100)}% of the last ${recent.length} jobs failed`);
    else if (rate < failureRate / 2) this.clear(device, 'job-failures', 'jobs');
  }

  async ack(id: string, by: string): Promise<AlertRow | undefined> {
    const row = await ackAlert(this.ctx.db, id, by, this.ctx.now());
    if (row) await this.tell(row, 'acked');
    return row;
  }

  /** Resolves when every raise and clear handed in so far is done (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private isOpen(device: string, k: string): boolean {
    return this.open.get(device)?.has(k) ?? false;
  }

  private mark(device: string, k: string, open: boolean): void {
    const set = this.open.get(device) ?? new Set<string>();
    if (open) set.add(k);
    else set.delete(k);
    if (set.size === 0) this.open.delete(device);
    else this.open.set(device, set);
  }

  private raise(device: string, kind: AlertKind, subject: string, message: string): void {
    const k = key(kind, subject);
    if (this.isOpen(device, k)) return;
    this.mark(device, k, true);
    this.run(device, async () => {
      const row: AlertRow = {
        id: randomUUID(),
        device,
        agent: this.ctx.bindings.agentOf(device),
        kind,
        subject,
        state: 'open',
        message,
        raised_at: this.ctx.now(),
        cleared_at: null,
        acked_at: null,
        acked_by: null,
      };
      const inserted = await this.ctx.writer.write(async (trx) => {
        if (!(await insertAlert(trx, row))) return false;
        await recordEvent(trx, 'alert.raised', { ...alertView(row), agent: row.agent }, row.raised_at);
        return true;
      });
      if (!inserted) return;
      this.tellNodes?.({ d: device, k, open: true });
      this.ctx.metrics.alerts.inc({ kind, event: 'raised' });
      await this.tell(row, 'raised');
    });
  }

  private clear(device: string, kind: AlertKind, subject: string): void {
    const k = key(kind, subject);
    if (!this.isOpen(device, k)) return;
    this.mark(device, k, false);
    this.run(device, async () => {
      const at = this.ctx.now();
      const row = await this.ctx.writer.write(async (trx) => {
        const cleared = await clearAlert(trx, device, kind, subject, at);
        if (cleared) await recordEvent(trx, 'alert.cleared', { ...alertView(cleared), agent: this.ctx.bindings.agentOf(device) }, at);
        return cleared;
      });
      if (!row) return;
      this.tellNodes?.({ d: device, k, open: false });
      this.ctx.metrics.alerts.inc({ kind, event: 'cleared' });
      await this.tell(row, 'cleared');
    });
  }

  private run(device: string, fn: () => Promise<void>): void {
    const prev = this.chains.get(device) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => this.ctx.log.error({ err, device }, 'recording an alert failed'));
    this.chains.set(device, next);
    void next.then(() => {
      if (this.chains.get(device) === next) this.chains.delete(device);
    });
  }

  /** The machine's holder now (not when it was raised) is told, and admins. */
  private async tell(row: AlertRow, event: 'raised' | 'cleared' | 'acked'): Promise<void> {
    const body = { event, alert: alertView(row) };
    const agent = this.ctx.bindings.agentOf(row.device);
    if (agent !== null) await publishJson(this.ctx, agentTopic(agent, 'alerts'), body);
    await publishJson(this.ctx, adminAlertsTopic, body);
  }
}
