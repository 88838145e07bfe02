// The job lifecycle (docs/architecture.md, Jobs): dispatch in FIFO order up to the device's concurrency, cmd
// resends with backoff until `accepted` (NO_ACK after the configured attempts), cancels and
// completions confirmed by the device, the endings, and a snapshot with positions and ETAs on
// fb/v1/d/<dev>/jobs after every change. Device events drive it through device-events.ts.
import { ErrorCode } from '../../protocol/errors';
import type { JobState } from '../../protocol/jobs';
import type { Cmd, JobsSnapshot, QueuedJobView } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import type { Context } from '../context';
import { publishJson } from '../publisher';
import { getDeviceScreen } from '../store/device-screens';
import { withFetchUrl } from '../orders/fetch-url';
import { getDevice } from '../store/devices';
import { type Active, DeviceQueue, clearTimer } from './device-queue';
import { type Duration, type Slot, nextDuration, priorMs, schedule } from './eta';
import { JobMetrics } from './metrics';
import { type JobRow, type JobsDatabase, type JobsDb, jobsDb } from './schema';

import {
  ACTIVE_STATES,
  type JobPatch,
  addEvent,
  loadDurations,
  nextQueued,
  openCountQuery,
  openJobs,
  patchJob,
  reserveDevice,
  saveDuration,
  transition,
  transitionSet,
  unreserveDevice,
} from './store';
import type { JobError } from './view';
import type { Transaction } from 'kysely';
import { GroupWriter } from '../store/group-writer';

type Trx = Transaction<JobsDatabase>;

/** Resend delays grow from the ack timeout by doubling, up to this multiple of it. */
const MAX_BACKOFF_FACTOR = 8;

export type Extra = (trx: Trx) => Promise<void>;

export class JobEngine {
  readonly db: JobsDb;
  readonly metrics: JobMetrics;
  private readonly writer: GroupWriter<JobsDatabase>;
  private readonly queues = new Map<string, DeviceQueue>();
  private stopped = false;

  constructor(private readonly ctx: Context) {
    this.db = jobsDb(ctx.db);
    this.metrics = new JobMetrics(ctx.metrics.registry);
    // On SQLite, the registry's one writer: job changes share their commit (and its fsync) with
    // hellos and claims. PostgreSQL commits on a pool of connections, so jobs keep their own.
    this.writer = ctx.cluster === null ? (ctx.writer as unknown as GroupWriter<JobsDatabase>) : new GroupWriter(this.db);
  }

