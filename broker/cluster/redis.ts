// The node's Redis connections. Commands fail at once while Redis is unreachable (no offline
// queue), so a caller gets an error it can report instead of a request that hangs; every
// connection keeps reconnecting by itself.
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
