// The device's connection as the job system sees it (docs/architecture.md, Jobs): a hello makes
// it ready for dispatch, a drop or a takeover by another node settles what was on it by the
// interrupted rule, and so does a restart of this broker.
import { JOB_KINDS, isJobKind } from '../../protocol/jobs';
import type { DeviceProfile } from '../store/devices';
import { type Active, type DeviceQueue, activeOf, clearTimer } from './device-queue';
import { ACTIVE_STATES, activeJobs, openJobs, queuedDevices, transition, transitionSet } from './store';
import type { EngineParts } from './engine-parts';

export class DeviceLink {
  constructor(private readonly p: EngineParts) {}

  /**
   * After a restart nothing is on any device as far as this broker knows: jobs left dispatched
   * or running follow the interrupted rule, pending cancels and completions take effect.
   */
  async recover(): Promise<void> {
    const { core } = this.p;
    const now = core.ctx.now();
    const devices = new Set<string>();
    for (const row of await activeJobs(core.db)) {
      // In a cluster, jobs of a device that another live node dispatches are that node's.
      if (!(await core.ctx.lease.orphaned(row.device))) continue;
      devices.add(row.device);
      await this.settleDropped(core.queue(row.device), activeOf(row), now, 'broker-restart');
    }
    for (const device of await queuedDevices(core.db)) devices.add(device);
    await Promise.all([...devices].map((d) => this.p.snapshot.republish(core.queue(d))));
  }

  /**
   * A hello on a new connection: whatever ran on the previous one was interrupted. `profile` is
   * what the hello recorded; without one, the registry's is read.
   */
  async ready(q: DeviceQueue, profile: DeviceProfile | null): Promise<void> {
    if (q.active.size > 0) await this.dropped(q, 'reconnected');
    // In a cluster the device may come from another node, which lets go of it first; whatever
    // the registry still shows on the device is settled here.
    if (await this.p.core.ctx.lease.acquire(q.id)) await this.settleLeftovers(q, 'reconnected');
    if (profile) q.profile = profile;
    else await this.p.snapshot.profile(q, true);
    q.ready = true;
    this.p.snapshot.markChanged(q);
    await this.p.dispatch.pump(q);
  }

  async dropped(q: DeviceQueue, reason: string): Promise<void> {
    q.ready = false;
    const now = this.p.core.ctx.now();
    for (const a of [...q.active.values()]) await this.settleDropped(q, a, now, reason);
    this.p.snapshot.markChanged(q);
  }

  /** Jobs the registry shows on the device that this node did not dispatch. */
  async settleLeftovers(q: DeviceQueue, reason: string): Promise<void> {
    const now = this.p.core.ctx.now();
    for (const row of await openJobs(this.p.core.db, q.id))
      if (row.state !== 'queued' && !q.active.has(row.id)) await this.settleDropped(q, activeOf(row), now, reason);
  }

  /**
   * The interrupted rule. A pending cancel or completion takes effect. A job the device never
   * accepted goes back to the head of its queue. A running job of an idempotent kind goes back
   * too, to run again on reconnect; any other running job ends `interrupted`.
   */
  private async settleDropped(q: DeviceQueue, a: Active, now: number, reason: string): Promise<void> {
    clearTimer(a);
    if (a.control !== null) return this.p.endings.applyControl(q, a, { deviceGone: reason });
    if (a.state === 'running' && !(isJobKind(a.kind) && JOB_KINDS[a.kind].idempotent)) {
      return this.p.endings.endActive(q, a, 'interrupted', {
        error: { code: 'INTERRUPTED', message: `the device dropped (${reason}) while the job ran; '${a.kind}' is not safe to repeat` },
      });
    }
    q.active.delete(a.id);
    const patch = a.state === 'running' ? { interrupted_at: now, retries: a.retries + 1, expires_at: now + a.ttlMs, progress: null } : {};
    const moved = await this.p.core.write((trx) => transition(trx, a.id, ACTIVE_STATES, 'queued', now, patch, { reason, interrupted: a.state === 'running' }));
    if (moved) this.p.open.changed(q, a.id, transitionSet('queued', now, patch));
    else this.p.open.forget(q);
    this.p.snapshot.markChanged(q);
  }
}
