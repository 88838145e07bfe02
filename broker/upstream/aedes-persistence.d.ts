// aedes-persistence's memory store as a class; its package types only its factory.
declare module 'aedes-persistence/asyncPersistence.js' {
  import type { Readable } from 'node:stream';
  class MemoryPersistence {
    setup(broker: unknown): Promise<void>;
    storeRetained(packet: unknown): Promise<void>;
    createRetainedStream(pattern: string): Readable;
    createRetainedStreamCombi(patterns: string[]): Readable;
    destroy(): Promise<void>;
  }
  export = MemoryPersistence;
}
