// Kysely's SQLite dialect with a first-come-first-served hand-over of its one connection. Kysely's
// own lock wakes every waiter at each release and all but one go back to waiting: with a burst of
// a thousand claims queued behind a group commit that is a million wake-ups, whose lock and unlock
// alone took an eighth of the broker's CPU in bench:claims (docs/architecture.md, Bindings).
import { type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, SqliteDialect, SqliteDriver, type SqliteDatabase } from 'kysely';

function connectionOf(db: SqliteDatabase): DatabaseConnection {
  return {
    executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
      const stmt = db.prepare(q.sql);
      if (stmt.reader) return Promise.resolve({ rows: stmt.all(q.parameters) as R[] });
      const { changes, lastInsertRowid } = stmt.run(q.parameters);
      return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
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
  private readonly waiting: (() => void)[] = [];

  constructor(db: SqliteDatabase) {
    super({ database: db });
    this.connection = connectionOf(db);
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
  constructor(private readonly db: SqliteDatabase) {
    super({ database: db });
  }

  override createDriver(): Driver {
    return new QueuedSqliteDriver(this.db);
  }
}
