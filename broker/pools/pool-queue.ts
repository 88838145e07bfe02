// A location's pool queue as its agents see it (docs/architecture.md, Locations and pools): each
// waiting job's position and ETA from the pool's recent throughput, and the `pool.queue` messages
// that tell each agent where its jobs stand: only when that changed, and at most one per agent
// and location each `--pool-queue-every-ms`, so a queue moving fast (every handover shifts every
// place behind it) costs a message per agent per interval rather than per handover.
import type { JobView } from '../../protocol/rest';
import { agentTopic } from '../../protocol/topics';
import { Coalesced } from '../coalesced';
import type { Context } from '../context';
import { priorMs } from '../jobs/eta';
import { type PublisherContext, publishJson } from '../publisher';
import { poolEntry } from '../store/leases';
import type { PoolEntryRow } from '../store/schema';
import type { PoolMetrics } from './metrics';
import type { PoolDeviceCache } from './pool-devices';
import type { WaitingLines } from './waiting-line';
import { waitingJobView } from './waiting-view';

/** One of the agent's jobs waiting in a pool queue, as the agent sees it. */
export interface PoolQueueItem {
  job: string;
  kind: string;
  position: number;
  eta: number;
}

/** What an agent was last told about its jobs in a location's queue, and the message's text. */
interface Told {
  jobs: PoolQueueItem[];
  said: string;
}

const EWMA_WEIGHT = 0.2;
/** Positions and ETAs go to the first this many waiting jobs of a location. */
const SHOWN = 1000;

export class PoolQueue {
  private readonly publishing = new Coalesced<string>(() => this.stopped());
  /**
   * Per location, what each agent was last told about its jobs in the queue: an agent hears again
   * when that changes, and when its jobs have left the queue.
   */
  private readonly told = new Map<string, Map<string, Told>>();
  /** Per location, an average of how long its leases lasted (the pool's throughput for ETAs). */
  private readonly leaseMs = new Map<string, number>();
  /** Per location, when (performance.now()) its agents were last told. */
  private readonly toldAt = new Map<string, number>();

  constructor(
    private readonly ctx: PublisherContext & Pick<Context, 'presence' | 'opts'>,
    private readonly lines: WaitingLines,
    private readonly devices: PoolDeviceCache,
    private readonly metrics: PoolMetrics,
    private readonly stopped: () => boolean,
  ) {}

  /** A lease at the location ended after `ms`. */
  leaseLasted(location: string, ms: number): void {
    const cur = this.leaseMs.get(location);
    this.leaseMs.set(location, cur === undefined ? ms : cur + EWMA_WEIGHT * (ms - cur));
  }

  /** Resolves when no publication is under way. */
  idle(): Promise<void> {
    return this.publishing.idle();
  }

  /** Positions and ETAs of the location's waiting jobs, from the pool's recent throughput. */
  async of(location: string): Promise<(PoolQueueItem & { agent: string; queuedAt: number })[]> {
    const entries = (await this.lines.of(location)).slice(0, SHOWN);
    const online = await this.onlineAt(location);
    return entries.map((e, i) => ({
      job: e.id,
      kind: e.kind,
      agent: e.agent,
      queuedAt: Number(e.queued_at),
      position: i + 1,
      eta: this.eta(e, i + 1, online),
    }));
  }

  /** A waiting entry's position and ETA (as queueOf gives them), without reading the whole queue. */
  async placeOf(entry: PoolEntryRow): Promise<{ position: number; eta: number } | undefined> {
    const position = await this.lines.placeOf(entry);
    if (position === null || position > SHOWN) return undefined;
    return { position, eta: this.eta(entry, position, await this.onlineAt(entry.location)) };
  }

  /** How many of the location's pool devices are online (at least 1: the ETA's divisor). */
  private async onlineAt(location: string): Promise<number> {
    const devices = await this.devices.of(location);
    return Math.max(1, devices.filter((d) => this.ctx.presence.isOnline(d.id)).length);
  }

