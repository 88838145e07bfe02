// How many uploads or orders a customer session makes an hour (docs/architecture.md, "Walk-up
// orders"). Counted after the session's token is checked, so nobody can use up a customer's hour by
// sending wrong tokens with its session id (which is no secret: it is the customer's MQTT
// username). @fastify/rate-limit cannot do this: it runs before the handler and only its first
// limiter on a route counts. In memory on a single node, on Redis in a cluster.
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode, ProtocolError } from '../../protocol/errors';

const HOUR_S = 3600;

export class SessionHourly {
  private readonly limiter: RateLimiterAbstract;

  constructor(
    private readonly what: string,
    private readonly max: number,
    redis: Redis | null,
  ) {
    const opts = { keyPrefix: `session-${what}`, points: max, duration: HOUR_S };
    this.limiter = redis ? new RateLimiterRedis({ ...opts, storeClient: redis }) : new RateLimiterMemory(opts);
  }

  /** Counts one for the session, or throws RATE_LIMITED with the wait. */
  async take(session: string): Promise<void> {
    try {
      await this.limiter.consume(session, 1);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      throw new ProtocolError(
        ErrorCode.RATE_LIMITED,
        `at most ${this.max} ${this.what} an hour; try again in ${Math.ceil(err.msBeforeNext / 1000)} s`,
        undefined,
        { retryAfterMs: err.msBeforeNext },
      );
    }
  }
}
