// Which devices are in each location's pool and what they run, kept in memory so a submit, a drain
// or a lease's end picks its candidates without a query (docs/architecture.md, Locations and
// pools). Only a hint: whether a candidate is free comes from the binding map, and the lease's
// conditional UPDATE decides. Forgotten when a placement or a hello may have changed it, when a
// candidate turns out not to be one, and at every pool sweep. In a cluster nothing is kept: another
// node may have placed a device a moment ago, and a node that did not know it would let a job wait
// beside a free device until its next sweep.
import type { Kysely } from 'kysely';
import { poolDevices, pooledDeviceIds } from '../store/locations';
import type { Database } from '../store/schema';

export interface PoolDevice {
  id: string;
  caps: readonly string[];
}

export class PoolDeviceCache {
  private readonly byLocation = new Map<string, Promise<PoolDevice[]>>();
  /** Every pool-mode device's id; null until read, and again after each placement. */
  private pooled: Promise<Set<string>> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    /** False when other nodes share the registry: every call reads it. */
    private readonly kept: boolean,
  ) {}

  /** The location's pool devices in id order; on a single node read once, then from memory until forgotten. */
  of(location: string): Promise<PoolDevice[]> {
    if (!this.kept) return this.read(location);
    let p = this.byLocation.get(location);
    if (p === undefined) {
      p = this.read(location);
      this.byLocation.set(location, p);
      // A failed read is not kept: the next caller reads again.
      const mine = p;
      mine.catch(() => {
        if (this.byLocation.get(location) === mine) this.byLocation.delete(location);
      });
    }
    return p;
  }

  /**
   * Whether the device is in pool mode, so that it may be leased: only a pool device ever is. On a
   * single node from memory, read once after each placement or mode change; in a cluster always
   * true, and the caller asks the registry.
   */
  async mayBeLeased(id: string): Promise<boolean> {
    if (!this.kept) return true;
    if (this.pooled === null) {
      const mine = pooledDeviceIds(this.db).then((ids) => new Set(ids));
      this.pooled = mine;
      mine.catch(() => {
        if (this.pooled === mine) this.pooled = null;
      });
    }
    return (await this.pooled).has(id);
  }

  private async read(location: string): Promise<PoolDevice[]> {
    return (await poolDevices(this.db, location)).map((d) => ({ id: d.id, caps: JSON.parse(d.caps) as string[] }));
  }

  /** Drops one location, or all of them. */
  forget(location?: string): void {
    if (location === undefined) this.byLocation.clear();
    else this.byLocation.delete(location);
  }

  /** A device was placed, moved, switched mode or deleted: everything is read again. */
  placed(): void {
    this.forget();
    this.pooled = null;
  }
}
