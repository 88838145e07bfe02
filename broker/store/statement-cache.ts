// Kysely's SQLite driver prepares every statement again on each execution, and preparing costs
// more than running most of the registry's queries (a sixth of the broker's busy time under a
// job load). Kysely compiles a query to the same SQL text each time, so the prepared statement
// is kept by its text. Only the most recently used ones stay: a query with a variable-length IN
// list compiles to a new text per length.
import type SQLite from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import type { SyncedDatabase } from './sqlite-dialect';

const MAX_STATEMENTS = 500;

/** Kysely asks for a statement once per execution, so `executed` counts the statements run. */
export type CachingDatabase = SyncedDatabase & { readonly executed: number };

/**
 * The database as Kysely's SqliteDialect sees it, reusing prepared statements. Safe because
 * Kysely runs one statement at a time on its single connection and reads each to the end.
 */
export function cachingStatements(db: SQLite.Database): CachingDatabase {
  // Each entry notes when it was last used; the oldest goes when the cache is full. Moving the
  // entry to the end of the Map on each use instead (a delete and a set) was 3 % of the busy
  // time in bench:claims.
  const cache = new Map<string, { stmt: SQLite.Statement; used: number }>();
  let executed = 0;
  return {
    close: () => db.close(),
    get executed() {
      return executed;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    prepare(sql: string) {
      executed++;
      let entry = cache.get(sql);
      if (entry) entry.used = executed;
      else {
        if (cache.size >= MAX_STATEMENTS) {
          let oldest: string | undefined;
          let at = Infinity;
          for (const [k, e] of cache) if (e.used < at) [oldest, at] = [k, e.used];
          cache.delete(oldest!);
        }
        cache.set(sql, (entry = { stmt: db.prepare(sql), used: executed }));
      }
      return entry.stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}
