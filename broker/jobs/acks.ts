// A device's acks to its jobs (docs/architecture.md, Jobs): accepted and progress move a job on,
// a final word ends it and frees the slot for the next; an ack for a job not on the device is
// recorded, and ends a re-queued job the device finished while it was away.
import type { Ack } from '../../protocol/messages';
import { type DeviceQueue, clearTimer } from './device-queue';
import { cancelError } from './endings';
import { addEvent, dataStats, getJob, patchJob, transition, transitionSet } from './store';
import type { JobError } from './view';
import type { EngineParts } from './engine-parts';

/** Maps a device's error text ("BUSY: job x is running") to a code and message. */
export function deviceError(text: string | undefined, fallback: string): JobError {
  const m = /^([A-Z][A-Z_]{1,31}):\s*(.*)$/s.exec(text ?? '');
  return m ? { code: m[1]!, message: m[2]! } : { code: fallback, message: text ?? 'the device gave no reason' };
}

export class Acks {
  constructor(private readonly p: EngineParts) {}

  async apply(q: DeviceQueue, ack: Ack): Promise<void> {
    const a = q.active.get(ack.job);
    if (!a) return this.late(q, ack);
    const { core, endings } = this.p;
    const now = core.ctx.now();
    switch (ack.state) {
      case 'accepted':
      case 'progress': {
        const progress = ack.progress === undefined ? undefined : Math.round(ack.progress);
        if (a.state === 'dispatched') {
          a.state = 'running';
          if (a.control === null) clearTimer(a);
          core.metrics.dispatchLatency.observe((now - a.startedAt) / 1000);
          if (a.retries > 0) a.data = { ...(await dataStats(core.db, a.id)), truncated: false };
          const patch = progress === undefined ? {} : { progress };
          // A device that finishes at once sends its final word right behind this one: that step
          // need not wait for this commit, and its write shares it (DeviceQueue.defer).
          q.defer(
            core
              .write((trx) => transition(trx, a.id, ['dispatched'], 'running', now, patch, { attempt: a.attempt }))
              .then(
                (moved) => (moved ? this.p.open.changed(q, a.id, transitionSet('running', now, patch)) : this.p.open.forget(q)),
                (err: unknown) => {
                  this.p.open.forget(q);
                  core.ctx.log.error({ err, device: q.id, job: a.id }, 'recording a job as running failed');
                },
              ),
          );
          this.p.snapshot.markChanged(q);
        } else if (progress !== undefined) {
          await core.write((trx) => patchJob(trx, a.id, { progress }, now));
          this.p.open.changed(q, a.id, { progress, updated_at: now });
          this.p.snapshot.markChanged(q);
        }
        return;
      }
      case 'done':
        await endings.endActive(q, a, 'done', { result: ack.result });
        break;
      case 'cancelled':
        await endings.endActive(q, a, 'cancelled', { error: cancelError(a.control?.reason ?? 'DEVICE') });
        break;
      case 'failed':
      case 'rejected': {
        const error = deviceError(ack.error, ack.state === 'rejected' ? 'REJECTED' : 'FAILED');
        await endings.endActive(q, a, error.code === 'EXPIRED' ? 'expired' : 'failed', { error });
        break;
      }
    }
    await this.p.dispatch.pump(q);
  }

  /** An ack for a job not on the device: recorded; a final word on a re-queued job ends it. */
  private async late(q: DeviceQueue, ack: Ack): Promise<void> {
    const { core } = this.p;
    const job = await getJob(core.db, ack.job);
    if (!job || job.device !== q.id) {
      core.ctx.log.warn({ device: q.id, job: ack.job, state: ack.state }, 'ack for a job this device was never given; ignored');
      return;
    }
    const now = core.ctx.now();
    // The device finished the job while it was away (its unsent final ack arrives on reconnect).
    if (job.state === 'queued' && Number(job.attempt) > 0 && (ack.state === 'done' || ack.state === 'failed')) {
      const error = ack.state === 'failed' ? deviceError(ack.error, 'FAILED') : undefined;
      await this.p.endings.endQueued(q, job, error?.code === 'EXPIRED' ? 'expired' : ack.state, error, { result: ack.result ?? null, late: true });
      return;
    }
    await core.write((trx) => addEvent(trx, job.id, now, 'late-ack', { state: ack.state, jobState: job.state }));
  }
}