  /** `ceil(position / online devices) ×` the location's average lease length (before any, the kind's typical duration). */
  private eta(e: PoolEntryRow, position: number, online: number): number {
    const per = this.leaseMs.get(e.location) ?? priorMs(e.kind);
    return Math.round(Math.ceil(position / online) * per);
  }

  /**
   * Tells each agent with jobs in the location's queue (or who had some) where they stand. Like a
   * device's snapshot, a burst of changes gives one message per agent, reflecting all of them, and
   * so do the changes made within the interval after the last message. Not awaited by the writes
   * that call it, since a message may wait out that interval (idle() waits for it).
   */
  publish(location: string): void {
    void this.publishing.run(location, () =>
      this.publishOnce(location).catch((err: unknown) => this.ctx.log.error({ err, location }, 'publishing the pool queue failed')),
    );
  }

  private async publishOnce(location: string): Promise<void> {
    // The changes of this event-loop turn (a group commit's handovers, a burst of submits) share
    // one run; within the interval after the last one, so do all the changes until it is over.
    const wait = (this.toldAt.get(location) ?? -Infinity) + this.ctx.opts.poolQueueEveryMs - performance.now();
    await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
    if (this.stopped()) return;
    this.toldAt.set(location, performance.now());
    // Read with the interval's start, so consecutive messages' `at` are the interval apart.
    const at = this.ctx.now();
    const items = await this.of(location);
    this.metrics.queueDepth.set({ location: this.metrics.location(location) }, items.length);
    const byAgent = new Map<string, PoolQueueItem[]>();
    for (const it of items) {
      const list = byAgent.get(it.agent) ?? [];
      list.push({ job: it.job, kind: it.kind, position: it.position, eta: it.eta });
      byAgent.set(it.agent, list);
    }
    const before = this.told.get(location) ?? new Map<string, Told>();
    const now = new Map<string, Told>();
    // Only agents whose jobs' positions or ETAs changed hear, and those whose jobs left the queue
    // (unless `left` already told them of each: see there).
    for (const [agent, jobs] of byAgent) {
      const said = JSON.stringify(jobs);
      now.set(agent, { jobs, said });
      if (before.get(agent)?.said !== said) this.tell(agent, { event: 'pool.queue', location, at, jobs });
    }
    for (const agent of before.keys()) if (!byAgent.has(agent)) this.tell(agent, { event: 'pool.queue', location, at, jobs: [] });
    this.told.set(location, now);
  }

  /**
   * Tells the agent its job left the location's queue (`pool.assigned`, `pool.ended`). That says
   * all a `pool.queue` without the job would: the job no longer counts as told, and an agent whose
   * told jobs all left this way hears no `jobs: []` after them, a message per pool job saved.
   */
  left(location: string, agent: string, job: string, body: Record<string, unknown>): void {
    this.tell(agent, body);
    const told = this.told.get(location);
    const last = told?.get(agent);
    if (!told || !last) return;
    const jobs = last.jobs.filter((j) => j.job !== job);
    if (jobs.length === 0) told.delete(agent);
    else told.set(agent, { jobs, said: JSON.stringify(jobs) });
  }

  /** Unretained, without an id, on the agent's res topic (docs/architecture.md, Locations and pools). */
  tell(agent: string, body: Record<string, unknown>): void {
    publishJson(this.ctx, agentTopic(agent, 'res'), body).catch((err: unknown) =>
      this.ctx.log.error({ err, agent }, 'telling an agent about its pool job failed'),
    );
  }

  /** A pool job no device has taken yet, if the caller (its agent, or an admin) may see it. */
  async view(who: { kind: 'agent' | 'admin'; id: string }, job: string): Promise<JobView | undefined> {
    const entry = await poolEntry(this.ctx.db, job);
    if (!entry || (who.kind === 'agent' && entry.agent !== who.id)) return undefined;
    return this.waitingView(entry);
  }

  async waitingView(entry: PoolEntryRow): Promise<JobView | undefined> {
    return waitingJobView(entry, entry.state === 'waiting' ? await this.placeOf(entry) : undefined);
  }
}
