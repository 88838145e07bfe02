// Agent request rate limits (docs/architecture.md, Request rate limits): a token bucket per
// connection, kept here, and one per agent, kept on Redis in a cluster so that every node draws
// from the same bucket. The connection's bucket is checked first, so a flood from one connection
// is refused without a round trip to Redis.
import type { Logger } from './logger';

export interface RequestLimits {
  requestRate: number;
  requestBurst: number;
  agentRequestRate: number;
  agentRequestBurst: number;
}
export type SharedBucket = (agent: string, rate: number, burst: number) => Promise<number>;
export interface Refusal {
  scope: 'connection' | 'agent';
  retryAfterMs: number;
}

class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** 0 when a token was taken, else the milliseconds until one is there. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }

  full(now: number): boolean {
    return this.tokens + ((now - this.last) * this.rate) / 1000 >= this.burst;
  }
}

const PRUNE_AT = 10_000;

export class RequestLimiter {
  private readonly connections = new WeakMap<object, TokenBucket>();
  private readonly agents = new Map<string, TokenBucket>();

  constructor(
    private readonly limits: RequestLimits,
    private readonly shared: SharedBucket | null,
    private readonly log: Logger,
  ) {}

  /** Takes a request's tokens; null when it may go ahead, else which bucket refused it and for how long. */
  async take(connection: object, agent: string, now: number): Promise<Refusal | null> {
    let conn = this.connections.get(connection);
    if (!conn) this.connections.set(connection, (conn = new TokenBucket(this.limits.requestRate, this.limits.requestBurst, now)));
    const connWait = conn.take(now);
    if (connWait > 0) return { scope: 'connection', retryAfterMs: connWait };
    const agentWait = await this.takeAgent(agent, now);
    return agentWait > 0 ? { scope: 'agent', retryAfterMs: agentWait } : null;
  }

  private async takeAgent(agent: string, now: number): Promise<number> {
    if (this.shared) {
      try {
        return await this.shared(agent, this.limits.agentRequestRate, this.limits.agentRequestBurst);
      } catch (err) {
        // Redis unreachable: this node limits the agent on its own until it is back.
        this.log.debug({ err: (err as Error).message, agent }, 'shared request bucket unavailable; limiting on this node');
      }
    }
    let bucket = this.agents.get(agent);
    if (!bucket) {
      if (this.agents.size >= PRUNE_AT) this.prune(now);
      this.agents.set(agent, (bucket = new TokenBucket(this.limits.agentRequestRate, this.limits.agentRequestBurst, now)));
    }
    return bucket.take(now);
  }

  /** A full bucket is the same as none. */
  private prune(now: number): void {
    for (const [agent, b] of this.agents) if (b.full(now)) this.agents.delete(agent);
  }
}
