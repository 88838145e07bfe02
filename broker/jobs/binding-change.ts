// A binding change cancels the previous holder's jobs at once (docs/architecture.md, Jobs):
// queued ones end in the queue, one on the device ends at the broker and the device is told.
import { ErrorCode } from '../../protocol/errors';
import type { BindingChange } from '../store/bindings';
import type { DeviceQueue } from './device-queue';
import { unbound } from './endings';
import type { EngineParts } from './engine-parts';

export class BindingChanges {
  constructor(private readonly p: EngineParts) {}

  async apply(q: DeviceQueue, change: BindingChange): Promise<void> {
    const holder = this.holderNow(change);
    for (const job of await this.p.open.list(q)) {
      if (job.agent === holder) continue;
      if (job.state === 'queued') await this.p.endings.endQueued(q, job, 'cancelled', unbound());
      else {
        // Effective at once: the device is told to stop, and its later ack changes nothing.
        const a = q.active.get(job.id);
        if (a) await this.p.endings.cancelNow(q, a, ErrorCode.UNBOUND);
      }
    }
    // The new holder sees the queue as it is now, replacing the retained snapshot.
    this.p.snapshot.markChanged(q);
    await this.p.dispatch.pump(q);
  }

  /**
   * Who holds the device when its queue reaches a binding change. The step may run after later
   * changes were committed (a lease ended, then a pool submit leased the device again and put its
   * job on it): the binding map's newer holder keeps its jobs. On another node of a cluster the
   * map may not have the change yet, and the change itself is the newer word.
   */
  private holderNow(change: BindingChange): string | null {
    const now = this.p.core.ctx.bindings.bindingOf(change.device);
    return now !== undefined && now.version >= change.version ? now.agent : change.to;
  }
}
