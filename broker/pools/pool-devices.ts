// Which devices are in each location's pool and what they run, kept in memory so a submit, a drain
// or a lease's end picks its candidates without a query (docs/architecture.md, Locations and
// pools). Only a hint: whether a candidate is free comes from the binding map, and the lease's
// conditional UPDATE decides. Forgotten when a placement or a hello may have changed it, when a
// candidate turns out not to be one, and at every pool sweep (a cluster's other nodes place
// devices too).
import type { Kysely } from 'kysely';
import { poolDevices } from '../store/locations';
import type { Database } from '../store/schema';

export interface PoolDevice { id: string; caps: readonly string[] }

export class PoolDeviceCache {
  private readonly byLocation = new Map<string, Promise<PoolDevice[]>>();

  constructor(private readonly db: Kysely<Database>) {}

  /** The location's pool devices in id order; read once, then from memory until forgotten. */
  of(location: string): Promise<PoolDevice[]> {
    let p = this.byLocation.get(location);
    if (p === undefined) {
      p = poolDevices(this.db, location).then((rows) => rows.map((d) => ({ id: d.id, caps: JSON.parse(d.caps) as string[] })));
      this.byLocation.set(location, p);
      // A failed read is not kept: the next caller reads again.
      const mine = p;
      mine.catch(() => {
        if (this.byLocation.get(location) === mine) this.byLocation.delete(location);
      });
    }
    return p;
  }

  /** Drops one location, or all of them. */
  forget(location?: string): void {
    if (location === undefined) this.byLocation.clear();
    else this.byLocation.delete(location);
  }
}
