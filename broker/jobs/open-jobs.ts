// The device's unfinished jobs (DeviceQueue.rows, docs/architecture.md, Jobs): kept in memory on
// a single node once read, with every committed change of the engine applied to them, so
// dispatch, positions, snapshots and the queue cap read no rows. In a cluster every read goes to
// the registry.
import type { DeviceQueue } from './device-queue';
import type { JobCore } from './job-core';
import type { JobRow } from './schema';
import { type JobPatch, openCount, openJobs } from './store';

export class OpenJobs {
  constructor(private readonly core: JobCore) {}

  /** Unfinished jobs of the device in queue order. */
  async list(q: DeviceQueue): Promise<readonly JobRow[]> {
    if (q.rows !== null) return q.rows;
    const changes = q.changes;
    const rows = await openJobs(this.core.db, q.id);
    // A change that committed while the read waited may be missing from it.
    if (!this.core.ctx.backends.sharedRegistry && changes === q.changes) q.rows = rows;
    return rows;
  }

  /** How many unfinished jobs the device has. */
  async count(q: DeviceQueue): Promise<number> {
    if (!this.core.ctx.backends.sharedRegistry) return (await this.list(q)).length;
    return openCount(this.core.db, q.id);
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
}
