// Aedes' retained messages and subscriptions in Redis (aedes-persistence-redis), shared by every
// node of a cluster (docs/architecture.md, Backends).
import { Readable } from 'node:stream';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import { type RedisLinks, guarded } from './redis';

export type AedesPersistence = ReturnType<typeof aedesPersistenceRedis>;

export function createPersistence(links: RedisLinks, onError: (err: Error) => void): AedesPersistence {
  const persistence = aedesPersistenceRedis({ conn: guarded(links.persistence, onError) });
  // No will is ever published: the broker authors presence itself (docs/architecture.md, Presence) and the ACL
  // supersedes every will. Stored, they would cost three Redis writes per connect, and a dead
  // node's wills would be retried by the others forever.
  persistence.putWill = async () => undefined;
  persistence.getWill = async () => null;
  persistence.delWill = async () => null;
  persistence.streamWill = () => Readable.from([]);
  // Aedes pipes the retained stream of a SUBSCRIBE without an error listener, and the persistence
  // wraps the scan in a stream of its own, so the connection's guard never sees a scan failing while
  // Redis is unreachable: unheard, the error would stop the node. The subscriber gets no retained
  // messages that time, and the failure is reported like every other Redis error.
  const retained = persistence.createRetainedStream.bind(persistence);
  const retainedCombi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStream = (pattern) => retained(pattern).on('error', onError);
  persistence.createRetainedStreamCombi = (patterns) => retainedCombi(patterns).on('error', onError);
  return persistence;
}
