// Each location's pool queue as a submit, a drain and the pool.queue messages read it
// (docs/architecture.md, Locations and pools). On a single node it is kept in memory: read once
// from the registry, then changed by this node's own writes, each applied after it committed (an
// entry queued, or one that left the queue: assigned, cancelled, expired). It stays a hint for the
// drain, whose conditional UPDATEs decide. In a cluster other nodes change the queue too, so every
// read goes to the registry.
import type { Kysely } from 'kysely';
import { allWaiting, placeInQueue, waiting } from '../store/leases';
import type { Database, PoolEntryRow } from '../store/schema';

type Change = { add: PoolEntryRow } | { remove: string };

interface Line {
  /** The waiting entries oldest first; replaced, never changed in place, so a reader's list stays as it was. */
  entries: readonly PoolEntryRow[] | null;
  loading: Promise<readonly PoolEntryRow[]> | null;
  /** Changes made while the first read was under way, applied to what it returns. */
  during: Change[];
}

function apply(entries: readonly PoolEntryRow[], c: Change): readonly PoolEntryRow[] {
  if ('remove' in c) return entries.some((e) => e.id === c.remove) ? entries.filter((e) => e.id !== c.remove) : entries;
  if (entries.some((e) => e.id === c.add.id)) return entries;
  const seq = Number(c.add.seq);
  // Entries commit in seq order, so a new one almost always goes last.
  let i = entries.length;
  while (i > 0 && Number(entries[i - 1]!.seq) > seq) i--;
  return [...entries.slice(0, i), c.add, ...entries.slice(i)];
}

export class WaitingLines {
  private readonly lines = new Map<string, Line>();

  /** `inMemory`: this node is the only writer of the pool queue (no cluster). */
  constructor(
    private readonly db: Kysely<Database>,
    readonly inMemory: boolean,
  ) {}

  /** The location's waiting entries, oldest first. */
  async of(location: string): Promise<readonly PoolEntryRow[]> {
    if (!this.inMemory) return waiting(this.db, location);
    let line = this.lines.get(location);
    if (line?.entries) return line.entries;
    if (!line) this.lines.set(location, (line = { entries: null, loading: null, during: [] }));
    const l = line;
    l.loading ??= allWaiting(this.db, location).then(
      (rows) => {
        let entries: readonly PoolEntryRow[] = rows;
        for (const c of l.during) entries = apply(entries, c);
        l.during = [];
        l.entries = entries;
        l.loading = null;
        return entries;
      },
      (err: unknown) => {
        // A failed read is not kept: the next caller reads again.
        if (this.lines.get(location) === l) this.lines.delete(location);
        throw err;
      },
    );
    return l.loading;
  }

  /**
   * The location's waiting entries, oldest first, if this node keeps them in memory and has read
   * them already; undefined otherwise (the registry answers then). For a caller that may not read,
   * such as a write in a transaction, where a read would wait for that transaction.
   */
  loaded(location: string): readonly PoolEntryRow[] | undefined {
    return this.inMemory ? (this.lines.get(location)?.entries ?? undefined) : undefined;
  }

  /**
   * The waiting entries in FIFO order, read in pages of `page` from the registry in a cluster (a
   * drain with few free devices reads few rows), from memory on a single node.
   */
  async *walk(location: string, page: number): AsyncGenerator<PoolEntryRow> {
    if (this.inMemory) {
      yield* await this.of(location);
      return;
    }
    let after: number | undefined;
    for (;;) {
      const rows = await waiting(this.db, location, page, after);
      yield* rows;
      if (rows.length < page) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  }

  /** The entry's place in its location's queue (1 is next), or null if it no longer waits there. */
  async placeOf(entry: PoolEntryRow): Promise<number | null> {
    if (!this.inMemory) return entry.state === 'waiting' ? placeInQueue(this.db, entry.location, Number(entry.seq)) : null;
    const i = (await this.of(entry.location)).findIndex((e) => e.id === entry.id);
    return i < 0 ? null : i + 1;
  }

  /** An entry was queued (its insert committed). */
  added(row: PoolEntryRow): void {
    this.change(row.location, { add: row });
  }

  /** An entry left the queue (its decision committed), or turned out not to be waiting. */
  removed(location: string, id: string): void {
    this.change(location, { remove: id });
  }

  private change(location: string, c: Change): void {
    if (!this.inMemory) return;
    const line = this.lines.get(location);
    if (!line) return;
    if (line.entries) line.entries = apply(line.entries, c);
    else line.during.push(c);
  }
}
