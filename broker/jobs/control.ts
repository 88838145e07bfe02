// Cancels and completions of a job on the device (docs/architecture.md, Jobs): the device is
// asked with a flagged cmd, sent again with backoff until it acknowledges; its ack decides, and
// when it stays silent the decision stands without its confirmation.
import { type Active, type DeviceQueue, clearTimer } from './device-queue';
import type { DeviceCmd } from './device-cmd';
import type { Dispatch } from './dispatch';
import type { Endings } from './endings';
import type { Extra, JobCore } from './job-core';
import type { OpenJobs } from './open-jobs';
import type { Snapshots } from './snapshot';
import { addEvent, patchJob } from './store';

export class Control {
  constructor(
    private readonly core: JobCore,
    private readonly open: OpenJobs,
    private readonly snapshot: Snapshots,
    private readonly endings: Endings,
    private readonly dispatch: Dispatch,
    private readonly cmd: DeviceCmd,
  ) {}

  /** Asks the device to cancel or complete a job; the device's ack decides, resends until then. */
  async request(q: DeviceQueue, a: Active, type: 'cancel' | 'complete', reason: string, extra?: Extra): Promise<void> {
    clearTimer(a);
    a.control = { type, reason, sends: 0 };
    const now = this.core.ctx.now();
    await this.core.write(async (trx) => {
      await patchJob(trx, a.id, { control: type, control_reason: reason }, now);
      await addEvent(trx, a.id, now, `${type}-requested`, { reason });
      if (extra) await extra(trx);
    });
    this.open.changed(q, a.id, { control: type, control_reason: reason, updated_at: now });
    this.snapshot.markChanged(q);
    this.send(q, a);
  }

  private send(q: DeviceQueue, a: Active): void {
    const c = a.control!;
    c.sends++;
    this.cmd.publish(q, a, c.type === 'cancel' ? { cancel: true } : { complete: true });
    this.cmd.arm(a, this.cmd.backoff(c.sends), () => this.snapshot.fire(q, `${c.type} timeout`, () => this.timedOut(q, a)));
  }

  private async timedOut(q: DeviceQueue, a: Active): Promise<void> {
    const c = a.control;
    if (q.active.get(a.id) !== a || c === null) return;
    a.timer = null;
    if (c.sends < this.core.ctx.opts.jobAttempts) {
      this.core.metrics.ackRetries.inc();
      this.send(q, a);
      return;
    }
    // The device stays silent; the decision stands without its confirmation.
    await this.endings.applyControl(q, a, { unconfirmed: true });
    await this.dispatch.pump(q);
  }
}
