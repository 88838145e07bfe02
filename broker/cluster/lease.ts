// The dispatch lease in a cluster (see jobs/lease.ts): a Redis hash names the node that
// dispatches each device's jobs, the node the device last said hello on. Taking a device over
// asks the previous node to let go first; a dead node's devices are settled by the node that
// finds it dead. Work that needs the dispatcher is sent to it; when no live node holds the
// device, it runs where it was asked.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { JobAnswer, JobOp, JobRpc } from '../jobs/job-rpc';
import type { DispatchLease } from '../jobs/lease';
import type { Logger } from '../logger';
import { type NodeRpc, RpcTimeout } from './rpc';
import { type ScriptedRedis, keys } from './scripts';

/** Ops that may leave work for a dispatcher that appeared meanwhile; it is told to look. */
const MAY_ADD_WORK: ReadonlySet<JobOp> = new Set(['submit', 'binding']);

export class ClusterLease implements DispatchLease {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly rpc: NodeRpc<JobRpc>,
    private readonly node: string,
    private readonly log: Logger,
  ) {}

  async acquire(device: string): Promise<boolean> {
    const previous = await this.redis.fbLeaseTake(keys.leases, keys.nodeleases(this.node), device, this.node);
    if (previous === this.node) return false;
    if (previous !== null && (await this.alive(previous))) {
      try {
        await this.rpc.call(previous, 'release', [device]);
      } catch (err) {
        // It settles the device itself once it answers again; our settling is conditional on
        // the jobs' states, so whichever comes second changes nothing.
        this.log.warn({ device, previous, err: (err as Error).message }, 'the previous dispatcher did not let go of the device in time; taking it over anyway');
      }
    }
    return true;
  }

  async orphaned(device: string): Promise<boolean> {
    const holder = await this.redis.hget(keys.leases, device);
    return holder === null || !(await this.alive(holder));
  }

  async onHolder<K extends JobOp>(device: string, op: K, args: Parameters<JobRpc[K]>, here: () => Promise<JobAnswer<K>>): Promise<JobAnswer<K>> {
    const holder = await this.redis.hget(keys.leases, device);
    if (holder !== null && holder !== this.node && (await this.alive(holder))) {
      try {
        return await this.rpc.call(holder, op, args);
      } catch (err) {
        if (!(err instanceof RpcTimeout)) throw err;
        if (await this.alive(holder))
          throw new ProtocolError(ErrorCode.UNAVAILABLE, `the node that dispatches device ${device} did not answer; try again`, 'device');
        this.log.warn({ device, holder, op }, 'the dispatcher died during a request; running it here');
      }
    }
    const result = await here();
    if (holder !== this.node && MAY_ADD_WORK.has(op)) this.poke(device);
    return result;
  }

  handle<K extends JobOp>(op: K, fn: JobRpc[K]): void {
    this.rpc.handle(op, fn);
  }

  /** A node died: its devices are dispatched by no one until they say hello again; settle what it left. */
  async settleNode(dead: string): Promise<void> {
    for (const device of await this.redis.smembers(keys.nodeleases(dead))) {
      if ((await this.redis.fbLeaseDrop(keys.leases, keys.nodeleases(dead), device, dead)) === 1) await this.rpc.local('settle', [device]);
    }
  }

  /** A device may have got a dispatcher while the work ran here: it picks up what is queued. */
  private poke(device: string): void {
    this.redis
      .hget(keys.leases, device)
      .then(async (holder) => {
        if (holder !== null && holder !== this.node && (await this.alive(holder))) await this.rpc.call(holder, 'pump', [device]);
      })
      .catch((err: unknown) => this.log.warn({ device, err: (err as Error).message }, 'telling the dispatcher about new work failed'));
  }

  private async alive(node: string): Promise<boolean> {
    return (await this.redis.exists(keys.alive(node))) === 1;
  }
}
