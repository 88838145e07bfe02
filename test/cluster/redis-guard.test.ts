// The guarded Redis connection handed to Aedes' libraries: a scan stream whose connection closes
// under it, and the retained stream Aedes pipes for a SUBSCRIBE, report the error to the node
// instead of emitting an unheard 'error' that stops the process (a two-node cluster once died that
// way at shutdown, and once mid-test while Redis was unreachable).
import { Writable } from 'node:stream';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { createPersistence } from '../../broker/cluster/persistence';
import { guarded, type RedisLinks } from '../../broker/cluster/redis';
import { TEST_REDIS_URL } from '../helpers/backends';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('cluster: guarded Redis connection');

t('a scan stream on a closed connection reports its error to the node', async () => {
  // No offline queue, as the node's links: a command on a closed connection fails at once.
  const redis = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const reported: Error[] = [];
  const conn = guarded(redis, (err) => reported.push(err));
  redis.disconnect();
  await waitUntil(() => redis.status === 'end', 5_000, 'the connection to end');
  const stream = conn.hscanBufferStream('fleetbind-test:retained', { match: 'fb/*' });
  stream.resume();
  await waitUntil(() => reported.length > 0, 5_000, 'the scan error reported');
  assert.match(reported[0]!.message, /writeable|closed/i);
});

t("a SUBSCRIBE's retained scan failing while Redis is unreachable is reported, not left unheard", async () => {
  const redis = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const reported: Error[] = [];
  const persistence = createPersistence({ persistence: redis } as RedisLinks, (err) => reported.push(err));
  redis.disconnect();
  await waitUntil(() => redis.status === 'end', 5_000, 'the connection to end');
  // As Aedes reads it for a SUBSCRIBE: piped on, with no error listener of its own.
  persistence.createRetainedStreamCombi(['fb/v1/d/+/status']).pipe(new Writable({ objectMode: true, write: (_chunk, _enc, cb) => cb() }));
  await waitUntil(() => reported.length > 0, 5_000, 'the scan error reported');
  assert.match(reported[0]!.message, /writeable|closed/i);
});

t.run();
