// MQTT traffic between nodes over Redis pub/sub (mqemitter-redis, channels under the fleet's
// prefix), and Aedes' retained messages, subscriptions and wills in Redis
// (aedes-persistence-redis). Messages and cluster events share one publishing connection, so
// they reach every other node in the order they were sent.
import { Readable } from 'node:stream';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import type { Logger } from '../logger';
import { type Done, type MqPacket, prefixedEmitter } from '../upstream/mqemitter-redis';
import { type RedisLinks, guarded } from './redis';

export interface ClusterMq {
  on(topic: string, listener: (packet: MqPacket, done: () => void) => void, done?: () => void): unknown;
  removeListener(topic: string, listener: (packet: MqPacket, done: () => void) => void, done?: () => void): unknown;
  emit(packet: MqPacket, done?: Done): void;
  close(done: () => void): void;
}

export function createMq(links: RedisLinks, prefix: string, onError: (err: Error) => void): ClusterMq {
  const mq = prefixedEmitter(prefix, guarded(links.pub, onError), guarded(links.sub, onError));
  // mqemitter-redis re-emits its connections' errors here; unheard, they would crash the node.
  mq.state.on('error', onError);
  const toRedis = mq.emit.bind(mq);
  // While Redis is down the node keeps serving its own clients: a message is delivered locally
  // only (other nodes could not get it anyway). Device traffic to agents is held back meanwhile
  // (see BindingSync), because this node may have missed binding changes.
  mq.emit = (packet: MqPacket, done?: Done): void => {
    if (links.pub.status === 'ready') return toRedis(packet, done);
    mq._emit({ ...packet, topic: prefix + packet.topic }, done);
  };
  // mqemitter-redis closes by QUIT and waits for both connections to end, which never happens
  // while Redis is unreachable; then the connections are dropped.
  const close = mq.close.bind(mq);
  mq.close = (done: () => void): void => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      links.pub.disconnect();
      links.sub.disconnect();
      finish();
    }, 2_000);
    close(finish);
  };
  return mq;
}

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

/**
 * Listens for JSON messages other nodes send on a cluster topic ($SYS/…, which no MQTT client
 * may publish or receive). Resolves once the subscription is in place.
 */
export function listen<T>(mq: ClusterMq, topic: string, log: Logger, what: string, onMessage: (msg: T) => void): Promise<void> {
  return new Promise((resolve) =>
    mq.on(
      topic,
      (packet, done) => {
        done();
        let msg: T;
        try {
          msg = JSON.parse(packet.payload.toString()) as T;
        } catch (err) {
          log.error({ err, topic }, `malformed ${what} from another node`);
          return;
        }
        onMessage(msg);
      },
      resolve,
    ),
  );
}

/** Sends a JSON message to the nodes listening on a cluster topic. */
export function send(mq: ClusterMq, topic: string, msg: unknown, log: Logger, what: string): void {
  mq.emit({ topic, payload: Buffer.from(JSON.stringify(msg)) }, (err) => {
    if (err) log.warn({ err: err.message, topic }, `${what} could not be sent to the other nodes`);
  });
}
