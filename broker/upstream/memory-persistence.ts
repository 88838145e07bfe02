// The single-node Aedes persistence: aedes-persistence's memory store with its retained
// messages held in a RetainedTrie, so a subscription reads only the retained topics it matches.
// Upstream matches every retained topic against each new subscription (no issue filed for the
// memory store; moscajs/aedes-persistence-redis#119 discusses a trie for the Redis one). The
// class is reached by a deep import, since the package exports only a factory, and three of its
// methods are overridden: checked when this module loads, so a changed upstream stops the
// broker at start with a clear message instead of silently losing the index.
import { Readable } from 'node:stream';
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import { RetainedTrie } from '../retained-trie';

const OVERRIDDEN = ['storeRetained', 'createRetainedStream', 'createRetainedStreamCombi'] as const;
const proto = (typeof MemoryPersistence === 'function' ? MemoryPersistence.prototype : {}) as Record<string, unknown>;
const missing = OVERRIDDEN.filter((m) => typeof proto[m] !== 'function');
if (missing.length > 0) {
  throw new Error(
    `aedes-persistence/asyncPersistence.js changed (${missing.join(', ')}): review broker/upstream/memory-persistence.ts against the installed version`,
  );
}

interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
}

export class IndexedMemoryPersistence extends MemoryPersistence {
  private readonly retained = new RetainedTrie<RetainedPacket>();

  override async storeRetained(packet: RetainedPacket): Promise<void> {
    // Copied as upstream does: Aedes reuses the packet object after this call.
    if (packet.payload.length === 0) this.retained.delete(packet.topic);
    else this.retained.set(packet.topic, { ...packet });
  }

  override createRetainedStream(filter: string): Readable {
    return Readable.from(this.retained.match(filter));
  }

  override createRetainedStreamCombi(filters: string[]): Readable {
    return Readable.from(this.matchAll(filters));
  }

  /** Each retained message once, also when several of the filters match it. */
  private *matchAll(filters: string[]): Generator<RetainedPacket> {
    if (filters.length === 1) return yield* this.retained.match(filters[0]!);
    const sent = new Set<string>();
    for (const filter of filters) {
      for (const packet of this.retained.match(filter)) {
        if (sent.has(packet.topic)) continue;
        sent.add(packet.topic);
        yield packet;
      }
    }
  }
}
