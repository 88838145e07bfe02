// The node's Redis connections. Commands fail at once while Redis is unreachable (no offline
// queue), so a caller gets an error it can report instead of a request that hangs; every
// connection keeps reconnecting by itself.
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { redactUrl } from '../store/postgres';

export interface RedisLinks {
  /** Counters, presence and node liveness; keys carry the fleet's prefix. */
  command: Redis;
  /** The Aedes persistence (retained messages, subscriptions, wills); keys carry the prefix. */
  persistence: Redis;
  /** MQTT traffic between nodes (mqemitter-redis); channels carry the prefix. */
  pub: Redis;
  sub: Redis;
}

export type LinkName = keyof RedisLinks;

const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 1_000);

export function connectRedis(url: string, prefix: string): RedisLinks {
  const common = { retryStrategy, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 3_000, lazyConnect: true };
  return {
    command: new Redis(url, { ...common, keyPrefix: prefix, connectionName: 'fleetbind-command' }),
    persistence: new Redis(url, { ...common, keyPrefix: prefix, connectionName: 'fleetbind-persistence' }),
    pub: new Redis(url, { ...common, connectionName: 'fleetbind-pub' }),
    // A subscriber re-subscribes after every reconnect; the offline queue lets those go out.
    sub: new Redis(url, { ...common, enableOfflineQueue: true, connectionName: 'fleetbind-sub' }),
  };
}

export async function openLinks(links: RedisLinks, url: string): Promise<void> {
  try {
    await Promise.all(Object.values(links).map((r: Redis) => r.connect()));
  } catch (err) {
    closeLinks(links);
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${(err as Error).message}`);
  }
}

export function closeLinks(links: RedisLinks): void {
  for (const r of Object.values(links) as Redis[]) r.disconnect();
}

export function linksDown(links: RedisLinks): LinkName[] {
  return (Object.keys(links) as LinkName[]).filter((k) => links[k].status !== 'ready');
}

/** One PING on a short-lived connection that does not retry: is Redis there at all? */
export async function pingRedis(url: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // The same error also rejects connect(); the listener keeps ioredis from printing it.
  r.on('error', (err: Error) => void err);
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}

/**
 * The connection as handed to a library: every command's promise also gets a handler that
 * reports its failure. The libraries send some commands without waiting for them (Aedes'
 * persistence drops a will's list entry that way); when Redis is unreachable those would end as
 * unhandled rejections and stop the process. Callers that do wait still get the error. Scan
 * streams are covered the same way: Aedes' persistence reads retained messages through one, and
 * when the connection closes under a scan that a client has already left, the stream's error
 * event had no listener and stopped the node (seen at cluster shutdown).
 */
export function guarded(redis: Redis, onError: (err: Error) => void): Redis {
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  return new Proxy(redis, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        const fn = value as (...a: unknown[]) => unknown;
        wrapper = (...args: unknown[]) => {
          const result = fn.apply(target, args);
          if (result instanceof Promise) result.catch(onError);
          else if (result instanceof Readable) result.on('error', onError);
          return result;
        };
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}
