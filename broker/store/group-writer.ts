// Group commit. Every commit waits for the disk (wal-sync.ts), so one commit per write would cap
// the broker at a few hundred writes/s: 10,000 devices would take most of a minute just to record
// their hellos after a restart. Writes that arrive while a commit is under way go into the next
// transaction together; each caller still resolves only after its own write is durable. History
// rows the writes leave for the end go in together (commit-inserts.ts).
import type { Kysely, Transaction } from 'kysely';
import { withCommitInserts } from './commit-inserts';

type Write<DB> = { fn: (trx: Transaction<DB>) => Promise<unknown>; resolve: (v: unknown) => void; reject: (err: unknown) => void };

export class GroupWriter<DB> {
  private pending: Write<DB>[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly db: Kysely<DB>) {}

  /** Runs fn in a transaction shared with other writes. fn must use only `trx`, never the db handle. */
  write<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // Waiting one turn lets the messages that arrived meanwhile be handled, so their writes
      // join this batch.
      this.chain = this.chain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => this.flush());
    });
  }

  /** Resolves when every write handed in so far is committed or failed. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async flush(): Promise<void> {
    let batch: Write<DB>[] = [];
    try {
      const results = await this.db.transaction().execute(async (trx) => {
        // Taken once the connection is ours: writes that came in while reads held it join too.
        this.scheduled = false;
        batch = this.pending;
        this.pending = [];
        return withCommitInserts(trx, async () => {
          const out: unknown[] = [];
          for (const w of batch) out.push(await w.fn(trx));
          return out;
        });
      });
      for (const [i, w] of batch.entries()) w.resolve(results[i]);
    } catch (err) {
      if (batch.length === 0) {
        // The transaction did not even begin: take the waiting writes, so none is stranded.
        this.scheduled = false;
        batch = this.pending;
        this.pending = [];
      }
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
