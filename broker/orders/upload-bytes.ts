// Bytes of walk-up design uploads per hour, per customer session, per machine and per client
// address (docs/architecture.md, "Walk-up orders"). rate-limiter-flexible counts weighted
// consumptions, which @fastify/rate-limit (one request, one point) cannot: in memory on a single
// node, on Redis in a cluster so every node adds to the same totals. A refused upload takes
// nothing off any budget.
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode, ProtocolError } from '../../protocol/errors';

const HOUR_S = 3600;

export type UploadScope = 'session' | 'machine' | 'address';
export type UploadBudgets = Record<UploadScope, number>;

export class UploadBytes {
  private readonly limiters: { scope: UploadScope; max: number; limiter: RateLimiterAbstract }[];

  constructor(budgets: UploadBudgets, redis: Redis | null) {
    this.limiters = (['session', 'machine', 'address'] as const).map((scope) => {
      const opts = { keyPrefix: `upload-bytes-${scope}`, points: budgets[scope], duration: HOUR_S };
      return { scope, max: budgets[scope], limiter: redis ? new RateLimiterRedis({ ...opts, storeClient: redis }) : new RateLimiterMemory(opts) };
    });
  }

  /** Counts `bytes` against every budget, or none of them and throws RATE_LIMITED with the wait. */
  async take(keys: Record<UploadScope, string>, bytes: number): Promise<void> {
    const results = await Promise.allSettled(this.limiters.map((l) => l.limiter.consume(keys[l.scope], bytes)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof RateLimiterRes));
    const refusals = results.flatMap((r, i) =>
      r.status === 'rejected' && r.reason instanceof RateLimiterRes ? [{ ...this.limiters[i]!, waitMs: r.reason.msBeforeNext }] : [],
    );
    if (!failure && refusals.length === 0) return;
    // consume() counts what it refuses too: give back everything this upload took, refused or not.
    await Promise.all(this.limiters.map((l, i) => (results[i] === failure ? undefined : l.limiter.reward(keys[l.scope], bytes))));
    if (failure) throw failure.reason;
    const worst = refusals.reduce((a, b) => (b.waitMs > a.waitMs ? b : a));
    throw new ProtocolError(
      ErrorCode.RATE_LIMITED,
      `uploads are limited to ${worst.max} bytes an hour per ${worst.scope}; this ${bytes}-byte design would pass it; try again in ${Math.ceil(worst.waitMs / 1000)} s`,
      'file',
      { retryAfterMs: worst.waitMs },
    );
  }
}
