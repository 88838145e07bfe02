// Drives rollouts (docs/architecture.md, Over-the-air updates). One node drives each rollout at a
// time, under a lease kept in the rollout's own row (a compare-and-set on driver/lease_until), so
// a node that dies is replaced by another once its lease lapses. Every step is a compare-and-set
// on the device's row before anything is sent, so a new driver never sends a second command for
// the same try: it resends the one in flight, with the same job id, which the device dedupes.
//
// Acks and hello reports are applied by whichever node the device is connected to, straight to
// the rows; the driver only reads them.
import { sql } from 'kysely';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { type Ack, parseAck } from '../../protocol/messages';
import { OTA_JOB_PREFIX, OTA_KIND, type OtaParams, type OtaReport, type RolloutDeviceState, type RolloutWindow } from '../../protocol/ota';
import { deviceTopic } from '../../protocol/topics';
import { parseJson } from '../../protocol/validate';
import type { Context } from '../context';
import { jobsDb } from '../jobs/schema';
import { publishJson } from '../publisher';
import { recordEvent } from '../webhooks/outbox';
import { alertIfFinishedWithFailures, alertRollout } from './alerts';
import { inWindow } from './window';
import type { OtaMetrics } from './metrics';
import { controlRollout, driverLeaseMs } from './rollouts';
import { otaDb, type RolloutsTable } from './schema';

/** Sends of one try before a device that stays online without answering counts as failed. */
export const OTA_SENDS = 5;
const FINAL: RolloutDeviceState[] = ['confirmed', 'failed', 'rolled-back'];
const OPEN_JOB_STATES = ['queued', 'dispatched', 'running'] as const;
export const SYSTEM_ACTOR = 'system:ota';

function rolloutOfJob(job: string): string | null {
  const m = /^ota\.([a-z0-9]+)\.\d+$/.exec(job);
  return m === null ? null : m[1]!;
}

export class RolloutEngine {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly onAck = (device: string, payload: Buffer): void =>
    void this.applyAck(device, payload).catch((err: unknown) => this.ctx.log.error({ err, device }, 'applying an update ack failed'));
  private readonly onReport = (device: string, report: OtaReport): void =>
    void this.applyReport(device, report).catch((err: unknown) => this.ctx.log.error({ err, device }, 'applying an update report failed'));

  constructor(
    private readonly ctx: Context,
    private readonly node: string,
    private readonly metrics: OtaMetrics,
  ) {}

