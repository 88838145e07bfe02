// Shadow writes in batches (docs/architecture.md, Machine state). Thousands of devices reporting
// every second would cost one UPDATE each; instead the reports handed in while a commit is under
// way become one multi-row upsert, each row still a compare-and-set on `version` (the upsert
// changes a row only where the stored version is the one the change was made from), and one
// insert of their history samples, inside the broker's group commit. RETURNING tells which
// devices won; the others re-read and try again, as with a single write.
import { type Transaction, sql } from 'kysely';
import type { GroupWriter } from '../store/group-writer';
import type { Database, MachineShadowRow } from '../store/schema';
import type { Sample } from './store';

interface Pending {
  row: MachineShadowRow;
  samples: Sample[];
  resolve: (stored: boolean) => void;
  reject: (err: unknown) => void;
}

/** Rows per statement: 8 parameters a row stays far under SQLite's and PostgreSQL's limits. */
const CHUNK = 500;

export class ShadowWrites {
  private queue: Pending[] = [];

  constructor(private readonly writer: GroupWriter<Database>) {}

  /**
   * Stores `row` (its version one past the stored one, or 1 for a new shadow) with its samples;
   * resolves false when the stored version moved meanwhile. One change per device at a time.
   */
  write(row: MachineShadowRow, samples: Sample[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, samples, resolve, reject });
      if (this.queue.length > 1) return;
      let batch: Pending[] | null = null;
      // The batch is taken when the transaction runs, so every write handed in until then joins
      // it; if the group commit retries this write alone, it is the same batch again.
      this.writer
        .write(async (trx) => {
          batch ??= this.take();
          return store(trx, batch);
        })
        .then(
          (won) => {
            for (const p of batch!) p.resolve(won.has(p.row.device));
          },
          (err: unknown) => {
            for (const p of batch ?? this.take()) p.reject(err);
          },
        );
    });
  }

  private take(): Pending[] {
    const batch = this.queue;
    this.queue = [];
    return batch;
  }
}

async function store(trx: Transaction<Database>, batch: Pending[]): Promise<Set<string>> {
  const won = new Set<string>();
  for (let i = 0; i < batch.length; i += CHUNK) {
    const rows = batch.slice(i, i + CHUNK).map((p) => p.row);
    const stored = await trx
      .insertInto('machine_shadows')
      .values(rows)
      .onConflict((oc) =>
        oc
          .column('device')
          .doUpdateSet({
            version: (eb) => eb.ref('excluded.version'),
            desired_version: (eb) => eb.ref('excluded.desired_version'),
            reported: (eb) => eb.ref('excluded.reported'),
            desired: (eb) => eb.ref('excluded.desired'),
            metadata: (eb) => eb.ref('excluded.metadata'),
            agent_editable: (eb) => eb.ref('excluded.agent_editable'),
            updated_at: (eb) => eb.ref('excluded.updated_at'),
          })
          .where('machine_shadows.version', '=', sql<number>`excluded.version - 1`),
      )
      .returning('device')
      .execute();
    for (const r of stored) won.add(r.device);
  }
  const samples = batch.filter((p) => won.has(p.row.device)).flatMap((p) => p.samples);
  for (let i = 0; i < samples.length; i += CHUNK)
    await trx
      .insertInto('machine_history')
      .values(samples.slice(i, i + CHUNK))
      .execute();
  return won;
}
