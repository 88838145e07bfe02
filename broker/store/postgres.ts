// The registry on PostgreSQL, for cluster mode: the same Kysely schema and migrations as SQLite,
// so claims and job queries are one code path. PostgreSQL makes the claim's conditional UPDATE
// atomic across nodes.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrate, type Registry } from './db';
import type { Database } from './schema';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Millisecond times, counts and sequence numbers stay far below 2^53; anything larger is refused. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`PostgreSQL returned ${text}, beyond the exact range of a JavaScript number`);
  return n;
}

/** The URL with its password hidden, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Connections per node unless PostgresOptions.max says otherwise. */
export const POOL_SIZE = 10;

export interface PostgresOptions {
  /** Pool size per node. */
  max?: number;
  /** Called when a pooled connection fails (e.g. the server terminated it). */
  onConnectionError?: (err: Error) => void;
}

export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<Registry & { pool: pg.Pool }> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? POOL_SIZE,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Per pool rather than the global pg.types, so nothing else in the process is affected.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID || oid === NUMERIC_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A connection's error (server restart, pg_terminate_backend) is an 'error' event; unheard it
  // would crash the process. pg-pool listens only while a connection is idle, so each one gets
  // its own listener too. The pool drops a broken connection and opens a new one on demand.
  pool.on('error', (err) => opts.onConnectionError?.(err));
  pool.on('connect', (client) => client.on('error', (err) => opts.onConnectionError?.(err)));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy();
    throw new Error(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  await migrate(db, 'postgres');
  return { db, dialect: 'postgres', pool, close: () => db.destroy() };
}
