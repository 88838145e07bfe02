// What devices and the rest of the broker tell the job system: acks, data streams, hello and
// drops, binding changes, and the passing of time (TTL expiry). Also the recovery after a restart.
// Each turns into steps in the device's order on the engine.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { JOB_KINDS, isJobKind } from '../../protocol/jobs';
import { type Ack, type Status, eventJob, parseAck } from '../../protocol/messages';
import { OTA_JOB_PREFIX } from '../../protocol/ota';
import { parseJson } from '../../protocol/validate';
import type { Context } from '../context';
import type { BindingChange } from '../store/bindings';
import { type Active, type DeviceQueue, clearTimer } from './device-queue';
import { type JobEngine, expiredInQueue, activeOf, cancelError, unbound } from './engine';
import {
  ACTIVE_STATES,
  activeJobs,
  addData,
  addEvent,
  dataStats,
  dueDevices,
  dueJobs,
  getJob,
  openJobs,
  patchJob,
  queuedDevices,
  transition,
  transitionSet,
} from './store';
import type { JobError } from './view';

/** Device data kept per job run; beyond it, data is dropped and the history says so. */
export const JOB_DATA_MAX_ROWS = 10_000;
export const JOB_DATA_MAX_BYTES = 4 * 1024 * 1024;

/** Maps a device's error text ("BUSY: job x is running") to a code and message. */
export function deviceError(text: string | undefined, fallback: string): JobError {
  const m = /^([A-Z][A-Z_]{1,31}):\s*(.*)$/s.exec(text ?? '');
  return m ? { code: m[1]!, message: m[2]! } : { code: fallback, message: text ?? 'the device gave no reason' };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function encodePayload(payload: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  try {
    return { text: UTF8.decode(payload), encoding: 'utf8' };
  } catch {
    return { text: payload.toString('base64'), encoding: 'base64' };
  }
}

export class DeviceEvents {
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly ctx: Context,
    private readonly engine: JobEngine,
  ) {}

  /**
   * After a restart nothing is on any device as far as this broker knows: jobs left dispatched
   * or running follow the interrupted rule, pending cancels and completions take effect.
   */
  async recover(): Promise<void> {
    const e = this.engine;
    const now = this.ctx.now();
    const devices = new Set<string>();
    for (const row of await activeJobs(e.db)) {
      // In a cluster, jobs of a device that another live node dispatches are that node's.
      if (!(await this.ctx.lease.orphaned(row.device))) continue;
      devices.add(row.device);
      await this.settleDropped(e.queue(row.device), activeOf(row), now, 'broker-restart');
    }
    for (const device of await queuedDevices(e.db)) devices.add(device);
    await Promise.all([...devices].map((d) => e.republish(e.queue(d))));
  }

  start(): void {
    const { events } = this.ctx;
    const e = this.engine;
    events.on('hello', (device) => e.fire(e.queue(device), 'hello', () => this.deviceReady(e.queue(device))));
    events.on('presence', (device, status) => this.onPresence(device, status));
    events.on('ack', (device, payload) => this.onAck(device, payload));
    events.on('evt', (device, stream, payload) => this.onEvt(device, stream, payload));
    events.on('binding', (change) => this.onBinding(change));
    const inOrder = (device: string, fn: (q: DeviceQueue) => Promise<void>): Promise<void> => e.run(e.queue(device), () => fn(e.queue(device)));
    const lease = this.ctx.lease;
    lease.handle('release', (device) => inOrder(device, (q) => this.deviceDropped(q, 'reconnected')));
    lease.handle('settle', (device) => inOrder(device, (q) => this.settleLeftovers(q, 'broker-restart')));
    lease.handle('pump', (device) => inOrder(device, (q) => e.pump(q)));
    lease.handle('binding', (change) => this.applyBinding(change));
    this.sweepTimer = setInterval(() => this.sweep(), this.ctx.opts.jobSweepMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  private onAck(device: string, payload: Buffer): void {
    let ack: Ack;
    try {
      ack = parseAck(parseJson(payload.toString('utf8')));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.ctx.log.warn({ device, code: err.code, field: err.field, reason: err.message }, 'malformed ack ignored');
      return;
    }
    // Updates answer to their rollout (broker/ota/), not to the job queue.
    if (ack.job.startsWith(OTA_JOB_PREFIX)) return;
    const q = this.engine.queue(device);
    this.engine.fire(q, 'ack', () => this.applyAck(q, ack));
  }

  private async applyAck(q: DeviceQueue, ack: Ack): Promise<void> {
    const e = this.engine;
    const a = q.active.get(ack.job);
    if (!a) return this.lateAck(q, ack);
    const now = this.ctx.now();
    switch (ack.state) {
      case 'accepted':
      case 'progress': {
        const progress = ack.progress === undefined ? undefined : Math.round(ack.progress);
        if (a.state === 'dispatched') {
          a.state = 'running';
          if (a.control === null) clearTimer(a);
          e.metrics.dispatchLatency.observe((now - a.startedAt) / 1000);
          if (a.retries > 0) a.data = { ...(await dataStats(e.db, a.id)), truncated: false };
          const patch = progress === undefined ? {} : { progress };
          const moved = await e.write((trx) => transition(trx, a.id, ['dispatched'], 'running', now, patch, { attempt: a.attempt }));
          if (moved) e.changed(q, a.id, transitionSet('running', now, patch));
          else e.forget(q);
          q.dirty = true;
        } else if (progress !== undefined) {
          await e.write((trx) => patchJob(trx, a.id, { progress }, now));
          e.changed(q, a.id, { progress, updated_at: now });
          q.dirty = true;
        }
        return;
      }
      case 'done':
        await e.endActive(q, a, 'done', { result: ack.result });
        break;
      case 'cancelled':
        await e.endActive(q, a, 'cancelled', { error: cancelError(a.control?.reason ?? 'DEVICE') });
        break;
      case 'failed':
      case 'rejected': {
        const error = deviceError(ack.error, ack.state === 'rejected' ? 'REJECTED' : 'FAILED');
        await e.endActive(q, a, error.code === 'EXPIRED' ? 'expired' : 'failed', { error });
        break;
      }
    }
    await e.pump(q);
  }

  /** An ack for a job not on the device: recorded; a final word on a re-queued job ends it. */
  private async lateAck(q: DeviceQueue, ack: Ack): Promise<void> {
    const e = this.engine;
    const job = await getJob(e.db, ack.job);
    if (!job || job.device !== q.id) {
      this.ctx.log.warn({ device: q.id, job: ack.job, state: ack.state }, 'ack for a job this device was never given; ignored');
      return;
    }
    const now = this.ctx.now();
    // The device finished the job while it was away (its unsent final ack arrives on reconnect).
    if (job.state === 'queued' && Number(job.attempt) > 0 && (ack.state === 'done' || ack.state === 'failed')) {
      const error = ack.state === 'failed' ? deviceError(ack.error, 'FAILED') : undefined;
      await e.endQueued(q, job, error?.code === 'EXPIRED' ? 'expired' : ack.state, error, { result: ack.result ?? null, late: true });
      return;
    }
    await e.write((trx) => addEvent(trx, job.id, now, 'late-ack', { state: ack.state, jobState: job.state }));
  }

  /**
   * An event belongs to at most one job: the running job it names, or else the only running job.
   * Only the current holder's jobs qualify, so nothing published after a binding change is filed
   * under the previous holder's job.
   */
  private onEvt(device: string, stream: string, payload: Buffer): void {
    const q = this.engine.peek(device);
    if (!q) return;
    // The holder as the event arrived; the job it belongs to once the device's earlier messages
    // are applied: an event sent right after the device's 'accepted' often arrives before the
    // broker has marked that job running, and was dropped from the job's data.
    const holder = this.ctx.bindings.agentOf(device);
    const now = this.ctx.now();
    this.engine.fire(q, 'evt', async () => this.fileEvt(q, holder, now, stream, payload));
  }

  private fileEvt(q: DeviceQueue, holder: string | null, now: number, stream: string, payload: Buffer): void {
    const running = [...q.active.values()].filter((a) => a.state === 'running' && a.agent === holder && a.control?.type !== 'cancel');
    const { text, encoding } = encodePayload(payload);
    const named = encoding === 'utf8' ? eventJob(text) : null;
    const a = named !== null ? running.find((r) => r.id === named) : running.length === 1 ? running[0] : undefined;
    if (!a) return;
    const failed = (what: string) => (err: unknown) => this.ctx.log.error({ err, job: a.id, stream }, what);
    const d = a.data;
    if (d.rows >= JOB_DATA_MAX_ROWS || d.bytes + text.length > JOB_DATA_MAX_BYTES) {
      if (!d.truncated) {
        d.truncated = true;
        this.engine.write((trx) => addEvent(trx, a.id, now, 'data-truncated', { rows: d.rows, bytes: d.bytes })).catch(failed('recording truncation failed'));
      }
      return;
    }
    d.rows++;
    d.bytes += text.length;
    this.engine.write((trx) => addData(trx, a.id, now, stream, text, encoding)).catch(failed('storing device data failed'));
  }

  private onPresence(device: string, status: Status): void {
    if (status.state === 'online') return;
    const q = this.engine.peek(device);
    if (!q || (!q.ready && q.active.size === 0)) return;
    this.engine.fire(q, 'device dropped', () => this.deviceDropped(q, status.reason ?? 'socket'));
  }

  /** A hello on a new connection: whatever ran on the previous one was interrupted. */
  private async deviceReady(q: DeviceQueue): Promise<void> {
    if (q.active.size > 0) await this.deviceDropped(q, 'reconnected');
    // In a cluster the device may come from another node, which lets go of it first; whatever
    // the registry still shows on the device is settled here.
    if (await this.ctx.lease.acquire(q.id)) await this.settleLeftovers(q, 'reconnected');
    await this.engine.profile(q, true);
    q.ready = true;
    q.dirty = true;
    await this.engine.pump(q);
  }

  /** Jobs the registry shows on the device that this node did not dispatch. */
  private async settleLeftovers(q: DeviceQueue, reason: string): Promise<void> {
    const now = this.ctx.now();
    for (const row of await openJobs(this.engine.db, q.id))
      if (row.state !== 'queued' && !q.active.has(row.id)) await this.settleDropped(q, activeOf(row), now, reason);
  }

  private async deviceDropped(q: DeviceQueue, reason: string): Promise<void> {
    q.ready = false;
    const now = this.ctx.now();
    for (const a of [...q.active.values()]) await this.settleDropped(q, a, now, reason);
    q.dirty = true;
  }

  /**
   * The interrupted rule. A pending cancel or completion takes effect. A job the device never
   * accepted goes back to the head of its queue. A running job of an idempotent kind goes back
   * too, to run again on reconnect; any other running job ends `interrupted`.
   */
  private async settleDropped(q: DeviceQueue, a: Active, now: number, reason: string): Promise<void> {
    const e = this.engine;
    clearTimer(a);
    if (a.control !== null) return e.applyControl(q, a, { deviceGone: reason });
    if (a.state === 'running' && !(isJobKind(a.kind) && JOB_KINDS[a.kind].idempotent)) {
      return e.endActive(q, a, 'interrupted', {
        error: { code: 'INTERRUPTED', message: `the device dropped (${reason}) while the job ran; '${a.kind}' is not safe to repeat` },
      });
    }
    q.active.delete(a.id);
    const patch = a.state === 'running' ? { interrupted_at: now, retries: a.retries + 1, expires_at: now + a.ttlMs, progress: null } : {};
    const moved = await e.write((trx) => transition(trx, a.id, ACTIVE_STATES, 'queued', now, patch, { reason, interrupted: a.state === 'running' }));
    if (moved) e.changed(q, a.id, transitionSet('queued', now, patch));
    else e.forget(q);
    q.dirty = true;
  }

  private onBinding(change: BindingChange): void {
    if (!change.changed) return;
    this.ctx.lease
      .onHolder(change.device, 'binding', [change], () => this.applyBinding(change))
      .catch((err: unknown) => this.ctx.log.error({ err, device: change.device }, 'job queue step failed: binding change'));
  }

  private applyBinding(change: BindingChange): Promise<void> {
    const e = this.engine;
    const q = e.queue(change.device);
    return e.run(q, async () => {
      const holder = this.holderNow(change);
      for (const job of await e.openJobs(q)) {
        if (job.agent === holder) continue;
        if (job.state === 'queued') await e.endQueued(q, job, 'cancelled', unbound());
        else {
          // Effective at once: the device is told to stop, and its later ack changes nothing.
          const a = q.active.get(job.id);
          if (a) await e.cancelNow(q, a, ErrorCode.UNBOUND);
        }
      }
      // The new holder sees the queue as it is now, replacing the retained snapshot.
      q.dirty = true;
      await e.pump(q);
    });
  }

  /**
   * Who holds the device when its queue reaches a binding change. The step may run after later
   * changes were committed (a lease ended, then a pool submit leased the device again and put its
   * job on it): the binding map's newer holder keeps its jobs. On another node of a cluster the
   * map may not have the change yet, and the change itself is the newer word.
   */
  private holderNow(change: BindingChange): string | null {
    const now = this.ctx.bindings.bindingOf(change.device);
    return now !== undefined && now.version >= change.version ? now.agent : change.to;
  }

  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    const e = this.engine;
    const now = this.ctx.now();
    dueDevices(e.db, now)
      .then((devices) => {
        for (const device of devices) {
          const q = e.queue(device);
          e.fire(q, 'expiry', async () => {
            for (const job of await dueJobs(e.db, q.id, now)) await e.endQueued(q, job, 'expired', expiredInQueue(job));
          });
        }
      })
      .catch((err: unknown) => this.ctx.log.error({ err }, 'job expiry sweep failed'))
      .finally(() => (this.sweeping = false));
  }
}
