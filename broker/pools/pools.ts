// Locations' shared device pools (docs/architecture.md, Locations and pools): where a submit goes
// (a named device, a pool, or the agent's primary with the pool as fallback), leases of free pool
// devices, the FIFO pool queue with positions and ETAs, and the end of a lease when its job ends.
// A lease is a binding: the same compare-and-set, audit row and binding map as a claim, so the
// ACL sees the lessee exactly as it sees an owner, and a lease's end cuts it off the same way.
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { ErrorCode, type PoolCounts, ProtocolError } from '../../protocol/errors';
import { JOB_KINDS, type QrShowParams, isJobKind, parseJobParams } from '../../protocol/jobs';
import type { AgentRequestFor, Route } from '../../protocol/messages';
import { applyBindingChange } from '../claims';
import { appendAudit } from '../store/audit';
import type { Context } from '../context';
import type { SubmitResult } from '../jobs/job-rpc';
import { checkPayment } from '../jobs/payment-check';
import { isHeld, queueTtlMs } from '../jobs/submit';
import { type JobRow, type JobsDatabase, asRegistry } from '../jobs/schema';
import { type NewJob, insertJob, jobByKey, newJobId } from '../jobs/store';
import { isUniqueViolation } from '../store/db';
import { getHolder } from '../store/devices';
import type { BindingChange } from '../store/bindings';
import {
  anyWaiting,
  closeOrphanedLeases,
  decide,
  dueEntries,
  endLease,
  enqueue,
  idleLeases,
  locationsWaiting,
  type NewPoolEntry,
  oldestWaitingFor,
  poolEntry,
  poolEntryByKey,
  startLease,
  unassign,
} from '../store/leases';
import { isMember, locationsOf, poolSettingsOf } from '../store/locations';
import type { PoolEntryRow } from '../store/schema';
import type { JobView } from '../../protocol/rest';
import { Coalesced } from '../coalesced';
import { PoolMetrics } from './metrics';
import { type PoolDevice, PoolDeviceCache } from './pool-devices';
import { type PoolQueueItem, PoolQueue } from './pool-queue';
import { type Hold, Reservations } from './reservations';
import { WaitingLines } from './waiting-line';

declare module '../context' {
  interface LateParts {
    /** Locations' pools and their leases (startPools, after the job system). */
    pools: Pools;
  }
}

type Trx = Transaction<JobsDatabase>;
type Submit = AgentRequestFor<'submit'>;

/** What a submit answers: the job, and for a pool or primary submit where it went and why. */
export interface RoutedResult extends SubmitResult {
  device: string | null;
  pool?: string;
  route?: Route;
}

/** A lease written with its job, in one transaction. */
interface LeaseWithJob {
  lease: BindingChange;
  row: JobRow;
}

/** What a pool submit's write did: a lease (whose job may have started in it), or a queue entry. */
type LeaseOrQueued = (LeaseWithJob & { started: boolean }) | { queued: PoolEntryRow };

/**
 * A lease's job. Its queue has room: a pool device is free once its last lease ended, which needs
 * the device to have no unfinished job, unless the end was forced (and then the count stays). `cap`
 * is null where this transaction ended that lease itself (insertJob).
 */
