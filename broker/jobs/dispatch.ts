// Dispatch (docs/architecture.md, Jobs): queued jobs go to the device in FIFO order up to its
// concurrency, and each cmd is sent again with backoff until the device accepts it (NO_ACK after
// the configured attempts).
import type { Transaction } from 'kysely';
import { ErrorCode } from '../../protocol/errors';
import { type Active, type DeviceQueue, activeOf } from './device-queue';
import type { DeviceCmd } from './device-cmd';
import { type Endings, expiredInQueue, unbound } from './endings';
import type { JobCore } from './job-core';
import type { OpenJobs } from './open-jobs';
import type { JobRow, JobsDatabase } from './schema';
import type { Snapshots } from './snapshot';
import { addEvent, nextQueued, patchJob, reserveDevice, transition, transitionSet } from './store';

export class Dispatch {
  constructor(
    private readonly core: JobCore,
    private readonly open: OpenJobs,
    private readonly snapshot: Snapshots,
    private readonly endings: Endings,
    private readonly cmd: DeviceCmd,
  ) {}

  /** Sends queued jobs to the device while it has free slots. */
  async pump(q: DeviceQueue): Promise<void> {
    const { ctx } = this.core;
    while (this.hasFreeSlot(q)) {
      const job = await this.nextOf(q);
      if (!job) return;
      const now = ctx.now();
      if (Number(job.expires_at) <= now) {
        await this.endings.endQueued(q, job, 'expired', expiredInQueue(job));
        continue;
      }
      if (ctx.bindings.agentOf(q.id) !== job.agent && !(await this.core.registryHolds(q.id, job.agent))) {
        await this.endings.endQueued(q, job, 'cancelled', unbound());
        continue;
      }
      const outcome = await this.core.write((trx) => this.startIn(trx, q, job, now));
      // Another held job has the device reserved: FIFO means everything behind it waits too.
      if (outcome === 'reserved') return;
      if (outcome === 'unbound') {
        await this.endings.endQueued(q, job, 'cancelled', unbound());
        continue;
      }
      if (outcome === 'gone') {
        this.open.forget(q);
        continue;
      }
      this.started(q, job, now);
    }
  }

  /**
   * Whether a job submitted now would go out at once: the device is ready with a free slot and
   * nothing queued ahead. Its submit then dispatches it in the same commit, one commit and one
   * disk sync fewer per job on an idle device. Only on a single node, where the open jobs in
   * memory are the whole truth; a cluster's submit leaves it to pump.
   */
  async freeForNext(q: DeviceQueue): Promise<boolean> {
    return this.freeNow(q) ?? (await this.nextOf(q)) === undefined;
  }

  /**
   * freeForNext from memory alone, for a caller inside a write, which must not read outside it:
   * undefined when the device's open jobs are not in memory yet.
   */
  freeNow(q: DeviceQueue): boolean | undefined {
    if (this.core.ctx.backends.sharedRegistry || !this.hasFreeSlot(q)) return false;
    return q.rows === null ? undefined : !q.rows.some((j) => j.state === 'queued');
  }

  private hasFreeSlot(q: DeviceQueue): boolean {
    return q.ready && !this.core.stopped && q.active.size < q.concurrency;
  }

  /** The device's oldest queued job: from the open jobs in memory on a single node, from the registry in a cluster. */
  private async nextOf(q: DeviceQueue): Promise<JobRow | undefined> {
    if (this.core.ctx.backends.sharedRegistry) return nextQueued(this.core.db, q.id);
    return (await this.open.list(q)).find((j) => j.state === 'queued');
  }

  /** Moves a queued job to dispatched inside a write; a held job reserves the device first. */
  async startIn(trx: Transaction<JobsDatabase>, q: DeviceQueue, job: JobRow, now: number): Promise<'ok' | 'reserved' | 'unbound' | 'gone'> {
    if (Number(job.hold) === 1) {
      const r = await reserveDevice(trx, q.id, job.agent, job.id);
      if (r !== 'ok') return r;
    }
    const attempt = Number(job.attempt) + 1;
    return (await transition(trx, job.id, ['queued'], 'dispatched', now, { attempt }, { attempt })) ? 'ok' : 'gone';
  }

  /** Once startIn's 'ok' is committed: the job is active and its cmd goes out. */
  started(q: DeviceQueue, job: JobRow, now: number): void {
    const attempt = Number(job.attempt) + 1;
    this.open.changed(q, job.id, transitionSet('dispatched', now, { attempt }));
    const a = activeOf({ ...job, state: 'dispatched', attempt, dispatched_at: now });
    q.active.set(a.id, a);
    this.snapshot.markChanged(q);
    this.send(q, a);
  }

  private send(q: DeviceQueue, a: Active): void {
    a.sends++;
    this.cmd.publish(q, a);
    this.cmd.arm(a, this.cmd.backoff(a.sends), () => this.snapshot.fire(q, 'ack timeout', () => this.ackTimedOut(q, a)));
  }

  private async ackTimedOut(q: DeviceQueue, a: Active): Promise<void> {
    if (q.active.get(a.id) !== a || a.state !== 'dispatched' || a.control !== null) return;
    a.timer = null;
    const { ctx } = this.core;
    if (a.sends >= ctx.opts.jobAttempts) {
      await this.endings.endActive(q, a, 'failed', {
        error: { code: ErrorCode.NO_ACK, message: `the device did not acknowledge the job after ${a.sends} attempts` },
      });
      await this.pump(q);
      return;
    }
    a.attempt++;
    const now = ctx.now();
    await this.core.write(async (trx) => {
      await patchJob(trx, a.id, { attempt: a.attempt }, now);
      await addEvent(trx, a.id, now, 'resent', { attempt: a.attempt });
    });
    this.open.changed(q, a.id, { attempt: a.attempt, updated_at: now });
    this.core.metrics.ackRetries.inc();
    this.send(q, a);
  }
}
