// aedes-persistence-redis ships no types; this is the part the cluster uses.
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  /** An Aedes persistence on an existing connection (whose keyPrefix namespaces its keys). */
  function aedesPersistenceRedis(opts: { conn: Redis }): { destroy(): Promise<void> };
  export = aedesPersistenceRedis;
}
