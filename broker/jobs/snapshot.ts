// The queue snapshot on fb/v1/d/<dev>/jobs, with positions and ETAs (docs/architecture.md, Jobs).
// The one place that decides when a snapshot goes out: a step in the device's order marks the
// device changed, and once the device's queued steps settle, one snapshot covers them all.
import type { JobsSnapshot, QueuedJobView } from '../../protocol/messages';
import type { JobView } from '../../protocol/rest';
import { deviceTopic } from '../../protocol/topics';
import { publishJson } from '../publisher';
import { screenOf } from '../store/device-screens';
import { getDevice } from '../store/devices';
import type { DeviceQueue } from './device-queue';
import { type Duration, type Slot, priorMs, schedule } from './eta';
import type { JobCore } from './job-core';
import type { OpenJobs } from './open-jobs';
import type { JobRow } from './schema';
import { loadDurations } from './store';
import { jobView } from './view';

export interface Layout {
  open: readonly JobRow[];
  slots: Map<string, Slot>;
  at: number;
}

export class Snapshots {
  constructor(
    private readonly core: JobCore,
    private readonly open: OpenJobs,
  ) {}

  /** Something the snapshot shows changed: the next one goes out when the device's steps settle. */
  markChanged(q: DeviceQueue): void {
    q.dirty = true;
  }

  /** Runs fn in the device's order; the snapshot follows once the device's steps settle. */
  run<T>(q: DeviceQueue, fn: () => Promise<T>): Promise<T> {
    return q.run(fn, () => this.settled(q));
  }

  /** For event-driven work: failures are logged, never thrown into an event emitter. */
  fire(q: DeviceQueue, what: string, fn: () => Promise<void>): void {
    this.run(q, fn).catch((err: unknown) => this.core.ctx.log.error({ err, device: q.id, what }, 'job queue step failed'));
  }

  /** Publishes the device's snapshot again, in the device's order. */
  republish(q: DeviceQueue): Promise<void> {
    return this.run(q, async () => this.markChanged(q));
  }

  /** The device's announced capabilities and concurrency, read once and again after each hello. */
  async profile(q: DeviceQueue, refresh = false): Promise<NonNullable<DeviceQueue['profile']>> {
    if (q.profile === null || refresh) {
      const row = await getDevice(this.core.ctx.db, q.id);
      q.profile = {
        caps: row ? (JSON.parse(row.caps) as string[]) : [],
        concurrency: Math.max(1, Number(row?.concurrency ?? 1)),
        screen: row ? screenOf(row) : null,
      };
    }
    return q.profile;
  }

  /** Learned durations per kind on the device, read once. */
  async durations(q: DeviceQueue): Promise<Map<string, Duration>> {
    q.durations ??= await loadDurations(this.core.db, q.id);
    return q.durations;
  }

  /** Position and ETA of every unfinished job of the device. */
  async layout(q: DeviceQueue): Promise<Layout> {
    const rows = await this.open.list(q);
    // An empty queue has no places to work out: a device's first claim reads no durations or profile.
    if (rows.length === 0) return { open: rows, slots: new Map(), at: this.core.ctx.now() };
    const durations = await this.durations(q);
    await this.profile(q);
    const at = this.core.ctx.now();
    const jobs = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      state: r.state,
      startedAt: q.active.get(r.id)?.startedAt ?? (r.dispatched_at === null ? null : Number(r.dispatched_at)),
      params: q.active.get(r.id)?.params ?? (JSON.parse(r.params) as Record<string, unknown>),
    }));
    const slots = schedule(jobs, q.concurrency, at, (kind) => durations.get(kind)?.ewmaMs ?? priorMs(kind));
    return { open: rows, slots, at };
  }

  /** A job as REST shows it, with its place when it is unfinished. */
  async view(row: JobRow): Promise<JobView> {
    if (row.state !== 'queued' && row.state !== 'dispatched' && row.state !== 'running') return jobView(row);
    const { slots } = await this.layout(this.core.queue(row.device));
    return jobView(row, slots.get(row.id));
  }

  /**
   * The device's steps settled. One turn of the event loop first: steps queued meanwhile share the
   * snapshot, and the answer to the step that just ended goes out before it.
   */
  private async settled(q: DeviceQueue): Promise<void> {
    if (!q.dirty) return;
    await new Promise<void>((r) => setImmediate(r));
    if (q.busy || !q.dirty) return;
    q.dirty = false;
    await this.publish(q);
  }

  private async publish(q: DeviceQueue): Promise<void> {
    if (this.core.stopped) return;
    const { ctx } = this.core;
    try {
      const { open, slots, at } = await this.layout(q);
      // Nothing on the device and nothing ended, as when this node last published it: the
      // retained snapshot says so already. A reconnect (a whole fleet's, after a power cut) then
      // publishes nothing. Not in a cluster, where another node may have published since.
      if (open.length === 0 && q.ended.length === 0 && q.shownEmpty && !ctx.backends.sharedRegistry) return;
      const agent = ctx.bindings.agentOf(q.id);
      this.core.metrics.queueDepth.observe(open.filter((j) => j.state === 'queued').length);
      const all: QueuedJobView[] = open.map((j) => {
        const slot = slots.get(j.id)!;
        const v: QueuedJobView = { job: j.id, kind: j.kind, state: j.state, position: slot.position, eta: Math.round(slot.eta), agent: j.agent };
        if (j.progress !== null) v.progress = Number(j.progress);
        return v;
      });
      const allEnded = q.ended;
      q.ended = [];
      // Walk-up orders follow their own jobs from here (orders/updates.ts).
      ctx.events.emit('queue', { device: q.id, at, jobs: all, ended: allEnded.map((e) => e.view) });
      // Only the bound agent's jobs are shown; others' still count in positions and ETAs.
      const jobs = all.filter((j) => j.agent === agent);
      const ended = allEnded.filter((e) => e.agent === agent).map((e) => e.view);
      const snapshot: JobsSnapshot = { device: q.id, at, jobs, ...(ended.length > 0 ? { ended } : {}) };
      await publishJson(ctx, deviceTopic(q.id, 'jobs'), snapshot, true);
      q.shownEmpty = jobs.length === 0 && ended.length === 0;
    } catch (err) {
      ctx.log.error({ err, device: q.id }, 'publishing the jobs snapshot failed');
    }
  }
}
