// Cluster settings: a database URL and a Redis URL (flags or FLEETBIND_* variables, flags
// winning) switch a node to PostgreSQL and to a cluster; without them it stays on SQLite.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOptions } from '../../broker/config';
import { redactUrl } from '../../broker/store/postgres';

const t = suite('cluster configuration');

t('without URLs a node stays on SQLite alone', () => {
  const o = parseOptions([], {});
  assert.is(o.databaseUrl, undefined);
  assert.is(o.redisUrl, undefined);
  assert.is(o.redisPrefix, 'fleetbind:');
});

t('URLs and the prefix come from flags or FLEETBIND_* variables, flags winning', () => {
  const env = { FLEETBIND_DATABASE_URL: 'postgres://db/fleet', FLEETBIND_REDIS_URL: 'redis://r:6379', FLEETBIND_REDIS_PREFIX: 'site-a:' };
  const fromEnv = parseOptions([], env);
  assert.equal([fromEnv.databaseUrl, fromEnv.redisUrl, fromEnv.redisPrefix], ['postgres://db/fleet', 'redis://r:6379', 'site-a:']);
  const flags = parseOptions(['--database-url', 'postgresql://other/fleet', '--redis-url', 'rediss://tls:6380', '--redis-prefix', 'b:'], env);
  assert.equal([flags.databaseUrl, flags.redisUrl, flags.redisPrefix], ['postgresql://other/fleet', 'rediss://tls:6380', 'b:']);
});

t('PostgreSQL alone is a single node on PostgreSQL; Redis without PostgreSQL is refused', () => {
  assert.is(parseOptions(['--database-url', 'postgres://db/fleet'], {}).redisUrl, undefined);
  assert.throws(
    () => parseOptions(['--redis-url', 'redis://r'], {}),
    (e: Error) => /--redis-url needs --database-url/.test(e.message),
  );
});

t('a URL of the wrong kind is refused, naming the flag and the expected scheme', () => {
  assert.throws(
    () => parseOptions(['--database-url', 'mysql://db/x'], {}),
    (e: Error) => /--database-url must start with postgres:\/\/ or postgresql:\/\//.test(e.message),
  );
  assert.throws(
    () => parseOptions(['--database-url', 'not a url'], {}),
    (e: Error) => /--database-url must be a URL/.test(e.message),
  );
  assert.throws(
    () => parseOptions(['--database-url', 'postgres://db/x', '--redis-url', 'http://r'], {}),
    (e: Error) => /--redis-url must start with redis:\/\/ or rediss:\/\//.test(e.message),
  );
});

t('URLs are logged without their password', () => {
  assert.is(redactUrl('postgres://fleet:s3cret@db:5432/fleet'), 'postgres://fleet:***@db:5432/fleet');
  assert.is(redactUrl('redis://:s3cret@r:6379'), 'redis://:***@r:6379');
  assert.not.match(redactUrl('redis://:s3cret@r:6379'), /s3cret/);
});

t.run();