async function insertLeaseJob(trx: Trx, j: NewJob, cap: number | null): Promise<JobRow> {
  const row = await insertJob(trx, j, cap);
  // Unreachable with a queue cap of at least 1; throwing rolls the lease back with it.
  if (row === 'full') throw new Error(`device ${j.device} had no room for its lease's job`);
  return row;
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export class Pools {
  readonly metrics: PoolMetrics;
  private readonly devices: PoolDeviceCache;
  private readonly draining = new Coalesced<string>(() => this.stopped);
  private readonly lingers = new Map<string, NodeJS.Timeout>();
  private readonly lines: WaitingLines;
  /** By location: pool submits whose queue insert has run and is not yet in the queue in memory (anyWaiting). */
  private readonly enqueuing = new Map<string, number>();
  private readonly queue: PoolQueue;
  /** Devices (`d:<id>`) and waiting entries (`e:<id>`) this node's writes are about to take. */
  private readonly reserved = new Reservations();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private stopped = false;

  constructor(private readonly ctx: Context) {
    this.metrics = new PoolMetrics(ctx.metrics.registry);
    this.devices = new PoolDeviceCache(ctx.db, !ctx.backends.sharedRegistry);
    this.lines = new WaitingLines(ctx.db, !ctx.backends.sharedRegistry);
    this.queue = new PoolQueue(ctx, this.lines, this.devices, this.metrics, () => this.stopped);
  }

  async start(): Promise<void> {
    this.ctx.events.on('jobFinal', (device, agent, _job, pool) => this.onJobEnded(device, agent, pool !== null));
    this.ctx.events.on('hello', (device) => this.onHello(device));
    // After a restart: leases whose job ended while the broker was down, and waiting jobs.
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.ctx.opts.jobSweepMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const t of this.lingers.values()) clearTimeout(t);
    await this.draining.idle();
    await this.queue.idle();
  }

  /** A device was placed, moved, switched mode or deleted: the pools are read again. */
  devicesChanged(): void {
    this.devices.placed();
  }

  // ---- where a submit goes

  async submit(agent: string, r: Submit): Promise<RoutedResult> {
    const named = [r.device, r.pool, r.primary].filter((x) => x !== undefined).length;
    if (named === 0) throw await this.badTarget(agent, 'a submit names its target: a device, a pool, or primary');
    let device = r.device;
    let fallback = r.fallback;
    if (r.primary === true) {
      if (r.device !== undefined) throw await this.badTarget(agent, 'name either a device or primary, not both');
      const settings = await poolSettingsOf(this.ctx.db, agent);
      if (settings.primary === null) throw await this.badTarget(agent, 'you have no primary device set');
      device = settings.primary;
      fallback ??= settings.fallback ?? undefined;
    }
    if (device !== undefined && r.pool !== undefined && fallback !== 'pool')
      throw await this.badTarget(agent, "name either a device or a pool (or both with fallback: 'pool')");
    if (device === undefined && fallback === 'pool') throw await this.badTarget(agent, "fallback: 'pool' needs a device or primary to fall back from");
    const job = {
      kind: r.kind,
      params: r.params,
      ...(r.ttl === undefined ? {} : { ttl: r.ttl }),
      ...(r.idempotencyKey === undefined ? {} : { idempotencyKey: r.idempotencyKey }),
    };
    if (r.idempotencyKey !== undefined) {
      const again = await this.repeat(agent, r.idempotencyKey, r.kind);
      if (again !== null) return again;
    }
    if (device === undefined) return this.poolSubmit(agent, r.pool!, 'pool', job);
    if (fallback !== 'pool') {
      const res = await this.ctx.jobs.requests.submit(agent, { device, ...job });
      return { ...res, device };
    }
    return this.hybrid(agent, device, r.pool, job);
  }

  /**
   * A repeated idempotency key answers with the pool job it made, wherever that job is now: still
   * waiting in the pool queue or on the device it was given. A key first used for a named device
   * is left to the device's own check, which knows which device that was.
   */
  private async repeat(agent: string, key: string, kind: string): Promise<RoutedResult | null> {
    const conflict = (id: string, was: string): ProtocolError =>
      new ProtocolError(ErrorCode.CONFLICT, `idempotencyKey was already used for job ${id} (${was})`, 'idempotencyKey');
    const row = await jobByKey(this.ctx.jobs.engine.db, agent, key);
    if (row !== undefined) {
      if (row.pool === null) return null;
      if (row.kind !== kind) throw conflict(row.id, `${row.kind} at ${row.pool}`);
      this.ctx.jobs.engine.metrics.submitted.inc({ outcome: 'repeat' });
      return { ...(await this.placed(row.id, row.device)), device: row.device, pool: row.pool, ...(row.route ? { route: row.route as Route } : {}) };
    }
    const entry = await poolEntryByKey(this.ctx.db, agent, key);
    if (entry === undefined) return null;
    if (entry.kind !== kind) throw conflict(entry.id, `${entry.kind} at ${entry.location}`);
    this.ctx.jobs.engine.metrics.submitted.inc({ outcome: 'repeat' });
    const view = await this.queue.waitingView(entry);
    return {
      job: entry.id,
      state: view?.state ?? 'queued',
      position: view?.position ?? null,
      eta: view?.eta ?? null,
      device: null,
      pool: entry.location,
      route: entry.route as Route,
    };
  }

  private async badTarget(agent: string, why: string): Promise<ProtocolError> {
    const [devices, pools, settings] = await Promise.all([this.ownedDevices(agent), locationsOf(this.ctx.db, agent), poolSettingsOf(this.ctx.db, agent)]);
    const list = (xs: string[]): string => (xs.length === 0 ? 'none' : xs.join(', '));
    return new ProtocolError(
      ErrorCode.BAD_TARGET,
      `${why}; nothing was queued. Your devices: ${list(devices)}; your pools: ${list(pools)}; primary: ${settings.primary ?? 'none'}`,
      'device',
      {
        options: { devices, pools, primary: settings.primary },
      },
    );
  }

  private async ownedDevices(agent: string): Promise<string[]> {
    const rows = await this.ctx.db.selectFrom('devices').select('id').where('agent_id', '=', agent).where('mode', '=', 'owned').orderBy('id').execute();
    return rows.map((x) => x.id);
  }

  /** The primary takes the job while it is online and not busy; otherwise the pool does, and says why. */
  private async hybrid(agent: string, device: string, pool: string | undefined, job: JobInput): Promise<RoutedResult> {
    if (this.ctx.bindings.agentOf(device) !== agent) throw new ProtocolError(ErrorCode.NOT_BOUND, `device ${device} is not bound to you`, 'device');
    const row = await this.ctx.db.selectFrom('devices').select(['location', 'mode']).where('id', '=', device).executeTakeFirst();
    const location = pool ?? row?.location ?? null;
    if (location === null) throw await this.badTarget(agent, `device ${device} has no location to fall back to; name a pool`);
    const online = this.ctx.presence.isOnline(device);
    const open = online ? await this.ctx.jobs.engine.openCount(device) : 0;
    if (online && open < this.ctx.opts.primaryBusyAt) {
      const res = await this.ctx.jobs.requests.submit(agent, { device, ...job, via: { pool: null, route: 'primary' } });
      return { ...res, device, route: 'primary' };
    }
    return this.poolSubmit(agent, location, online ? 'primary-busy' : 'primary-offline', job);
  }

  // ---- pool submits

  /** How the capable devices of a pool stand now (a pool device that is bound is leased). */
  private counts(location: string, capable: PoolDevice[]): PoolCounts {
    let online = 0;
    let busy = 0;
    for (const d of capable) {
      if (!this.ctx.presence.isOnline(d.id)) continue;
      online++;
      if (this.ctx.bindings.agentOf(d.id) !== null) busy++;
    }
    return { location, online, busy, offline: capable.length - online };
  }

  private async poolSubmit(agent: string, location: string, route: Route, job: JobInput): Promise<RoutedResult> {
    const { ctx } = this;
    ctx.backends.health.assertAvailable('submit a job');
    // Membership first: an agent outside the location learns nothing about it, not even whether it exists.
    if (!(await isMember(ctx.db, agent, location))) throw new ProtocolError(ErrorCode.FORBIDDEN, `you do not belong to location ${location}`, 'pool');
    if (!isJobKind(job.kind))
      throw new ProtocolError(ErrorCode.UNSUPPORTED, `unknown job kind '${job.kind}' (known: ${Object.keys(JOB_KINDS).join(', ')})`, 'kind');
    let devices = await this.devices.of(location);
    let capable = devices.filter((d) => d.caps.includes(job.kind));
    let counts = this.counts(location, capable);
    if (counts.online === 0) {
      // A refusal is read from the registry, not from memory that may predate a placement.
      this.devices.forget(location);
      devices = await this.devices.of(location);
      capable = devices.filter((d) => d.caps.includes(job.kind));
      counts = this.counts(location, capable);
    }
    if (capable.length === 0) {
      const runs = [...new Set(devices.flatMap((d) => d.caps))];
      throw new ProtocolError(
        ErrorCode.UNSUPPORTED,
        `no device in the pool at ${location} runs '${job.kind}' (${devices.length === 0 ? 'the pool has no devices' : `its devices run: ${runs.join(', ') || 'nothing announced yet'}`})`,
        'kind',
      );
    }
    const params = parseJobParams(job.kind, job.params);
    if (job.kind === 'qr.show') checkPayment(ctx, params as QrShowParams);
    if (counts.online === 0) {
      this.metrics.noDevice.inc({ location: this.metrics.location(location) });
      throw new ProtocolError(
        ErrorCode.NO_DEVICE_AVAILABLE,
        `no device at ${location} can take '${job.kind}' now: all ${counts.offline} that run it are offline`,
        'pool',
        { counts },
      );
    }
    const now = ctx.now();
    const via = { pool: location, route };
    // Linger: the agent's own idle lease here takes its next job.
    for (const d of capable) {
      if (ctx.bindings.agentOf(d.id) !== agent || !ctx.presence.isOnline(d.id)) continue;
      if ((await ctx.jobs.engine.openCount(d.id)) > 0) continue;
      this.clearLinger(d.id);
      const res = await ctx.jobs.requests.submit(agent, { device: d.id, ...job, via });
      return { ...res, device: d.id, pool: location, route };
    }
    const id = newJobId();
    const key = job.idempotencyKey ?? null;
    const entry = {
      id,
      location,
      agent,
      kind: job.kind,
      params: JSON.stringify(params),
      hold: isHeld(job.kind, params),
      ttlMs: queueTtlMs(params, job.ttl, ctx.opts.jobTtlMs, now),
      route,
      now,
      idempotencyKey: key,
    };
    const free = shuffle(this.freeOf(capable));
    return this.reserved.with((taking) => this.leaseOrEnqueue(agent, location, route, job, entry, free, taking));
  }

  private async leaseOrEnqueue(
    agent: string,
    location: string,
    route: Route,
    job: JobInput,
    entry: NewPoolEntry,
    free: PoolDevice[],
    taking: Hold,
  ): Promise<RoutedResult> {
    const { ctx } = this;
    const { id, now } = entry;
    const key = entry.idempotencyKey;
    const via = { pool: location, route };
    const e = ctx.jobs.engine;
    // Counted from the moment its insert runs until the queue in memory holds it, or the write
    // ended another way (it failed, or a failed batch's retry leased instead).
    let counted = false;
    let outcome: LeaseOrQueued | RoutedResult;
    try {
      outcome = await this.tx(async (trx): Promise<LeaseOrQueued> => {
        // FIFO: while anyone waits here, a new job queues behind them.
        if (free.length > 0 && !(await this.anyWaiting(trx, location))) {
          for (const d of free) {
            if (!this.reserved.take(`d:${d.id}`, taking)) continue;
            const change = await startLease(asRegistry(trx), { lease: randomUUID(), device: d.id, agent, location, job: id, route, now });
            if (change === null) continue;
            const row = await insertLeaseJob(
              trx,
              { id, device: d.id, agent, kind: job.kind, params: entry.params, hold: entry.hold, ttlMs: entry.ttlMs, idempotencyKey: key, now, via },
              ctx.opts.queueCap,
            );
            // As a submit to a free owned device: the job starts in the commit that writes it, so its
            // dispatch waits for one commit, not two.
            const started = e.freeInWrite(d.id) && (await e.startIn(trx, row, now));
            return { lease: change, row, started };
          }
        }
        // A batch that failed runs each write again alone: this one is counted once.
        if (!counted) this.enqueuing.set(location, (this.enqueuing.get(location) ?? 0) + 1);
        counted = true;
        return { queued: await enqueue(asRegistry(trx), entry) };
      }).catch(async (err: unknown) => {
        // The same key raced in from another submit (on this node or another): answer as a repeat.
        const again = key !== null && isUniqueViolation(err) ? await this.repeat(agent, key, job.kind) : null;
        if (again === null) throw err;
        return again;
      });
      if ('queued' in outcome) this.lines.added(outcome.queued);
    } finally {
      if (counted) this.enqueuing.set(location, this.enqueuing.get(location)! - 1);
    }
    if ('job' in outcome) return outcome;
    if ('lease' in outcome) {
      this.leased(outcome.lease, location, outcome.row, outcome.started ? now : null);
      this.reserved.release(taking);
      return { ...(await this.placed(id, outcome.lease.device)), device: outcome.lease.device, pool: location, route };
    }
    this.reserved.release(taking);
    ctx.log.debug({ job: id, location, agent }, 'job waits in the pool queue');
    await this.drain(location);
    // On a single node the queue in memory says whether it still waits; otherwise, or once it left, the registry does.
    let place = this.lines.inMemory ? await this.queue.placeOf(outcome.queued) : undefined;
    if (place === undefined) {
      const now2 = await poolEntry(ctx.db, id);
      if (now2?.state === 'assigned' && now2.device !== null) return { ...(await this.placed(id, now2.device)), device: now2.device, pool: location, route };
      place = now2 === undefined ? undefined : await this.queue.placeOf(now2);
    }
    return { job: id, state: 'queued', position: place?.position ?? null, eta: place?.eta ?? null, device: null, pool: location, route };
  }

  /**
   * Whether any job waits at the location, as a write sees it. On a single node once the queue is
   * in memory: an entry there, or one whose insert has run in a commit not yet applied to it (the
   * same group commit, or one just committed). An entry that left the queue in a commit not yet
   * applied still counts, so the answer errs towards queueing, and the drain that follows every
   * queued submit gives it a free device. Otherwise the registry answers.
   */
  private async anyWaiting(trx: Trx, location: string): Promise<boolean> {
    const line = this.lines.loaded(location);
    if (line === undefined) return anyWaiting(asRegistry(trx), location);
    return line.length > 0 || (this.enqueuing.get(location) ?? 0) > 0;
  }

  /** The pool devices among these that are free (unbound, not being taken) and online now, by this node's memory. */
  private freeOf(devices: readonly PoolDevice[]): PoolDevice[] {
    return devices.filter((d) => this.ctx.bindings.agentOf(d.id) === null && !this.reserved.heldByOther(`d:${d.id}`) && this.ctx.presence.isOnline(d.id));
  }

  /** A write: the group commit on SQLite; on PostgreSQL its own transaction, gated like claims. */
  private tx<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    const e = this.ctx.jobs.engine;
    return !this.ctx.backends.sharedRegistry ? e.write(fn) : this.ctx.claimGate.run(() => e.db.transaction().execute(fn));
  }

  /**
   * A lease committed with its job: the binding map and notifications first, so the job's cmd (if
   * it started in that commit, at `startedAt`) goes out with the lessee already bound; then the
   * device's open jobs.
   */
  private leased(change: BindingChange, location: string, job: JobRow, startedAt: number | null): void {
    applyBindingChange(this.ctx, change);
    this.ctx.jobs.engine.placed(job, startedAt);
    this.metrics.leasesStarted.inc({ location: this.metrics.location(location) });
    this.ctx.log.info({ device: change.device, agent: change.to, location, version: change.version }, 'leased');
  }

  /** The job's place on the device it was given. */
  private async placed(job: string, device: string): Promise<SubmitResult> {
    const e = this.ctx.jobs.engine;
    const { open, slots } = await e.layout(device);
    const row = open.find((j) => j.id === job);
    const slot = slots.get(job);
    if (!row || !slot) {
      const done = await e.db.selectFrom('jobs').select('state').where('id', '=', job).executeTakeFirst();
      return { job, state: done?.state ?? 'queued', position: null, eta: null };
    }
    return { job, state: row.state, position: slot.position, eta: Math.round(slot.eta) };
  }

  // ---- the pool queue

  /**
   * Gives waiting jobs free devices, oldest first. A job no free device can run keeps its place
   * while younger jobs of other kinds go ahead. One drain per location at a time on this node;
   * across nodes the conditional updates decide, so a job is given one device and a device one job.
   */
  drain(location: string): Promise<void> {
    return this.draining.run(location, () =>
      this.drainOnce(location).catch((err: unknown) => this.ctx.log.error({ err, location }, 'draining the pool queue failed')),
    );
  }

  private async drainOnce(location: string): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      // Free devices first: with none (most of a busy pool's drains) no entry is read.
      const free = shuffle(this.freeOf(await this.devices.of(location)));
      if (free.length === 0) break;
      let progressed = false;
      for await (const entry of this.lines.walk(location, free.length)) {
        if (free.length === 0) break;
        if (this.reserved.heldByOther(`e:${entry.id}`)) continue;
        for (;;) {
          const i = free.findIndex((d) => d.caps.includes(entry.kind));
          if (i < 0) break;
          const d = free.splice(i, 1)[0]!;
          const got = await this.assign(entry, d.id);
          if (got === 'taken') continue;
          progressed = got === 'assigned' || progressed;
          break;
        }
      }
      if (!progressed) break;
    }
    this.queue.publish(location);
  }

  private assign(entry: PoolEntryRow, device: string): Promise<'assigned' | 'gone' | 'taken'> {
    return this.reserved.with((taking) => this.assignHolding(entry, device, taking));
  }

  private async assignHolding(entry: PoolEntryRow, device: string, taking: Hold): Promise<'assigned' | 'gone' | 'taken'> {
    let now = 0;
    const outcome = await this.tx((trx) => {
      now = this.ctx.now();
      return this.take(trx, entry, device, now, taking);
    });
    if (outcome === 'taken') this.devices.forget(entry.location);
    // Gone: another step decided the entry first (and keeps the queue in memory current itself).
    if (outcome === 'gone') this.lines.removed(entry.location, entry.id);
    if (typeof outcome === 'string') return outcome;
    this.assigned(entry, outcome.lease, outcome.row, now, null);
    return 'assigned';
  }

  /**
   * A waiting entry takes a device, in the caller's transaction: the entry's conditional UPDATE,
   * the lease's, and the job's insert under the entry's id. `now` is read inside that transaction,
   * after the read that chose the entry, never before the claim gate's wait: an entry chosen after
   * an older one's decision committed then records a later decided_at, so decided_at follows the
   * order decisions committed in (docs/architecture.md, Testing approach). `handover`: this
   * transaction has just ended the device's lease, which needed it to have no unfinished job.
   */
  private async take(trx: Trx, entry: PoolEntryRow, device: string, now: number, taking: Hold, handover = false): Promise<LeaseWithJob | 'gone' | 'taken'> {
    const reg = asRegistry(trx);
    this.reserved.take(`e:${entry.id}`, taking);
    this.reserved.take(`d:${device}`, taking);
    if (!(await decide(reg, entry.id, 'assigned', now, device))) return 'gone';
    const change = await startLease(reg, { lease: randomUUID(), device, agent: entry.agent, location: entry.location, job: entry.id, route: entry.route, now });
    if (change === null) {
      await unassign(reg, entry.id);
      return 'taken';
    }
    const ttlMs = Math.max(1, Number(entry.expires_at) - now);
    const row = await insertLeaseJob(
      trx,
      {
        id: entry.id,
        device,
        agent: entry.agent,
        kind: entry.kind,
        params: entry.params,
        hold: Number(entry.hold) === 1,
        ttlMs,
        idempotencyKey: entry.idempotency_key,
        now,
        via: { pool: entry.location, route: entry.route },
      },
      handover ? null : this.ctx.opts.queueCap,
    );
    return { lease: change, row };
  }

  /** A waiting entry's lease committed: the binding map, the metrics, and its agent is told. */
  private assigned(entry: PoolEntryRow, change: BindingChange, job: JobRow, now: number, startedAt: number | null): void {
    this.lines.removed(entry.location, entry.id);
    this.leased(change, entry.location, job, startedAt);
    this.metrics.waitSeconds.observe({ location: this.metrics.location(entry.location) }, (now - Number(entry.queued_at)) / 1000);
    this.queue.left(entry.location, entry.agent, entry.id, {
      event: 'pool.assigned',
      job: entry.id,
      location: entry.location,
      device: change.device,
      route: entry.route,
    });
  }

  /** Positions and ETAs of the location's waiting jobs (see PoolQueue). */
  queueOf(location: string): Promise<(PoolQueueItem & { agent: string; queuedAt: number })[]> {
    return this.queue.of(location);
  }

  /** A pool job no device has taken yet, if the caller (its agent, or an admin) may see it. */
  view(who: { kind: 'agent' | 'admin'; id: string }, job: string): Promise<JobView | undefined> {
    return this.queue.view(who, job);
  }

  /**
   * Its agent or an admin cancels a job still waiting in a pool queue (an admin's cancel is
   * audited as job.cancel); false if it is not one.
   */
  async cancelWaiting(who: { kind: 'agent' | 'admin'; id: string }, job: string): Promise<boolean> {
    // Every cancel looks here first, so the outage answer must come from here too.
    this.ctx.backends.health.assertAvailable('cancel a job');
    const entry = await poolEntry(this.ctx.db, job);
    if (!entry || (who.kind === 'agent' && entry.agent !== who.id) || entry.state !== 'waiting') return false;
    const now = this.ctx.now();
    const done = await this.tx(async (trx) => {
      if (!(await decide(asRegistry(trx), job, 'cancelled', now))) return false;
      if (who.kind === 'admin')
        await appendAudit(asRegistry(trx), {
          at: now,
          actor: `admin:${who.id}`,
          action: 'job.cancel',
          agent: entry.agent,
          detail: { job, pool: entry.location },
        });
      return true;
    });
    if (!done) return false;
    this.lines.removed(entry.location, job);
    if (who.kind === 'admin')
      this.queue.left(entry.location, entry.agent, job, {
        event: 'pool.ended',
        job,
        location: entry.location,
        state: 'cancelled',
        error: { code: 'CANCELLED', message: `cancelled by admin:${who.id}` },
      });
    this.queue.publish(entry.location);
    return true;
  }

  // ---- lease ends

  /** `leased`: the job came through a pool, so its device is known to be leased. */
  private onJobEnded(device: string, agent: string, leased: boolean): void {
    if (this.ctx.bindings.agentOf(device) !== agent || this.stopped) return;
    const linger = this.ctx.opts.leaseLingerMs;
    if (linger === 0) {
      void this.endLease(device, agent, leased);
      return;
    }
    this.clearLinger(device);
    const t = setTimeout(() => {
      this.lingers.delete(device);
      void this.endLease(device, agent, leased);
    }, linger);
    t.unref();
    this.lingers.set(device, t);
  }

  private clearLinger(device: string): void {
    const t = this.lingers.get(device);
    if (t) clearTimeout(t);
    this.lingers.delete(device);
  }

  /**
   * Ends the agent's lease of the device if the device has no unfinished job (the conditional
   * UPDATE decides), in the device's order after its last snapshot went out, so the agent sees how
   * its job ended. In the same transaction an online device goes to the oldest waiting job of its
   * location that it can run, and on a single node that job starts in it too: the handover costs
   * one commit, and the binding goes from one lessee straight to the next.
   */
  private async endLease(device: string, agent: string, leased: boolean): Promise<void> {
    const { ctx } = this;
    const e = ctx.jobs.engine;
    try {
      if (!leased) {
        // A job that named its device: most run on owned devices, which are never leased and need
        // no read; a pool device may be leased to the agent, and the registry says whether.
        if (!(await this.devices.mayBeLeased(device))) return;
        const row = await getHolder(ctx.db, device);
        if (row?.agent_id !== agent || row.bound_via !== 'lease') return;
      }
      const handover = await e.run(e.queue(device), () => this.reserved.with((taking) => this.endLeaseInOrder(device, agent, taking)));
      if (handover === null) return;
      if (handover.handedOver) this.queue.publish(handover.location);
      // Another write took that entry meanwhile, and a younger one may still suit the device; or
      // the queue in memory did not yet hold a job that queued in the same commit.
      else if (handover.lost || this.lines.inMemory) await this.drain(handover.location);
    } catch (err) {
      ctx.log.error({ err, device, agent }, 'ending a lease failed');
    }
  }

  /** endLease's step in the device's order: the write, then the binding map and the device's jobs. */
  private async endLeaseInOrder(device: string, agent: string, taking: Hold): Promise<{ location: string; handedOver: boolean; lost: boolean } | null> {
    const { ctx } = this;
    const e = ctx.jobs.engine;
    if (this.stopped) return null;
    const online = ctx.presence.isOnline(device);
    const startNow = online && (await e.freeForNext(device));
    const now = ctx.now();
    const outcome = await this.tx(async (trx) => {
      const ended = await endLease(asRegistry(trx), { device, agent, reason: 'job-ended', actor: 'broker', now });
      if (ended === null) return null;
      const { row } = ended.change;
      if (!online || row.mode !== 'pool' || row.location === null) return { ended, next: null, lost: false };
      const entry = await this.oldestWaiting(trx, row.location, JSON.parse(row.caps) as string[], taking);
      if (entry === undefined) return { ended, next: null, lost: false };
      const at = ctx.now();
      const taken = await this.take(trx, entry, device, at, taking, true);
      if (typeof taken === 'string') return { ended, next: null, lost: true };
      const started = startNow && (await e.startIn(trx, taken.row, at));
      return { ended, next: { entry, ...taken, at, started }, lost: false };
    });
    if (outcome === null) return null;
    const { ended, next } = outcome;
    const location = ended.lease?.location ?? ended.change.row.location;
    if (ended.lease) this.queue.leaseLasted(ended.lease.location, now - Number(ended.lease.started_at));
    if (location !== null) {
      this.metrics.leasesEnded.inc({ location: this.metrics.location(location), reason: 'job-ended' });
      ctx.log.info({ device, agent, location, version: ended.change.version }, 'lease ended');
    }
    if (next !== null) {
      // One change from the old lessee to the new: the ended lessee has no unfinished job here.
      this.assigned(next.entry, { ...next.lease, from: agent }, next.row, next.at, next.started ? next.at : null);
      return { location: next.entry.location, handedOver: true, lost: false };
    }
    applyBindingChange(ctx, ended.change);
    return location === null ? null : { location, handedOver: false, lost: outcome.lost };
  }

  /**
   * The oldest waiting entry of the location that a device running these kinds can take, and
   * that no other write of this node is taking: from memory on a single node once it holds the
   * queue (a job queued in the same group commit is not there yet; the drain after the commit
   * finds it), else from the registry.
   */
  private async oldestWaiting(trx: Trx, location: string, kinds: string[], taking: Hold): Promise<PoolEntryRow | undefined> {
    const line = this.lines.loaded(location);
    if (line === undefined) return oldestWaitingFor(asRegistry(trx), location, kinds);
    return line.find((e) => kinds.includes(e.kind) && this.reserved.take(`e:${e.id}`, taking));
  }

  private onHello(device: string): void {
    // Most hellos come from devices outside every pool: on a single node they read nothing.
    this.devices
      .mayBeLeased(device)
      .then((pooled) => (pooled ? this.ctx.db.selectFrom('devices').select(['location', 'mode']).where('id', '=', device).executeTakeFirst() : undefined))
      .then((row) => {
        if (row?.mode !== 'pool' || row.location === null) return;
        // A hello may announce other capabilities.
        this.devices.forget(row.location);
        return this.drain(row.location);
      })
      .catch((err: unknown) => this.ctx.log.error({ err, device }, 'draining the pool after a hello failed'));
  }

  /**
   * Every sweep: waiting jobs past their ttl expire; leases whose job ended and whose linger
   * passed end (their timers are gone after a restart or on a node that died); lease rows whose
   * device was released by force are closed; every location with waiting jobs is drained, so a
   * device freed on another node is used here too.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    const { ctx } = this;
    try {
      // Placements made on other nodes of a cluster reach this node's pools from here.
      this.devices.forget();
      const now = ctx.now();
      for (const e of await dueEntries(ctx.db, now)) {
        if (!(await this.tx((trx) => decide(asRegistry(trx), e.id, 'expired', now)))) continue;
        this.lines.removed(e.location, e.id);
        this.queue.left(e.location, e.agent, e.id, {
          event: 'pool.ended',
          job: e.id,
          location: e.location,
          state: 'expired',
          error: { code: 'EXPIRED', message: 'waited in the pool queue past its ttl; no device took it' },
        });
        this.queue.publish(e.location);
      }
      for (const l of await idleLeases(ctx.db, now - ctx.opts.leaseLingerMs - 1_000)) {
        if (!this.lingers.has(l.device)) await this.endLease(l.device, l.agent, true);
      }
      const orphans = await closeOrphanedLeases(ctx.db, now);
      if (orphans > 0) ctx.log.warn({ orphans }, 'closed lease rows whose device was released by force');
      await Promise.all((await locationsWaiting(ctx.db)).map((l) => this.drain(l)));
    } catch (err) {
      ctx.log.error({ err }, 'pool sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}

interface JobInput {
  kind: string;
  params: unknown;
  ttl?: number;
  idempotencyKey?: string;
}

export async function startPools(ctx: Context): Promise<Pools> {
  const pools = new Pools(ctx);
  ctx.pools = pools;
  await pools.start();
  return pools;
}
