// Which nodes are alive. Each node refreshes a short-lived key; when one stops (crash, SIGKILL,
// network loss, or a clean stop) its key expires and exactly one surviving node claims it and
// hands its connections back to presence, so its devices become `reconnecting`.
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger';
import { type ScriptedRedis, keys } from './scripts';

export interface LivenessOptions {
  beatMs: number;
  ttlMs: number;
}

export const LIVENESS_DEFAULTS: LivenessOptions = { beatMs: 1_000, ttlMs: 3_000 };

/** Emits 'dead' after this node settled a dead node's connections. */
export class NodeLiveness extends EventEmitter<{ dead: [node: string] }> {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly redis: ScriptedRedis,
    readonly id: string,
    private readonly log: Logger,
    /** Settles a dead node's connections; the node stays listed until this succeeds. */
    private readonly settle: (node: string) => Promise<void>,
    private readonly opts: LivenessOptions = LIVENESS_DEFAULTS,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.log.debug({ err }, 'node heartbeat failed'));
      void this.sweep();
    }, this.opts.beatMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    await this.redis.multi().hset(keys.nodes, this.id, String(Date.now())).set(keys.alive(this.id), '1', 'PX', this.opts.ttlMs).exec();
  }

  /** Looks for nodes whose liveness key expired and settles each one this node manages to claim. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const nodes = Object.keys(await this.redis.hgetall(keys.nodes)).filter((n) => n !== this.id);
      for (const node of nodes) {
        const claimed = await this.redis.fbClaimReap(keys.alive(node), keys.reaping(node), this.id, String(this.opts.ttlMs * 5));
        if (claimed === null) continue;
        this.log.warn({ node }, 'cluster node stopped answering; settling its connections');
        await this.settle(node);
        await this.redis.multi().del(keys.nodeconns(node)).hdel(keys.nodes, node).del(keys.reaping(node)).exec();
        this.emit('dead', node);
      }
    } catch (err) {
      this.log.debug({ err }, 'node sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /** A clean stop: other nodes settle this node's connections at their next sweep. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.del(keys.alive(this.id)).catch((err: unknown) => this.log.debug({ err }, 'could not drop the liveness key'));
  }
}
