// Group commit. Every commit waits for the disk (wal-sync.ts), so one commit per write would cap
// the broker at a few hundred writes/s: 10,000 devices would take most of a minute just to record
// their hellos after a restart. Writes that arrive while a commit is under way go into the next
// transaction together; each caller still resolves only after its own write is durable. History
// rows the writes leave for the end go in together (commit-inserts.ts).
//
// A write may also say how long it can wait (its patience). A commit that holds only patient
// writes starts when the first of them runs out of patience, so that a connect storm's hellos,
// which otherwise arrive one or two per turn of the event loop and each pay a commit and a disk
// sync, share one. Any write without patience (a claim, a job) starts the commit on the next turn
// as before, and the patient writes waiting go with it (docs/architecture.md, Backends).
import type { Kysely, Transaction } from 'kysely';
import { withCommitInserts } from './commit-inserts';

/**
 * The patience of the writes a connect storm brings by the thousand (hellos, presence events): a
 * device hears its config this much later at most. With 10 ms a burst of 5,000 devices made about
 * 300 commits instead of 3,500, at about 5 % less broker CPU per device (bench:fleet).
 */
export const STORM_WRITE_PATIENCE_MS = 10;

type Write<DB> = { fn: (trx: Transaction<DB>) => Promise<unknown>; resolve: (v: unknown) => void; reject: (err: unknown) => void };

export class GroupWriter<DB> {
  private pending: Write<DB>[] = [];
  private scheduled = false;
  /** Whether a pending write has no patience; else when the most impatient one must start (performance.now()). */
  private urgent = false;
  private dueAt = Number.POSITIVE_INFINITY;
  /** Ends the wait for a batch of patient writes early, once a write that cannot wait arrives. */
  private wake: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Runs fn in a transaction shared with other writes. fn must use only `trx`, never the db handle.
   * `patienceMs`: how long the write may wait for others to join its commit before it starts.
   */
  write<T>(fn: (trx: Transaction<DB>) => Promise<T>, patienceMs = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (patienceMs <= 0) {
        this.urgent = true;
        this.wake?.();
      } else {
        const due = performance.now() + patienceMs;
        // Less patient than the writes already waiting (callers differ): their wait ends now
        // rather than past this one's deadline.
        if (due < this.dueAt) {
          this.dueAt = due;
          this.wake?.();
        }
      }
      if (this.scheduled) return;
      this.scheduled = true;
      this.chain = this.chain.then(() => this.gathered()).then(() => this.flush());
    });
  }

  /** Resolves when every write handed in so far is committed or failed. */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Resolves when the next commit may start: after one turn of the event loop, which lets the
   * messages that arrived meanwhile be handled so that their writes join this batch; when every
   * pending write is patient, once the first of them runs out of patience.
   */
  private gathered(): Promise<void> {
    return new Promise<void>((resolve) => {
      const wait = this.urgent ? 0 : this.dueAt - performance.now();
      if (wait <= 0) {
        setImmediate(resolve);
        return;
      }
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, wait);
      this.wake = () => {
        this.wake = null;
        clearTimeout(timer);
        setImmediate(resolve);
      };
    });
  }

  private take(): Write<DB>[] {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    this.urgent = false;
    this.dueAt = Number.POSITIVE_INFINITY;
    return batch;
  }

  private async flush(): Promise<void> {
    let batch: Write<DB>[] = [];
    try {
      const results = await this.db.transaction().execute(async (trx) => {
        // Taken once the connection is ours: writes that came in while reads held it join too.
        batch = this.take();
        return withCommitInserts(trx, async () => {
          const out: unknown[] = [];
          for (const w of batch) out.push(await w.fn(trx));
          return out;
        });
      });
      for (const [i, w] of batch.entries()) w.resolve(results[i]);
    } catch (err) {
      // The transaction did not even begin: take the waiting writes, so none is stranded.
      if (batch.length === 0) batch = this.take();
      if (batch.length === 1) return batch[0]!.reject(err);
      // One write failed and rolled back the batch: run each alone, so only that one fails.
      for (const w of batch) {
        try {
          w.resolve(await this.db.transaction().execute((trx) => withCommitInserts(trx, () => w.fn(trx))));
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}
