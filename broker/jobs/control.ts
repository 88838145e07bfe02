// Cancels and completions of a job on the device (docs/architecture.md, Jobs): the device is
// asked with a flagged cmd, sent again with backoff until it acknowledges; its ack decides, and
// when it stays silent the decision stands without its confirmation.
import { type Active, type DeviceQueue, clearTimer } from './device-queue';
import type { Extra } from './job-core';
import { addEvent, patchJob } from './store';
import type { EngineParts } from './engine-parts';

export class Control {
  constructor(private readonly p: EngineParts) {}

  /** Asks the device to cancel or complete a job; the device's ack decides, resends until then. */
  async request(q: DeviceQueue, a: Active, type: 'cancel' | 'complete', reason: string, extra?: Extra): Promise<void> {
    clearTimer(a);
    a.control = { type, reason, sends: 0 };
    const now = this.p.core.ctx.now();
    await this.p.core.write(async (trx) => {
      await patchJob(trx, a.id, { control: type, control_reason: reason }, now);
      await addEvent(trx, a.id, now, `${type}-requested`, { reason });
      if (extra) await extra(trx);
    });
    this.p.open.changed(q, a.id, { control: type, control_reason: reason, updated_at: now });
    this.p.snapshot.markChanged(q);
    this.send(q, a);
  }

  private send(q: DeviceQueue, a: Active): void {
    const c = a.control!;
    c.sends++;
    this.p.cmd.publish(q, a, c.type === 'cancel' ? { cancel: true } : { complete: true });
    this.p.cmd.arm(a, this.p.cmd.backoff(c.sends), () => this.p.snapshot.fire(q, `${c.type} timeout`, () => this.timedOut(q, a)));
  }

  private async timedOut(q: DeviceQueue, a: Active): Promise<void> {
    const c = a.control;
    if (q.active.get(a.id) !== a || c === null) return;
    a.timer = null;
    if (c.sends < this.p.core.ctx.opts.jobAttempts) {
      this.p.core.metrics.ackRetries.inc();
      this.send(q, a);
      return;
    }
    // The device stays silent; the decision stands without its confirmation.
    await this.p.endings.applyControl(q, a, { unconfirmed: true });
    await this.p.dispatch.pump(q);
  }
}
