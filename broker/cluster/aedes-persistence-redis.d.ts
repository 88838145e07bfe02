// aedes-persistence-redis ships no types; this is the part the cluster uses.
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  import type { Readable } from 'node:stream';
  /** An Aedes persistence on an existing connection (whose keyPrefix namespaces its keys). */
  function aedesPersistenceRedis(opts: { conn: Redis }): {
    destroy(): Promise<void>;
    putWill(client: unknown, packet: unknown): Promise<unknown>;
    getWill(client: unknown): Promise<unknown>;
    delWill(client: unknown): Promise<unknown>;
    streamWill(brokers: unknown): AsyncIterable<unknown>;
    createRetainedStream(pattern: string): Readable;
    createRetainedStreamCombi(patterns: string[]): Readable;
  };
  export = aedesPersistenceRedis;
}