  /** A write in the next group commit; resolves once it is durable. */
  write<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.writer.write(fn);
  }

  queue(device: string): DeviceQueue {
    let q = this.queues.get(device);
    if (!q) this.queues.set(device, (q = new DeviceQueue(device)));
    return q;
  }

  /** Runs fn in the device's order; the snapshot follows once the device's ops settle. */
  run<T>(q: DeviceQueue, fn: () => Promise<T>): Promise<T> {
    return q.run(fn, () => this.publishSnapshot(q));
  }

  /** Publishes the device's snapshot again, in the device's order. */
  republish(q: DeviceQueue): Promise<void> {
    return this.run(q, async () => {
      q.dirty = true;
    });
  }

  /** The device's queue if the engine has seen the device since it started. */
  peek(device: string): DeviceQueue | undefined {
    return this.queues.get(device);
  }

  /** For event-driven work: failures are logged, never thrown into an event emitter. */
  fire(q: DeviceQueue, what: string, fn: () => Promise<void>): void {
    this.run(q, fn).catch((err: unknown) => this.ctx.log.error({ err, device: q.id, what }, 'job queue step failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const q of this.queues.values()) for (const a of q.active.values()) clearTimer(a);
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
    await this.writer.idle();
  }

  // ---- dispatch

  /** Sends queued jobs to the device while it has free slots. */
  async pump(q: DeviceQueue): Promise<void> {
    while (q.ready && !this.stopped && q.active.size < q.concurrency) {
      const job = this.ctx.cluster === null ? (await this.openJobs(q)).find((j) => j.state === 'queued') : await nextQueued(this.db, q.id);
      if (!job) return;
      const now = this.ctx.now();
      if (Number(job.expires_at) <= now) {
        await this.endQueued(q, job, 'expired', expiredInQueue(job));
        continue;
      }
      if (this.ctx.bindings.agentOf(q.id) !== job.agent) {
        await this.endQueued(q, job, 'cancelled', unbound());
        continue;
      }
      const attempt = Number(job.attempt) + 1;
      const outcome = await this.write(async (trx) => {
        if (Number(job.hold) === 1) {
          const r = await reserveDevice(trx, q.id, job.agent, job.id);
          if (r !== 'ok') return r;
        }
        return (await transition(trx, job.id, ['queued'], 'dispatched', now, { attempt }, { attempt })) ? 'ok' : 'gone';
      });
      // Another held job has the device reserved: FIFO means everything behind it waits too.
      if (outcome === 'reserved') return;
      if (outcome === 'unbound') {
        await this.endQueued(q, job, 'cancelled', unbound());
        continue;
      }
      if (outcome === 'gone') {
        this.forget(q);
        continue;
      }
      this.changed(q, job.id, transitionSet('dispatched', now, { attempt }));
      const a = activeOf({ ...job, state: 'dispatched', attempt, dispatched_at: now });
      q.active.set(a.id, a);
      q.dirty = true;
      this.sendCmd(q, a);
    }
  }

  private backoff(sends: number): number {
    const base = this.ctx.opts.jobAckTimeoutMs;
    return Math.min(base * 2 ** (sends - 1), base * MAX_BACKOFF_FACTOR);
  }

  /** A stopping engine arms no new timers: nothing may run against a closed registry. */
  private arm(a: Active, ms: number, fn: () => void): void {
    if (this.stopped) return;
    a.timer = setTimeout(fn, ms);
    a.timer.unref();
  }

  private publishCmd(q: DeviceQueue, a: Active, extra: Partial<Cmd> = {}): void {
    const cmd: Cmd = {
      job: a.id,
      kind: a.kind,
      params: a.kind === 'print' ? withFetchUrl(this.ctx, a.params) : a.params,
      attempt: a.attempt,
      deadline: a.deadline,
      ...extra,
    };
    publishJson(this.ctx, deviceTopic(q.id, 'cmd'), cmd).catch((err: unknown) => this.ctx.log.error({ err, device: q.id, job: a.id }, 'publishing cmd failed'));
  }

  private sendCmd(q: DeviceQueue, a: Active): void {
    a.sends++;
    this.publishCmd(q, a);
    this.arm(a, this.backoff(a.sends), () => this.fire(q, 'ack timeout', () => this.ackTimedOut(q, a)));
  }

  private async ackTimedOut(q: DeviceQueue, a: Active): Promise<void> {
    if (q.active.get(a.id) !== a || a.state !== 'dispatched' || a.control !== null) return;
    a.timer = null;
    if (a.sends >= this.ctx.opts.jobAttempts) {
      await this.endActive(q, a, 'failed', { error: { code: ErrorCode.NO_ACK, message: `the device did not acknowledge the job after ${a.sends} attempts` } });
      await this.pump(q);
      return;
    }
    a.attempt++;
    const now = this.ctx.now();
    await this.write(async (trx) => {
      await patchJob(trx, a.id, { attempt: a.attempt }, now);
      await addEvent(trx, a.id, now, 'resent', { attempt: a.attempt });
    });
    this.changed(q, a.id, { attempt: a.attempt, updated_at: now });
    this.metrics.ackRetries.inc();
    this.sendCmd(q, a);
  }

  // ---- cancel and completion of a job on the device

  /** Asks the device to cancel or complete a job; the device's ack decides, resends until then. */
  async requestControl(q: DeviceQueue, a: Active, type: 'cancel' | 'complete', reason: string, extra?: Extra): Promise<void> {
    clearTimer(a);
    a.control = { type, reason, sends: 0 };
    const now = this.ctx.now();
    await this.write(async (trx) => {
      await patchJob(trx, a.id, { control: type, control_reason: reason }, now);
      await addEvent(trx, a.id, now, `${type}-requested`, { reason });
      if (extra) await extra(trx);
    });
    this.changed(q, a.id, { control: type, control_reason: reason, updated_at: now });
    q.dirty = true;
    this.sendControl(q, a);
  }

  /** A cancel that needs no confirmation (a binding change): the device is told once, the job ends now. */
  async cancelNow(q: DeviceQueue, a: Active, reason: string): Promise<void> {
    clearTimer(a);
    a.control = { type: 'cancel', reason, sends: 1 };
    this.publishCmd(q, a, { cancel: true });
    await this.endActive(q, a, 'cancelled', { error: cancelError(reason), detail: { atBroker: true } });
  }

  private sendControl(q: DeviceQueue, a: Active): void {
    const c = a.control!;
    c.sends++;
    this.publishCmd(q, a, c.type === 'cancel' ? { cancel: true } : { complete: true });
    this.arm(a, this.backoff(c.sends), () => this.fire(q, `${c.type} timeout`, () => this.controlTimedOut(q, a)));
  }

  private async controlTimedOut(q: DeviceQueue, a: Active): Promise<void> {
    const c = a.control;
    if (q.active.get(a.id) !== a || c === null) return;
    a.timer = null;
    if (c.sends < this.ctx.opts.jobAttempts) {
      this.metrics.ackRetries.inc();
      this.sendControl(q, a);
      return;
    }
    // The device stays silent; the decision stands without its confirmation.
    await this.applyControl(q, a, { unconfirmed: true });
    await this.pump(q);
  }

  applyControl(q: DeviceQueue, a: Active, detail: Record<string, unknown>): Promise<void> {
    const c = a.control!;
    if (c.type === 'complete') return this.endActive(q, a, 'done', { result: { paid: true }, detail });
    return this.endActive(q, a, 'cancelled', { error: cancelError(c.reason), detail });
  }

  // ---- endings

  async endActive(q: DeviceQueue, a: Active, state: JobState, o: { result?: unknown; error?: JobError; detail?: Record<string, unknown> } = {}): Promise<void> {
    clearTimer(a);
    q.active.delete(a.id);
    const now = this.ctx.now();
    const durations = await this.durations(q);
    let duration: Duration | undefined;
    const ended = await this.write(async (trx) => {
      const ok = await transition(
        trx,
        a.id,
        ACTIVE_STATES,
        state,
        now,
        {
          control: null,
          result: o.result === undefined ? null : JSON.stringify(o.result),
          error_code: o.error?.code ?? null,
          error: o.error?.message ?? null,
          ...(state === 'done' ? { progress: 100 } : {}),
        },
        { ...o.detail, ...(o.error ? { error: o.error } : {}) },
      );
      if (!ok) return false;
      if (a.hold) await unreserveDevice(trx, q.id, a.id);
      if (state === 'done') {
        duration = nextDuration(durations.get(a.kind), now - a.startedAt);
        await saveDuration(trx, q.id, a.kind, duration);
      }
      return true;
    });
    if (!ended) {
      this.forget(q);
      return;
    }
    if (duration) durations.set(a.kind, duration);
    this.ended(q, a.id, a.agent, a.kind, a.pool, state, now, o.error);
    this.ctx.events.emit('jobEnded', q.id, state);
  }

  async endQueued(q: DeviceQueue, job: JobRow, state: JobState, error?: JobError, detail: Record<string, unknown> = {}, extra?: Extra): Promise<boolean> {
    const now = this.ctx.now();
    const ended = await this.write(async (trx) => {
      const patch = {
        error_code: error?.code ?? null,
        error: error?.message ?? null,
        ...('result' in detail ? { result: JSON.stringify(detail.result) } : {}),
      };
      if (!(await transition(trx, job.id, ['queued'], state, now, patch, { ...detail, ...(error ? { error } : {}) }))) return false;
      if (Number(job.hold) === 1) await unreserveDevice(trx, q.id, job.id);
      if (extra) await extra(trx);
      return true;
    });
    if (ended) this.ended(q, job.id, job.agent, job.kind, job.pool ?? null, state, now, error);
    else this.forget(q);
    return ended;
  }

  private ended(q: DeviceQueue, job: string, agent: string, kind: string, pool: string | null, state: JobState, at: number, error?: JobError): void {
    this.metrics.final(state);
    this.changed(q, job, null);
    q.ended.push({ agent, view: error ? { job, kind, state, at, error } : { job, kind, state, at } });
    q.dirty = true;
    this.ctx.events.emit('jobFinal', q.id, agent, job, pool);
  }

  // ---- the device's unfinished jobs (DeviceQueue.rows)

  /** Unfinished jobs of the device in queue order: kept in memory on a single node, read in a cluster. */
  async openJobs(q: DeviceQueue): Promise<readonly JobRow[]> {
    if (q.rows !== null) return q.rows;
    const changes = q.changes;
    const rows = await openJobs(this.db, q.id);
    // A change that committed while the read waited may be missing from it.
    if (this.ctx.cluster === null && changes === q.changes) q.rows = rows;
    return rows;
  }

  /** How many unfinished jobs the device has. */
  async openCount(q: DeviceQueue): Promise<number> {
    if (this.ctx.cluster === null) return (await this.openJobs(q)).length;
    return Number((await openCountQuery(this.db, q.id).executeTakeFirstOrThrow()).n);
  }

  /** A job this node queued on the device has committed. Repeating it changes nothing. */
  queued(q: DeviceQueue, row: JobRow): void {
    q.changes++;
    if (q.rows !== null && !q.rows.some((r) => r.id === row.id)) q.rows = [...q.rows, row];
  }

  /**
   * A committed change to one of the device's unfinished jobs: the columns it set, or null when
   * the job ended. Each sets values rather than adding to them, so applying it to a list read
   * after the commit changes nothing.
   */
  changed(q: DeviceQueue, id: string, set: JobPatch | null): void {
    q.changes++;
    if (q.rows === null) return;
    const i = q.rows.findIndex((r) => r.id === id);
    if (i < 0) {
      if (set !== null) this.forget(q);
      return;
    }
    // A new list, so a caller still reading the old one sees it unchanged.
    q.rows = set === null ? q.rows.filter((r) => r.id !== id) : q.rows.map((r, j) => (j === i ? { ...r, ...set } : r));
  }

  /** The device's jobs changed in a way not mirrored here (a pool's lease, a reorder): read them again. */
  forget(q: DeviceQueue): void {
    q.changes++;
    q.rows = null;
  }

  // ---- positions, ETAs and snapshots

  /** The device's announced capabilities and concurrency, read once and again after each hello. */
  async profile(q: DeviceQueue, refresh = false): Promise<NonNullable<DeviceQueue['profile']>> {
    if (q.profile === null || refresh) {
      const row = await getDevice(this.ctx.db, q.id);
      const screen = row ? await getDeviceScreen(this.ctx.db, q.id) : null;
      q.profile = { caps: row ? (JSON.parse(row.caps) as string[]) : [], concurrency: Math.max(1, Number(row?.concurrency ?? 1)), screen };
    }
    return q.profile;
  }

  private async durations(q: DeviceQueue): Promise<Map<string, Duration>> {
    q.durations ??= await loadDurations(this.db, q.id);
    return q.durations;
  }

  /** Position and ETA of every unfinished job of the device. */
  async layout(q: DeviceQueue): Promise<{ open: readonly JobRow[]; slots: Map<string, Slot>; at: number }> {
    const rows = await this.openJobs(q);
    const durations = await this.durations(q);
    await this.profile(q);
    const at = this.ctx.now();
    const jobs = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      state: r.state,
      startedAt: q.active.get(r.id)?.startedAt ?? (r.dispatched_at === null ? null : Number(r.dispatched_at)),
      params: q.active.get(r.id)?.params ?? (JSON.parse(r.params) as Record<string, unknown>),
    }));
    const slots = schedule(jobs, q.concurrency, at, (kind) => durations.get(kind)?.ewmaMs ?? priorMs(kind));
    return { open: rows, slots, at };
  }

  private async publishSnapshot(q: DeviceQueue): Promise<void> {
    if (this.stopped) return;
    try {
      const { open, slots, at } = await this.layout(q);
      const agent = this.ctx.bindings.agentOf(q.id);
      this.metrics.queueDepth.observe(open.filter((j) => j.state === 'queued').length);
      const all: QueuedJobView[] = open.map((j) => {
        const slot = slots.get(j.id)!;
        const v: QueuedJobView = { job: j.id, kind: j.kind, state: j.state, position: slot.position, eta: Math.round(slot.eta), agent: j.agent };
        if (j.progress !== null) v.progress = Number(j.progress);
        return v;
      });
      const allEnded = q.ended;
      q.ended = [];
      // Walk-up orders follow their own jobs from here (orders/updates.ts).
      this.ctx.events.emit('queue', { device: q.id, at, jobs: all, ended: allEnded.map((e) => e.view) });
      // Only the bound agent's jobs are shown; others' still count in positions and ETAs.
      const jobs = all.filter((j) => j.agent === agent);
      const ended = allEnded.filter((e) => e.agent === agent).map((e) => e.view);
      const snapshot: JobsSnapshot = { device: q.id, at, jobs, ...(ended.length > 0 ? { ended } : {}) };
      await publishJson(this.ctx, deviceTopic(q.id, 'jobs'), snapshot, true);
    } catch (err) {
      this.ctx.log.error({ err, device: q.id }, 'publishing the jobs snapshot failed');
    }
  }
}

