// How a job ends (docs/architecture.md, Jobs): on the device (done, failed, cancelled,
// interrupted) or in the queue (expired, cancelled, a late final word), each committed once; the
// first of two racing endings wins and the other changes nothing.
import { ErrorCode } from '../../protocol/errors';
import type { JobState } from '../../protocol/jobs';
import { type Active, type DeviceQueue, clearTimer } from './device-queue';
import type { DeviceCmd } from './device-cmd';
import { type Duration, nextDuration } from './eta';
import type { Extra, JobCore } from './job-core';
import type { OpenJobs } from './open-jobs';
import type { JobRow } from './schema';
import type { Snapshots } from './snapshot';
import { ACTIVE_STATES, saveDuration, transition, unreserveDevice } from './store';
import type { JobError } from './view';

export interface Outcome {
  result?: unknown;
  error?: JobError;
  detail?: Record<string, unknown>;
}

export class Endings {
  constructor(
    private readonly core: JobCore,
    private readonly open: OpenJobs,
    private readonly snapshot: Snapshots,
    private readonly cmd: DeviceCmd,
  ) {}

  /** Ends a job that is on the device; a done job's duration teaches the device's ETAs. */
  async endActive(q: DeviceQueue, a: Active, state: JobState, o: Outcome = {}): Promise<void> {
    clearTimer(a);
    q.active.delete(a.id);
    const now = this.core.ctx.now();
    const durations = await this.snapshot.durations(q);
    let duration: Duration | undefined;
    const ended = await this.core.write(async (trx) => {
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
      this.open.forget(q);
      return;
    }
    if (duration) durations.set(a.kind, duration);
    this.ended(q, a.id, a.agent, a.kind, a.pool, state, now, o.error);
    this.core.ctx.events.emit('jobEnded', q.id, state);
  }

  /** Ends a job that waits in the queue; false when another step ended or moved it first. */
  async endQueued(q: DeviceQueue, job: JobRow, state: JobState, error?: JobError, detail: Record<string, unknown> = {}, extra?: Extra): Promise<boolean> {
    const now = this.core.ctx.now();
    const ended = await this.core.write(async (trx) => {
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
    else this.open.forget(q);
    return ended;
  }

  /** A cancel or completion takes effect, confirmed by the device or not (detail says which). */
  applyControl(q: DeviceQueue, a: Active, detail: Record<string, unknown>): Promise<void> {
    const c = a.control!;
    if (c.type === 'complete') return this.endActive(q, a, 'done', { result: { paid: true }, detail });
    return this.endActive(q, a, 'cancelled', { error: cancelError(c.reason), detail });
  }

  /** A cancel that needs no confirmation (a binding change): the device is told once, the job ends now. */
  async cancelNow(q: DeviceQueue, a: Active, reason: string): Promise<void> {
    clearTimer(a);
    a.control = { type: 'cancel', reason, sends: 1 };
    this.cmd.publish(q, a, { cancel: true });
    await this.endActive(q, a, 'cancelled', { error: cancelError(reason), detail: { atBroker: true } });
  }

  private ended(q: DeviceQueue, job: string, agent: string, kind: string, pool: string | null, state: JobState, at: number, error?: JobError): void {
    this.core.metrics.final(state);
    this.open.changed(q, job, null);
    q.ended.push({ agent, view: error ? { job, kind, state, at, error } : { job, kind, state, at } });
    this.snapshot.markChanged(q);
    this.core.ctx.events.emit('jobFinal', q.id, agent, job, pool);
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
