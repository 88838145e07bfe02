// Kysely's SQLite dialect with a first-come-first-served hand-over of its one connection. Kysely's
// own lock wakes every waiter at each release and all but one go back to waiting: with a burst of
// a thousand claims queued behind a group commit that is a million wake-ups, whose lock and unlock
// alone took an eighth of the broker's CPU in bench:claims (docs/architecture.md, Bindings).
import { type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase, SqliteDialect, SqliteDriver } from 'kysely';
import { Fifo } from '../fifo';
import type { Checkpointer } from './checkpointer';
import type { WalSync } from './wal-sync';

/** The database as the dialect needs it: Kysely's view, plus whether a transaction is open. */
export type SyncedDatabase = SqliteDatabase & { readonly inTransaction: boolean };

const ROLLBACK = /^\s*rollback\b/i;

function connectionOf(db: SyncedDatabase, wal: WalSync, checkpointer: Checkpointer): DatabaseConnection {
  return {
    async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
      const stmt = db.prepare(q.sql);
      if (stmt.reader) return { rows: stmt.all(q.parameters) as R[] };
      const { changes, lastInsertRowid } = stmt.run(q.parameters);
      // A write outside a transaction, or a COMMIT, has just ended a transaction: it is durable
      // once the WAL is synced, and the caller holds the connection until then (wal-sync.ts).
      if (!db.inTransaction && !ROLLBACK.test(q.sql)) {
        await wal.sync();
        checkpointer.committed();
      }
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    },
    // Nothing in the broker streams from SQLite; Kysely's own driver allows it for selects only.
    streamQuery(): AsyncIterableIterator<QueryResult<never>> {
      throw new Error('streaming queries are not supported on SQLite here');
    },
  };
}

class QueuedSqliteDriver extends SqliteDriver {
  private readonly connection: DatabaseConnection;
  private busy = false;
  /** A reconnect storm queues a query per connecting device here. */
  private readonly waiting = new Fifo<() => void>();

  constructor(db: SyncedDatabase, wal: WalSync, checkpointer: Checkpointer) {
    super({ database: db });
    this.connection = connectionOf(db, wal, checkpointer);
    checkpointer.holdWith((fn) => this.hold(fn));
  }

  /** Runs fn in its turn, with no query on the connection meanwhile. */
  private async hold<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquireConnection();
    try {
      return await fn();
    } finally {
      await this.releaseConnection();
    }
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    return this.connection;
  }

  override async releaseConnection(): Promise<void> {
    // The connection passes straight to the longest waiter, still marked busy.
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}

export class QueuedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly db: SyncedDatabase,
    private readonly wal: WalSync,
    private readonly checkpointer: Checkpointer,
  ) {
    super({ database: db });
  }

  override createDriver(): Driver {
    return new QueuedSqliteDriver(this.db, this.wal, this.checkpointer);
  }
}
