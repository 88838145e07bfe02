// Kysely's SQLite driver prepares every statement again on each execution, and preparing costs
// more than running most of the registry's queries (a sixth of the broker's busy time under a
// job load). Kysely compiles a query to the same SQL text each time, so the prepared statement
// is kept by its text. Only the most recently used ones stay: a query with a variable-length IN
// list compiles to a new text per length.
import type SQLite from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

const MAX_STATEMENTS = 500;

/** Kysely asks for a statement once per execution, so `executed` counts the statements run. */
export type CachingDatabase = SqliteDatabase & { readonly executed: number };

/**
 * The database as Kysely's SqliteDialect sees it, reusing prepared statements. Safe because
 * Kysely runs one statement at a time on its single connection and reads each to the end.
 */
export function cachingStatements(db: SQLite.Database): CachingDatabase {
  const cache = new Map<string, SQLite.Statement>();
  let executed = 0;
  return {
    close: () => db.close(),
    get executed() {
      return executed;
    },
    prepare(sql: string) {
      executed++;
      let stmt = cache.get(sql);
      if (stmt) {
        // Map keeps insertion order: re-inserting marks it recently used.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= MAX_STATEMENTS) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}
