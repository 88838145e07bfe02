// Rows a group commit inserts together at the end of its transaction. A job step writes a history
// row (job_events) beside its state change, and a binding or lease change an audit row; with
// hundreds of steps in one commit, one multi-row INSERT per table replaces an INSERT per step.
// The rows commit with the steps that made them, in the order they were made.
import type { Kysely } from 'kysely';
import { type Params, preparedShapes } from './prepared';

type Row = Record<string, unknown>;
type Rows = Map<string, Row[]>;
/** Any registry handle, seen as tables of plain rows: the caller's table and row types were checked where it names them. */
type Tables = Kysely<Record<string, Row>>;

const deferred = new WeakMap<object, Rows>();

/** Rows per INSERT at most. Sizes are powers of two, so a few statement texts serve every batch. */
const MAX_ROWS = 256;

// Each size compiled once (prepared.ts): building a 256-row INSERT through Kysely cost more than
// running it. The rows of one table all have the columns of its first.
const insertRows = preparedShapes(
  (s: { table: string; cols: string[]; n: number }) => `${s.table}|${s.cols.join()}|${s.n}`,
  (db: Tables, s, p: Params) =>
    db.insertInto(s.table).values(Array.from({ length: s.n }, (_, i) => Object.fromEntries(s.cols.map((c) => [c, p[`${i}.${c}`]])))),
);

/**
 * Leaves the row for the end of db's transaction if that is a group commit; false (nothing done)
 * otherwise, and the caller inserts it now.
 */
export function deferToCommit<DB>(db: Kysely<DB>, table: keyof DB & string, row: Row): boolean {
  const rows = deferred.get(db);
  if (rows === undefined) return false;
  let list = rows.get(table);
  if (list === undefined) rows.set(table, (list = []));
  list.push(row);
  return true;
}

/** Inserts the row in db's transaction: with the others at its end in a group commit, else now. */
export async function insertAtCommit<DB>(db: Kysely<DB>, table: keyof DB & string, row: Row): Promise<void> {
  if (!deferToCommit(db, table, row)) await (db as unknown as Tables).insertInto(table).values(row).execute();
}

/** Runs fn in the transaction trx, then inserts the rows fn left for the end. */
export async function withCommitInserts<DB, T>(trx: Kysely<DB>, fn: () => Promise<T>): Promise<T> {
  const rows: Rows = new Map();
  deferred.set(trx, rows);
  try {
    const out = await fn();
    deferred.delete(trx);
    for (const [table, list] of rows) {
      const cols = Object.keys(list[0]!);
      for (let i = 0; i < list.length; ) {
        let n = MAX_ROWS;
        while (n > list.length - i) n /= 2;
        const params: Params = {};
        for (let r = 0; r < n; r++) for (const c of cols) params[`${r}.${c}`] = list[i + r]![c];
        await insertRows(trx as unknown as Tables, { table, cols, n }, params);
        i += n;
      }
    }
    return out;
  } finally {
    deferred.delete(trx);
  }
}
