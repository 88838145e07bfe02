// Opens the registry database and brings its schema up to date. SQLite (better-sqlite3, WAL) is
// the embedded default; cluster mode passes a PostgreSQL Kysely instead.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator } from 'kysely';
import { BACKSTOP_PAGES, Checkpointer } from './checkpointer';
import { type Dialect, migrationProvider } from './migrations';
import type { Database } from './schema';
import { QueuedSqliteDialect } from './sqlite-dialect';
import { cachingStatements } from './statement-cache';
import { WalSync } from './wal-sync';

export interface Registry {
  db: Kysely<Database>;
  dialect: Dialect;
  /** SQL statements run since the registry opened (SQLite only: a cluster's pool does not count them). */
  statements?: () => number;
  /** Commits made durable by a WAL sync since the registry opened (SQLite only; wal-sync.ts). */
  walSyncs?: () => number;
  /** Checkpoints run off the main thread (SQLite only; checkpointer.ts). */
  checkpointer?: Checkpointer;
  close(): Promise<void>;
}

export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  // Features land side by side, each with its own migration number, so a registry may already
  // hold a later number when an earlier one arrives: apply it then rather than refuse to start.
  const migrator = new Migrator({ db, provider: migrationProvider(dialect), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** `onError` hears of checkpoints that failed off the main thread (checkpointer.ts). */
export async function openSqlite(file: string, onError: (err: Error) => void): Promise<Registry> {
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // A committed binding survives power loss, not only a process crash: NORMAL plus a WAL sync
  // after every commit, off the main thread, is FULL without the blocked event loop (wal-sync.ts).
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // A worker checkpoints; this connection does so itself only if the WAL outgrows the backstop.
  sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const statements = cachingStatements(sqlite);
  const wal = new WalSync(file);
  const checkpointer = new Checkpointer(file, onError);
  const db = new Kysely<Database>({ dialect: new QueuedSqliteDialect(statements, wal, checkpointer) });
  await migrate(db, 'sqlite');
  return {
    db,
    dialect: 'sqlite',
    statements: () => statements.executed,
    walSyncs: () => wal.syncs,
    checkpointer,
    close: async () => {
      await checkpointer.close();
      await db.destroy();
      await wal.close();
    },
  };
}

/** A unique index refused the row, on SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === '23505';
}
