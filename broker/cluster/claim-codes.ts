// Claim codes are issued by whichever node publishes a device's config, but an agent may type
// the code on any node: every node learns each code over Redis, and a node that starts later
// reads the current ones from a Redis hash.
import type { Redis } from 'ioredis';
import { ClaimCodes } from '../claim-codes';
import type { Logger } from '../logger';
import { type ClusterMq, listen, send } from './mq';

export const CLAIM_CODES_TOPIC = '$SYS/fleetbind/claim-codes';
const HASH = 'claim-codes';

interface Wire {
  n: string;
  d: string;
  c: string | null;
}

export class ClaimCodeSync {
  readonly codes: ClaimCodes;

  constructor(
    private readonly mq: ClusterMq,
    private readonly redis: Redis,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.codes = new ClaimCodes((device, code) => this.share(device, code));
  }

  async start(): Promise<void> {
    await listen<Wire>(this.mq, CLAIM_CODES_TOPIC, this.log, 'claim code', (w) => {
      if (w.n !== this.node) this.codes.adopt(w.d, w.c);
    });
    await this.load();
  }

  async load(): Promise<void> {
    for (const [device, code] of Object.entries(await this.redis.hgetall(HASH))) this.codes.adopt(device, code);
  }

  private share(device: string, code: string | null): void {
    const stored = code === null ? this.redis.hdel(HASH, device) : this.redis.hset(HASH, device, code);
    stored.catch((err: unknown) => this.log.warn({ err: (err as Error).message, device }, 'claim code not stored in Redis'));
    send(this.mq, CLAIM_CODES_TOPIC, { n: this.node, d: device, c: code } satisfies Wire, this.log, 'claim code');
  }
}
