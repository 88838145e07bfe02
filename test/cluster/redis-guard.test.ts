// The guarded Redis connection handed to Aedes' libraries: a scan stream whose connection closes
// under it reports the error to the node instead of emitting an unheard 'error' that stops the
// process (a two-node cluster once died that way at shutdown).
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { guarded } from '../../broker/cluster/redis';
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

t.run();