/** Why a queued job expired: a QR's own expiresAt (it was never shown), or the queue's ttl. */
export function expiredInQueue(job: Pick<JobRow, 'kind' | 'params' | 'expires_at'>): JobError {
  const qrExpiresAt = job.kind === 'qr.show' ? (JSON.parse(job.params) as { expiresAt?: unknown }).expiresAt : undefined;
  if (typeof qrExpiresAt === 'number' && qrExpiresAt <= Number(job.expires_at)) {
    return { code: 'EXPIRED', message: 'its expiresAt passed while it waited in the queue; the QR was never shown' };
  }
  return { code: 'EXPIRED', message: 'waited in the queue past its ttl' };
}

export function unbound(): JobError {
  return { code: ErrorCode.UNBOUND, message: 'the device was released or transferred; its jobs from the previous agent were cancelled' };
}

export function cancelError(reason: string): JobError {
  if (reason === ErrorCode.UNBOUND) return unbound();
  if (reason === 'DEVICE') return { code: 'CANCELLED', message: 'cancelled on the device' };
  return { code: 'CANCELLED', message: `cancelled by ${reason}` };
}

/** The in-memory form of a job that is on the device (or was, before a restart). */
export function activeOf(row: JobRow): Active {
  return {
    id: row.id,
    agent: row.agent,
    kind: row.kind,
    pool: row.pool ?? null,
    params: JSON.parse(row.params) as Record<string, unknown>,
    hold: Number(row.hold) === 1,
    state: row.state === 'running' ? 'running' : 'dispatched',
    startedAt: Number(row.dispatched_at ?? row.queued_at),
    attempt: Number(row.attempt),
    sends: 0,
    deadline: Number(row.expires_at),
    ttlMs: Number(row.ttl_ms),
    retries: Number(row.retries),
    timer: null,
    control: row.control === null ? null : { type: row.control, reason: row.control_reason ?? 'CANCELLED', sends: 0 },
    data: { rows: 0, bytes: 0, truncated: false },
  };
}
