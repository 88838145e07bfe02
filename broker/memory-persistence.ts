// The single-node Aedes persistence: aedes-persistence's memory store with its retained
// messages held in a RetainedTrie, so a subscription reads only the retained topics it matches.
import { Readable } from 'node:stream';
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import { RetainedTrie } from './retained-trie';

interface RetainedPacket { topic: string; payload: Buffer | string }

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
