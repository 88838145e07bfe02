// What every part of the job engine shares (docs/architecture.md, Jobs): the registry, the group
// writer, the metrics, each device's queue, and whether the engine is stopping.
import type { Transaction } from 'kysely';
import type { Context } from '../context';
import { getHolder } from '../store/devices';
import { GroupWriter } from '../store/group-writer';
import { DeviceQueue } from './device-queue';
import { JobMetrics } from './metrics';
import { type JobsDatabase, type JobsDb, jobsDb } from './schema';

export type Trx = Transaction<JobsDatabase>;
/** More writes to commit with a job's change (an audit row). */
export type Extra = (trx: Trx) => Promise<void>;

export class JobCore {
  readonly db: JobsDb;
  readonly metrics: JobMetrics;
  /** Set once the engine stops: no new dispatch, timer or snapshot. */
  stopped = false;
  private readonly writer: GroupWriter<JobsDatabase>;
  private readonly queues = new Map<string, DeviceQueue>();

  constructor(readonly ctx: Context) {
    this.db = jobsDb(ctx.db);
    this.metrics = new JobMetrics(ctx.metrics.registry);
    // On SQLite, the registry's one writer: job changes share their commit (and its fsync) with
    // hellos and claims. PostgreSQL commits on a pool of connections, so jobs keep their own.
    this.writer = !ctx.backends.sharedRegistry ? (ctx.writer as unknown as GroupWriter<JobsDatabase>) : new GroupWriter(this.db);
  }

  /** A write in the next group commit; resolves once it is durable. */
  write<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.writer.write(fn);
  }

  queue(device: string): DeviceQueue {
    let q = this.queues.get(device);
    if (!q) this.queues.set(device, (q = new DeviceQueue(device)));
    return q;
  }

  /** The device's queue if the engine has seen the device since it started. */
  peek(device: string): DeviceQueue | undefined {
    return this.queues.get(device);
  }

  all(): IterableIterator<DeviceQueue> {
    return this.queues.values();
  }

  /**
   * Whether the agent holds the device once this node's binding map has the registry's binding.
   * In a cluster a claim or lease made on another node reaches the dispatcher by two roads, the
   * job-engine call and the binding broadcast, in either order (docs/architecture.md, Jobs). A
   * submit must not be refused, nor a job cancelled, because the broadcast is still on its way:
   * the registry holds the binding as committed, and the map takes it only if it is newer.
   */
  async registryHolds(device: string, agent: string): Promise<boolean> {
    const { backends, bindings } = this.ctx;
    if (!backends.sharedRegistry) return bindings.agentOf(device) === agent;
    const row = await getHolder(this.ctx.db, device);
    if (row !== undefined) bindings.apply(device, row.agent_id, Number(row.binding_version));
    return bindings.agentOf(device) === agent;
  }

  writesIdle(): Promise<void> {
    return this.writer.idle();
  }
}