  start(): void {
    this.ctx.events.on('ack', this.onAck);
    this.ctx.events.on('ota', this.onReport);
    this.timer = setInterval(() => {
      if (this.running === null)
        this.running = this.tick()
          .catch((err: unknown) => this.ctx.log.error({ err }, 'driving rollouts failed'))
          .finally(() => (this.running = null));
    }, this.ctx.opts.otaTickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.ctx.events.off('ack', this.onAck);
    this.ctx.events.off('ota', this.onReport);
    await this.running;
  }

  private get db() {
    return otaDb(this.ctx.db);
  }

  /** One pass over the running rollouts this node drives (or may take over). */
  async tick(): Promise<void> {
    const now = this.ctx.now();
    const leaseMs = driverLeaseMs(this.ctx.opts);
    const running = await this.db.selectFrom('rollouts').select('id').where('state', '=', 'running').execute();
    for (const { id } of running) {
      const took = await this.db
        .updateTable('rollouts')
        .set({ driver: this.node, lease_until: now + leaseMs })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .where((eb) => eb.or([eb('driver', 'is', null), eb('driver', '=', this.node), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      if (Number(took.numUpdatedRows) === 0) continue;
      const r = await this.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
      if (r !== undefined && r.state === 'running') await this.drive(r, now);
    }
  }

  private async drive(r: RolloutsTable, now: number): Promise<void> {
    const waves = JSON.parse(r.waves) as number[];
    if (await this.failingWave(r)) return;
    await this.resend(r, now);
    if (r.send_window === null || inWindow(JSON.parse(r.send_window) as RolloutWindow, now)) await this.dispatch(r, now);
    const open = await this.db
      .selectFrom('rollout_devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('rollout', '=', r.id)
      .where('wave', '<=', r.wave)
      .where('state', 'not in', FINAL)
      .executeTakeFirst();
    if (Number(open?.n ?? 0) > 0) return;
    if (r.wave_settled_at === null) {
      await this.db.updateTable('rollouts').set({ wave_settled_at: now, updated_at: now }).where('id', '=', r.id).where('state', '=', 'running').execute();
      this.ctx.log.info({ rollout: r.id, wave: r.wave }, 'rollout wave settled; soaking');
      return;
    }
    if (now < Number(r.wave_settled_at) + Number(r.wave_soak_ms)) return;
    const last = r.wave >= waves.length - 1;
    const moved = await this.db.transaction().execute(async (trx) => {
      const u = await trx
        .updateTable('rollouts')
        .set(last ? { state: 'done', updated_at: now } : { wave: r.wave + 1, wave_settled_at: null, updated_at: now })
        .where('id', '=', r.id)
        .where('state', '=', 'running')
        .where('wave', '=', r.wave)
        .executeTakeFirst();
      if (Number(u.numUpdatedRows) === 0) return false;
      await recordEvent(
        trx,
        'rollout.state',
        { rollout: r.id, release: r.release, state: last ? 'done' : 'running', wave: last ? r.wave : r.wave + 1, reason: null, actor: SYSTEM_ACTOR },
        now,
      );
      return true;
    });
    if (!moved) return;
    this.ctx.log.info({ rollout: r.id, wave: r.wave }, last ? 'rollout done' : 'rollout wave soaked; next wave');
    if (last) await alertIfFinishedWithFailures(this.ctx, r);
  }

  /** Pauses the rollout, with an alert and an audit row, once the current wave fails too often. */
  private async failingWave(r: RolloutsTable): Promise<boolean> {
    const rows = await this.db
      .selectFrom('rollout_devices')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('rollout', '=', r.id)
      .where('wave', '=', r.wave)
      .groupBy('state')
      .execute();
    let size = 0;
    let failures = 0;
    for (const row of rows) {
      size += Number(row.n);
      if (row.state === 'failed' || row.state === 'rolled-back') failures += Number(row.n);
    }
    if (size === 0 || (failures * 100) / size <= Number(r.max_failure_percent)) return false;
    const reason = `wave ${r.wave + 1}: ${failures} of ${size} devices failed or rolled back (${((failures * 100) / size).toFixed(1)} % > ${r.max_failure_percent} %)`;
    try {
      await controlRollout(this.ctx, r.id, 'pause', SYSTEM_ACTOR, reason);
    } catch (e) {
      // An admin paused or cancelled it meanwhile: nothing left to do.
      if (e instanceof ProtocolError && e.code === ErrorCode.CONFLICT) return true;
      throw e;
    }
    this.metrics.autoPauses.inc();
    await alertRollout(this.ctx, r, 'rollout-paused', `rollout ${r.id} of ${r.release} paused itself: ${reason}`);
    return true;
  }

  /** A try sent but not accepted in time: sent again with the same job id, or given up. */
  private async resend(r: RolloutsTable, now: number): Promise<void> {
    const due = await this.db
      .selectFrom('rollout_devices')
      .selectAll()
      .where('rollout', '=', r.id)
      .where('state', '=', 'sent')
      .where('sent_at', '<', now - this.ctx.opts.otaAckTimeoutMs)
      .execute();
    for (const d of due) {
      const base = this.db
        .updateTable('rollout_devices')
        .where('rollout', '=', r.id)
        .where('device', '=', d.device)
        .where('state', '=', 'sent')
        .where('job', '=', d.job);
      if (!this.ctx.presence.isOnline(d.device)) {
        // Offline: it never got it, or lost it; a fresh try once it is back.
        await base.set({ state: 'pending', job: null, updated_at: now }).execute();
      } else if (d.sends >= OTA_SENDS) {
        await base.set({ state: 'failed', error: `NO_ACK: no answer to ${OTA_SENDS} sends`, updated_at: now }).execute();
        this.metrics.outcomes.inc({ outcome: 'failed' });
      } else {
        const moved = await base.set({ sends: d.sends + 1, sent_at: now, updated_at: now }).executeTakeFirst();
        if (Number(moved.numUpdatedRows) === 1) await this.send(r, d.device, d.job!, d.sends + 1);
      }
    }
  }

  /** New tries for the devices of the waves so far that are online and idle. */
  private async dispatch(r: RolloutsTable, now: number): Promise<void> {
    const waiting = await this.db
      .selectFrom('rollout_devices')
      .select(['device', 'state', 'tries'])
      .where('rollout', '=', r.id)
      .where('wave', '<=', r.wave)
      .where('state', 'in', ['pending', 'skipped-busy'])
      .orderBy('position')
      .execute();
    const online = waiting.filter((d) => this.ctx.presence.isOnline(d.device));
    const busy = await this.busyDevices(online.map((d) => d.device));
    for (const d of online) {
      const base = this.db.updateTable('rollout_devices').where('rollout', '=', r.id).where('device', '=', d.device).where('state', '=', d.state);
      if (busy.has(d.device)) {
        if (d.state === 'pending') await base.set({ state: 'skipped-busy', updated_at: now }).execute();
        continue;
      }
      const tries = d.tries + 1;
      const job = `${OTA_JOB_PREFIX}${r.id}.${tries}`;
      const moved = await base.set({ state: 'sent', job, tries, sends: 1, sent_at: now, progress: null, error: null, updated_at: now }).executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 1) await this.send(r, d.device, job, 1);
    }
  }

  /**
   * Devices that are not idle: a queued, dispatched or running job (a held payment QR is running;
   * a walk-up print order is a job too), or a walk-up customer session still live on the machine,
   * whose customer is at it and about to order.
   */
  private async busyDevices(devices: string[]): Promise<Set<string>> {
    const busy = new Set<string>();
    const db = jobsDb(this.ctx.db);
    const now = this.ctx.now();
    for (let at = 0; at < devices.length; at += 500) {
      const chunk = devices.slice(at, at + 500);
      const rows = await db.selectFrom('jobs').select('device').distinct().where('device', 'in', chunk).where('state', 'in', OPEN_JOB_STATES).execute();
      for (const row of rows) busy.add(row.device);
      const customers = await this.ctx.db
        .selectFrom('customer_sessions')
        .select('device')
        .distinct()
        .where('device', 'in', chunk)
        .where('ends_at', '>', now)
        .where(sql<boolean>`last_used_at + idle_ms > ${now}`)
        .execute();
      for (const row of customers) busy.add(row.device);
    }
    return busy;
  }

  private async send(r: RolloutsTable, device: string, job: string, attempt: number): Promise<void> {
    const release = await this.db.selectFrom('releases').selectAll().where('version', '=', r.release).executeTakeFirstOrThrow();
    const params: OtaParams = {
      url: `${this.ctx.opts.publicUrl.replace(/\/$/, '')}${this.ctx.blobUrls.path(release.sha256, this.ctx.opts.otaUrlTtlMs)}`,
      size: Number(release.size),
      sha256: release.sha256,
      manifest: release.manifest,
      sig: release.sig,
    };
    await publishJson(this.ctx, deviceTopic(device, 'cmd'), { job, kind: OTA_KIND, params, attempt, deadline: 0 });
    this.metrics.sent.inc();
  }

  private async applyAck(device: string, payload: Buffer): Promise<void> {
    let ack: Ack;
    try {
      ack = parseAck(parseJson(payload.toString('utf8')));
    } catch {
      return;
    }
    const rollout = rolloutOfJob(ack.job);
    if (rollout === null) return;
    const now = this.ctx.now();
    const row = this.db.updateTable('rollout_devices').where('rollout', '=', rollout).where('device', '=', device).where('job', '=', ack.job);
    let to: RolloutDeviceState;
    let moved;
    switch (ack.state) {
      case 'accepted':
      case 'progress':
        to = 'downloading';
        moved = await row
          .where('state', 'in', ['sent', 'downloading'])
          .set({ state: to, progress: ack.progress ?? 0, updated_at: now })
          .executeTakeFirst();
        break;
      case 'done': {
        const unchanged = typeof ack.result === 'object' && ack.result !== null && (ack.result as { unchanged?: unknown }).unchanged === true;
        to = unchanged ? 'confirmed' : 'installed';
        moved = await row.where('state', 'in', ['sent', 'downloading']).set({ state: to, progress: 100, updated_at: now }).executeTakeFirst();
        break;
      }
      case 'failed':
      case 'rejected':
      case 'cancelled': {
        const error = (ack.error ?? `${ack.state.toUpperCase()}: no reason given`).slice(0, 500);
        to = /^BUSY\b/.test(error) ? 'skipped-busy' : 'failed';
        moved = await row
          .where('state', 'in', ['sent', 'downloading'])
          .set({ state: to, error, ...(to === 'skipped-busy' ? { job: null } : {}), updated_at: now })
          .executeTakeFirst();
        break;
      }
    }
    if (Number(moved.numUpdatedRows) === 1 && (to === 'failed' || to === 'confirmed')) this.metrics.outcomes.inc({ outcome: to });
  }

  private async applyReport(device: string, report: OtaReport): Promise<void> {
    const rollout = rolloutOfJob(report.job);
    if (rollout === null) return;
    const to: RolloutDeviceState = report.outcome === 'confirmed' ? 'confirmed' : 'rolled-back';
    const moved = await this.db
      .updateTable('rollout_devices')
      .set({ state: to, error: report.reason ?? null, updated_at: this.ctx.now() })
      .where('rollout', '=', rollout)
      .where('device', '=', device)
      .where('job', '=', report.job)
      .where('state', 'in', ['sent', 'downloading', 'installed'])
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 1) {
      this.metrics.outcomes.inc({ outcome: to });
      this.ctx.log.info({ device, rollout, version: report.version, outcome: report.outcome, reason: report.reason }, 'update outcome reported');
    }
  }
}
