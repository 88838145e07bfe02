// PostgreSQL and Redis for cluster tests: a fresh database and a fresh Redis key and channel
// prefix per run, so parallel runs never see each other, both removed afterwards. When a server
// is not there the test is skipped with what to start or install; under CI=true that is a failure.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pingRedis } from '../../broker/cluster/redis';
import { Unavailable } from './suite';

const PG_ADMIN_URLS = process.env.FLEETBIND_TEST_PG_URL
  ? [process.env.FLEETBIND_TEST_PG_URL]
  : ['postgres://postgres@127.0.0.1:5432/postgres', 'postgres://root@127.0.0.1:5432/postgres'];
export const TEST_REDIS_URL = process.env.FLEETBIND_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Backends {
  /** A server-level URL that may create, alter and drop databases. */
  adminUrl: string;
  database: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  drop(): Promise<void>;
}

async function pgAdmin(): Promise<string> {
  const errors: string[] = [];
  for (const url of PG_ADMIN_URLS) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
    try {
      await c.connect();
      await c.query('select 1');
      return url;
    } catch (err) {
      errors.push(`${new URL(url).username}@${new URL(url).host}: ${(err as Error).message}`);
    } finally {
      // A client that never connected rejects end(); there is nothing to close then.
      await c.end().catch(() => undefined);
    }
  }
  throw new Error(
    `PostgreSQL is not reachable (${errors.join('; ')}). Start it (pg_ctlcluster <version> main start) or install it ` +
      `(apt-get install postgresql), or set FLEETBIND_TEST_PG_URL to a server URL that may CREATE DATABASE.`,
  );
}

async function redisReachable(url: string): Promise<void> {
  try {
    await pingRedis(url);
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${url} (${(err as Error).message}). Start it (redis-server --daemonize yes) or install it (apt-get install redis-server), or set FLEETBIND_TEST_REDIS_URL.`,
    );
  }
}

export async function adminQuery(adminUrl: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await c.query(text, values);
  } finally {
    await c.end();
  }
}

/** Deletes every key under the prefix (keys only; channels need no cleanup). */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await r.unlink(...found);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** A fresh database and Redis prefix, or why they cannot be had. */
export async function freshBackends(redisUrl = TEST_REDIS_URL): Promise<Backends | Error> {
  let adminUrl: string;
  try {
    [adminUrl] = await Promise.all([pgAdmin(), redisReachable(redisUrl)]);
  } catch (err) {
    return err as Error;
  }
  const id = randomBytes(6).toString('hex');
  const database = `fleetbind_test_${id}`;
  await adminQuery(adminUrl, `create database ${database}`);
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  const redisPrefix = `fbtest:${id}:`;
  return {
    adminUrl,
    database,
    databaseUrl: u.toString(),
    redisUrl,
    redisPrefix,
    async drop() {
      await adminQuery(adminUrl, `drop database if exists ${database} with (force)`);
      await dropRedisPrefix(redisUrl, redisPrefix);
    },
  };
}

/** Throws Unavailable (a counted skip, a failure under CI=true) unless the backends are there. */
export function requireBackends(b: Backends | Error | undefined): asserts b is Backends {
  if (b === undefined || b instanceof Error) throw new Unavailable(`needs PostgreSQL and Redis: ${b?.message ?? 'they were not set up'}`);
}
