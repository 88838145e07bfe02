// The job engine (docs/architecture.md, Jobs): one entry point per thing that happens to the job
// system, each run in the device's order. It serves the dispatcher's operations (JobRpc) and the
// device's events; what each does lives in its own module: dispatch, control, acks, endings,
// device-link, binding-change, job-data, submit, job-actions, with open-jobs and snapshot as the
// state they share.
import type { Ack } from '../../protocol/messages';
import type { JobView } from '../../protocol/rest';
import type { BindingChange } from '../store/bindings';
import type { DeviceProfile } from '../store/devices';
import type { Context } from '../context';
import { Acks } from './acks';
import { BindingChanges } from './binding-change';
import { Control } from './control';
import { DeviceCmd } from './device-cmd';
import { DeviceLink } from './device-link';
import { type DeviceQueue, clearTimer } from './device-queue';
import { Dispatch } from './dispatch';
import type { EngineParts } from './engine-parts';
import { Endings, expiredInQueue } from './endings';
import { JobActions } from './job-actions';
import { JobCore, type Trx } from './job-core';
import { JobData } from './job-data';
import type { CancelResult, JobRpc, SubmitInput, SubmitResult, Who } from './job-rpc';
import type { JobMetrics } from './metrics';
import { OpenJobs } from './open-jobs';
import type { JobRow, JobsDb } from './schema';
import { type Layout, Snapshots } from './snapshot';
import { dueDevices, dueJobs } from './store';
import { Submits } from './submit';

export class JobEngine implements JobRpc {
  readonly db: JobsDb;
  readonly metrics: JobMetrics;
  private readonly core: JobCore;
  private readonly open: OpenJobs;
  private readonly snapshot: Snapshots;
  private readonly endings: Endings;
  private readonly dispatch: Dispatch;
  private readonly link: DeviceLink;
  private readonly acks: Acks;
  private readonly data: JobData;
  private readonly bindings: BindingChanges;
  private readonly submits: Submits;
  private readonly actions: JobActions;

  constructor(ctx: Context) {
    const core = (this.core = new JobCore(ctx));
    this.db = core.db;
    this.metrics = core.metrics;
    const open = (this.open = new OpenJobs(core));
    const snapshot = (this.snapshot = new Snapshots(core, open));
    const cmd = new DeviceCmd(core);
    const endings = (this.endings = new Endings(core, open, snapshot, cmd));
    const dispatch = (this.dispatch = new Dispatch(core, open, snapshot, endings, cmd));
    const parts: EngineParts = { core, open, snapshot, cmd, endings, dispatch };
    this.link = new DeviceLink(parts);
    this.acks = new Acks(parts);
    this.data = new JobData(core);
    this.bindings = new BindingChanges(parts);
    this.submits = new Submits(parts);
    this.actions = new JobActions(parts, new Control(parts));
  }

  /** In a cluster, other nodes send this node the operations of the devices it dispatches. */
  serve(): void {
    const { lease } = this.core.ctx;
    lease.handle('release', (device) => this.release(device));
    lease.handle('settle', (device) => this.settle(device));
    lease.handle('pump', (device) => this.pump(device));
    lease.handle('binding', (change) => this.binding(change));
    lease.handle('submit', (agent, s) => this.submit(agent, s));
    lease.handle('cancel', (who, id) => this.cancel(who, id));
    lease.handle('complete', (who, id) => this.complete(who, id));
    lease.handle('move', (who, id, position) => this.move(who, id, position));
  }

