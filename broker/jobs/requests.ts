// What agents, admins and payment backends ask of the job system: submit, cancel, list, look
// up, complete a held payment QR, and move a waiting job. Each goes to the device's dispatcher
// (jobs/lease.ts) and is one call into the engine there; each refusal changes nothing and says why.
import type { JobView } from '../../protocol/rest';
import { ProtocolError } from '../../protocol/errors';
import type { Context } from '../context';
import type { JobEngine } from './engine';
import { visibleJob } from './job-actions';
import type { CancelResult, SubmitInput, SubmitResult, Who } from './job-rpc';
import type { JobRow } from './schema';
import type { Layout } from './snapshot';
import { listJobs } from './store';
import { jobView } from './view';

export class JobRequests {
  constructor(
    private readonly ctx: Context,
    private readonly engine: JobEngine,
  ) {}

  async submit(agent: string, s: SubmitInput): Promise<SubmitResult> {
    try {
      this.ctx.backends.health.assertAvailable('submit a job');
      return await this.ctx.lease.onHolder(s.device, 'submit', [agent, s], () => this.engine.submit(agent, s));
    } catch (err) {
      if (err instanceof ProtocolError) this.engine.metrics.submitted.inc({ outcome: err.code });
      throw err;
    }
  }

  /**
   * The owner or an admin cancels: a queued job leaves the queue, a job on the device gets a
   * cancel cmd. An admin's cancel is audited (job.cancel), since it ends another person's job.
   */
  async cancel(who: Who, id: string): Promise<CancelResult> {
    // Before the lookup, so an outage reads as UNAVAILABLE rather than a failed query.
    this.ctx.backends.health.assertAvailable('cancel a job');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'cancel', [who, id], () => this.engine.cancel(who, id));
  }

  /** A caller's own jobs on a device, newest first, whether or not the device is still theirs. */
  async list(agent: string | null, q: { device?: string; state?: JobRow['state']; limit?: number }): Promise<JobView[]> {
    const rows = await listJobs(this.engine.db, { ...q, ...(agent === null ? {} : { agent }), limit: q.limit ?? 50 });
    const layouts = new Map<string, Layout>();
    const out: JobView[] = [];
    for (const r of rows) {
      if (r.state !== 'queued' && r.state !== 'dispatched' && r.state !== 'running') {
        out.push(jobView(r));
        continue;
      }
      let layout = layouts.get(r.device);
      if (!layout) layouts.set(r.device, (layout = await this.engine.layout(r.device)));
      out.push(jobView(r, layout.slots.get(r.id)));
    }
    return out;
  }

  /** The job if the caller may see it (its agent, or an admin); NOT_FOUND otherwise. */
  visible(who: Who, id: string): Promise<JobRow> {
    return visibleJob(this.engine.db, who, id);
  }

  view(row: JobRow): Promise<JobView> {
    return this.engine.view(row);
  }

  /**
   * A payment backend confirms a held qr.show: the device is told (cmd `complete: true`) and the
   * job ends `done` when it acknowledges; the reservation ends with it. Audited.
   */
  async complete(who: Who, id: string): Promise<JobView> {
    this.ctx.backends.health.assertAvailable('complete a job');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'complete', [who, id], () => this.engine.complete(who, id));
  }

  /**
   * Moves a waiting job to `position` among its device's waiting jobs (1 = next to go); the others
   * keep their order. Queue order is the operator's to change, so every move is audited (job.move).
   */
  async move(who: Who, id: string, position: number): Promise<{ job: string; position: number }> {
    this.ctx.backends.health.assertAvailable('reorder a queue');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'move', [who, id, position], () => this.engine.move(who, id, position));
  }
}
