// mqemitter-redis, as the cluster uses it, past its documented API: the emitter that puts a
// prefix on its Redis channels is only a property of the module (MQEmitterRedisPrefix), the
// node-local delivery a node falls back on while Redis is down is MQEmitter's own emit, which
// mqemitter-redis keeps as `_emit`, and its connections' errors come out on `state`. No upstream
// issue asks for these. They are checked when the first emitter is made, at node start, so a
// changed upstream fails there with a clear message.
import type { EventEmitter } from 'node:events';
import MQEmitterRedis from 'mqemitter-redis';
import type { Redis } from 'ioredis';

export interface MqPacket {
  topic: string;
  payload: Buffer | string;
  [k: string]: unknown;
}
export type Done = (err?: Error) => void;
type Listener = (packet: MqPacket, done: () => void) => void;

export interface PrefixedEmitter {
  on(topic: string, listener: Listener, done?: () => void): unknown;
  removeListener(topic: string, listener: Listener, done?: () => void): unknown;
  emit(packet: MqPacket, done?: Done): void;
  close(done: () => void): void;
  /** Connection errors of the emitter. */
  state: EventEmitter;
  /** Delivers to this node's subscribers only, without Redis (the prefix is not added). */
  _emit(packet: MqPacket, done?: Done): void;
}

type PrefixCtor = new (prefix: string, opts: { pubConn: Redis; subConn: Redis }) => PrefixedEmitter;

export function prefixedEmitter(prefix: string, pub: Redis, sub: Redis): PrefixedEmitter {
  const Ctor = (MQEmitterRedis as unknown as { MQEmitterRedisPrefix?: PrefixCtor }).MQEmitterRedisPrefix;
  if (typeof Ctor !== 'function' || typeof Ctor.prototype._emit !== 'function') {
    throw new Error('mqemitter-redis internals changed (MQEmitterRedisPrefix, _emit): review broker/upstream/mqemitter-redis.ts against the installed version');
  }
  const mq = new Ctor(prefix, { pubConn: pub, subConn: sub });
  if (typeof mq.state?.on !== 'function')
    throw new Error('mqemitter-redis internals changed (state): review broker/upstream/mqemitter-redis.ts against the installed version');
  return mq;
}