  /** A write in the next group commit; resolves once it is durable. */
  write<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.core.write(fn);
  }

  // ---- what the device and time do

  /** After a restart, settles what this broker left on devices, and publishes every queue again. */
  recover(): Promise<void> {
    return this.link.recover();
  }

  onHello(device: string, profile: DeviceProfile | null): void {
    const q = this.core.queue(device);
    this.snapshot.fire(q, 'hello', () => this.link.ready(q, profile));
  }

  onDisconnect(device: string, reason: string): void {
    const q = this.core.peek(device);
    if (!q || (!q.ready && q.active.size === 0)) return;
    this.snapshot.fire(q, 'device dropped', () => this.link.dropped(q, reason));
  }

  onAck(device: string, ack: Ack): void {
    const q = this.core.queue(device);
    this.snapshot.fire(q, 'ack', () => this.acks.apply(q, ack));
  }

  onEvt(device: string, stream: string, payload: Buffer): void {
    const q = this.core.peek(device);
    if (!q) return;
    // The holder as the event arrived; the job it belongs to once the device's earlier messages
    // are applied: an event sent right after the device's 'accepted' often arrives before the
    // broker has marked that job running, and was dropped from the job's data.
    const holder = this.core.ctx.bindings.agentOf(device);
    const now = this.core.ctx.now();
    this.snapshot.fire(q, 'evt', async () => this.data.file(q, holder, now, stream, payload));
  }

  /** Ends the queued jobs whose ttl passed; resolves once each device's expiry is in its order. */
  async expireDue(now: number): Promise<void> {
    for (const device of await dueDevices(this.db, now)) {
      const q = this.core.queue(device);
      this.snapshot.fire(q, 'expiry', async () => {
        for (const job of await dueJobs(this.db, q.id, now)) await this.endings.endQueued(q, job, 'expired', expiredInQueue(job));
      });
    }
  }

  // ---- the dispatcher's operations (JobRpc)

  release(device: string): Promise<void> {
    return this.inOrder(device, (q) => this.link.dropped(q, 'reconnected'));
  }

  settle(device: string): Promise<void> {
    return this.inOrder(device, (q) => this.link.settleLeftovers(q, 'broker-restart'));
  }

  pump(device: string): Promise<void> {
    return this.inOrder(device, (q) => this.dispatch.pump(q));
  }

  binding(change: BindingChange): Promise<void> {
    return this.inOrder(change.device, (q) => this.bindings.apply(q, change));
  }

  submit(agent: string, s: SubmitInput): Promise<SubmitResult> {
    return this.submits.submit(agent, s);
  }

  cancel(who: Who, id: string): Promise<CancelResult> {
    return this.actions.cancel(who, id);
  }

  complete(who: Who, id: string): Promise<JobView> {
    return this.actions.complete(who, id);
  }

  move(who: Who, id: string, position: number): Promise<{ job: string; position: number }> {
    return this.actions.move(who, id, position);
  }

  // ---- for the rest of the broker

  /** Position and ETA of every unfinished job of the device. */
  layout(device: string): Promise<Layout> {
    return this.snapshot.layout(this.core.queue(device));
  }

  view(row: JobRow): Promise<JobView> {
    return this.snapshot.view(row);
  }

  openCount(device: string): Promise<number> {
    return this.open.count(this.core.queue(device));
  }

  /** Publishes the device's snapshot again, in the device's order. */
  republish(device: string): Promise<void> {
    return this.snapshot.republish(this.core.queue(device));
  }

  /**
   * Whether a job a pool is about to write on the device (a lease's job) can start in that same
   * write: as for a submit, the device is ready with a free slot and nothing queued, on a single
   * node. Asked in the device's order (run), before the write.
   */
  freeForNext(device: string): Promise<boolean> {
    return this.dispatch.freeForNext(this.core.queue(device));
  }

  /**
   * freeForNext for a pool's write that chooses its device inside the transaction: from memory, so
   * false (the job waits for pump's own commit) when the device's open jobs were never read here.
   */
  freeInWrite(device: string): boolean {
    return this.dispatch.freeNow(this.core.queue(device)) === true;
  }

  /** Starts, inside the pool's write, the job it has just inserted; false if it could not. */
  async startIn(trx: Trx, row: JobRow, now: number): Promise<boolean> {
    return (await this.dispatch.startIn(trx, this.core.queue(row.device), row, now)) === 'ok';
  }

  /**
   * A job a pool wrote on the device has committed: the device's open jobs take it, and one
   * started in that write goes out (`startedAt` is the write's time). Safe outside the device's
   * order for a job that did not start: it only adds a committed row.
   */
  placed(row: JobRow, startedAt: number | null): void {
    const q = this.core.queue(row.device);
    this.open.queued(q, row);
    if (startedAt !== null) this.dispatch.started(q, row, startedAt);
    this.snapshot.markChanged(q);
  }

  queue(device: string): DeviceQueue {
    return this.core.queue(device);
  }

  /** Runs fn in the device's order (its snapshot follows once the device's steps settle). */
  run<T>(q: DeviceQueue, fn: () => Promise<T>): Promise<T> {
    return this.snapshot.run(q, fn);
  }

  async stop(): Promise<void> {
    this.core.stopped = true;
    const queues = [...this.core.all()];
    for (const q of queues) for (const a of q.active.values()) clearTimer(a);
    await Promise.all(queues.map((q) => q.idle()));
    await this.core.writesIdle();
  }

  private inOrder(device: string, fn: (q: DeviceQueue) => Promise<void>): Promise<void> {
    const q = this.core.queue(device);
    return this.run(q, () => fn(q));
  }
}
