// What agents, admins and payment backends ask of the job system: submit, cancel, list, look
// up, and complete a held payment QR. Each refusal changes nothing and says why.
import { randomUUID } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { JOB_KINDS, type QrShowParams, isJobKind, parseJobParams } from '../../protocol/jobs';
import { PAYMENT_TEMPLATES, PLACEHOLDER_PREFIX, checkPaymentText, isPlaceholderPayment } from '../../protocol/payment/templates';
import { appendAudit } from '../store/audit';
import type { Context } from '../context';
import type { Extra, JobEngine } from './engine';
import { type JobRow, asRegistry } from './schema';
import { addEvent, getJob, insertJob, jobByKey, listJobs, openJobs } from './store';
import type { JobView } from '../../protocol/rest';
import { jobView } from './view';
import { isUniqueViolation } from '../store/db';
import { checkFitsScreen } from './screen-check';
import type { CancelResult, SubmitInput, SubmitResult, Who } from './job-rpc';

/** How long a job may wait for its device: its ttl (seconds) or the fleet's default, cut short by a QR's absolute expiresAt. */
export function queueTtlMs(params: unknown, ttl: number | undefined, defaultMs: number, now: number): number {
  const queueTtl = ttl === undefined ? defaultMs : ttl * 1000;
  // A QR whose absolute expiresAt passes while it waits is never shown: it leaves the queue then.
  const expiresAt = (params as { expiresAt?: number }).expiresAt;
  return expiresAt === undefined ? queueTtl : Math.max(0, Math.min(queueTtl, expiresAt - now));
}

/** A held qr.show reserves its device until it is paid, expires or is cancelled. */
export const isHeld = (kind: string, params: unknown): boolean => kind === 'qr.show' && (params as { hold?: boolean }).hold === true;

const notFound = (id: string): ProtocolError => new ProtocolError(ErrorCode.NOT_FOUND, `no job ${id}`, 'job');

export class JobRequests {
  constructor(
    private readonly ctx: Context,
    private readonly engine: JobEngine,
  ) {
    // In a cluster these run on the node that dispatches the device (see lease.ts).
    ctx.lease.handle('submit', (agent, s) => this.trySubmit(agent, s));
    ctx.lease.handle('cancel', (who, id) => this.cancelHere(who, id));
    ctx.lease.handle('complete', (who, id) => this.completeHere(who, id));
    ctx.lease.handle('move', (who, id, position) => this.moveHere(who, id, position));
  }

  private async result(row: JobRow): Promise<SubmitResult> {
    const view = await this.view(row);
    return { job: view.job, state: view.state, position: view.position, eta: view.eta };
  }

  /** A repeated idempotency key answers with the job it created, if the request matches it. */
  private repeat(row: JobRow, s: SubmitInput): Promise<SubmitResult> {
    if (row.device !== s.device || row.kind !== s.kind) {
      throw new ProtocolError(ErrorCode.CONFLICT, `idempotencyKey was already used for job ${row.id} (${row.kind} on ${row.device})`, 'idempotencyKey');
    }
    this.engine.metrics.submitted.inc({ outcome: 'repeat' });
    return this.result(row);
  }

  async submit(agent: string, s: SubmitInput): Promise<SubmitResult> {
    try {
      this.ctx.cluster?.health.assertAvailable('submit a job');
      return await this.ctx.lease.onHolder(s.device, 'submit', [agent, s], () => this.trySubmit(agent, s));
    } catch (err) {
      if (err instanceof ProtocolError) this.engine.metrics.submitted.inc({ outcome: err.code });
      throw err;
    }
  }

  /**
   * Enters the device's queue order before any await, so one agent's submits queue in the order
   * they arrived.
   */
  private trySubmit(agent: string, s: SubmitInput): Promise<SubmitResult> {
    const key = s.idempotencyKey ?? null;
    const db = this.engine.db;
    const notBound = (): ProtocolError => new ProtocolError(ErrorCode.NOT_BOUND, `device ${s.device} is not bound to you`, 'device');
    if (this.ctx.bindings.agentOf(s.device) !== agent) throw notBound();
    const q = this.engine.queue(s.device);
    return this.engine.run(q, async () => {
      if (key !== null) {
        const existing = await jobByKey(db, agent, key);
        if (existing) return this.repeat(existing, s);
      }
      // A release or transfer may have committed while this submit waited its turn.
      if (this.ctx.bindings.agentOf(s.device) !== agent) throw notBound();
      if (!isJobKind(s.kind))
        throw new ProtocolError(ErrorCode.UNSUPPORTED, `unknown job kind '${s.kind}' (known: ${Object.keys(JOB_KINDS).join(', ')})`, 'kind');
      const { caps, screen } = await this.engine.profile(q);
      if (!caps.includes(s.kind)) {
        const announced = caps.length === 0 ? 'it has announced no capabilities yet' : `it announced: ${caps.join(', ')}`;
        throw new ProtocolError(ErrorCode.UNSUPPORTED, `device ${s.device} does not run '${s.kind}' (${announced})`, 'kind');
      }
      const params = parseJobParams(s.kind, s.params);
      if (s.kind === 'qr.show') {
        this.checkPayment(params as QrShowParams);
        if (screen !== null) checkFitsScreen(s.device, screen, params as QrShowParams);
      }
      // Under overload most submits find the queue full: refuse those before any write.
      if ((await this.engine.openCount(q)) >= this.ctx.opts.queueCap) throw this.queueFull(s.device);
      const now = this.ctx.now();
      const ttlMs = queueTtlMs(params, s.ttl, this.ctx.opts.jobTtlMs, now);
      const hold = isHeld(s.kind, params);
      let row: JobRow | 'full';
      try {
        row = await this.engine.write((trx) =>
          insertJob(
            trx,
            {
              id: randomUUID(),
              device: s.device,
              agent,
              kind: s.kind,
              params: JSON.stringify(params),
              hold,
              ttlMs,
              idempotencyKey: key,
              now,
              ...(s.via ? { via: s.via } : {}),
            },
            this.ctx.opts.queueCap,
          ),
        );
      } catch (err) {
        // The same key raced in from a submit for another device: answer as a repeat.
        const existing = key !== null && isUniqueViolation(err) ? await jobByKey(db, agent, key) : undefined;
        if (existing) return this.repeat(existing, s);
        throw err;
      }
      if (row === 'full') throw this.queueFull(s.device);
      this.engine.queued(q, row);
      q.dirty = true;
      this.engine.metrics.submitted.inc({ outcome: 'queued' });
      this.ctx.log.debug({ job: row.id, device: s.device, agent, kind: s.kind }, 'job queued');
      await this.engine.pump(q);
      const { open, slots } = await this.engine.layout(q);
      const current = open.find((j) => j.id === row.id);
      if (!current) return this.result((await getJob(db, row.id))!);
      const slot = slots.get(row.id)!;
      return { job: row.id, state: current.state, position: slot.position, eta: Math.round(slot.eta) };
    });
  }

  private queueFull(device: string): ProtocolError {
    return new ProtocolError(
      ErrorCode.QUEUE_FULL,
      `device ${device} already has ${this.ctx.opts.queueCap} unfinished jobs (its queue cap); submit again when one finishes`,
      'device',
    );
  }

  /**
   * A payment QR's text must be one a wallet can read: the placeholder scheme is refused in
   * production and warned about otherwise; a QR with an amount follows the fleet's template
   * unless it names its own (docs/architecture.md, Jobs).
   */
  checkPayment(p: QrShowParams): void {
    const { production, paymentTemplate } = this.ctx.opts;
    if (isPlaceholderPayment(p.text)) {
      const why = `no wallet or bank app can read the placeholder ${PLACEHOLDER_PREFIX}…; use a payment template (${PAYMENT_TEMPLATES.join(', ')})`;
      if (production) throw new ProtocolError(ErrorCode.BAD_PARAMS, `refused in production: ${why}`, 'text');
      this.ctx.log.warn({ template: paymentTemplate ?? null }, `PLACEHOLDER PAYMENT QR: ${why}. It would be refused in production.`);
    }
    if (p.template === undefined && p.amount !== undefined && paymentTemplate !== undefined) {
      checkPaymentText(paymentTemplate, p.text);
      p.template = paymentTemplate;
    }
  }

  /**
   * The owner or an admin cancels: a queued job leaves the queue, a job on the device gets a
   * cancel cmd. An admin's cancel is audited (job.cancel), since it ends another person's job.
   */
  async cancel(who: Who, id: string): Promise<CancelResult> {
    // Before the lookup, so an outage reads as UNAVAILABLE rather than a failed query.
    this.ctx.cluster?.health.assertAvailable('cancel a job');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'cancel', [who, id], () => this.cancelHere(who, id));
  }

  private async cancelHere(who: Who, id: string): Promise<CancelResult> {
    const job = await this.visible(who, id);
    const q = this.engine.queue(job.device);
    const reason = `${who.kind}:${who.id}`;
    const audit: Extra | undefined =
      who.kind === 'admin'
        ? (trx) =>
            appendAudit(asRegistry(trx), { at: this.ctx.now(), actor: reason, action: 'job.cancel', device: job.device, agent: job.agent, detail: { job: id } })
        : undefined;
    return this.engine.run(q, async () => {
      const cur = (await getJob(this.engine.db, id))!;
      if (cur.state === 'queued') {
        await this.engine.endQueued(q, cur, 'cancelled', { code: 'CANCELLED', message: `cancelled by ${reason}` }, {}, audit);
        return { job: id, state: 'cancelled', pending: null };
      }
      const a = q.active.get(id);
      if (a) {
        if (a.control?.type === 'complete') throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} was paid and is being completed`, 'job');
        if (a.control === null) await this.engine.requestControl(q, a, 'cancel', reason, audit);
        return { job: id, state: cur.state, pending: 'cancel' };
      }
      if (cur.state === 'cancelled') return { job: id, state: cur.state, pending: null };
      throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} already ended (${cur.state})`, 'job');
    });
  }

  /** A caller's own jobs on a device, newest first, whether or not the device is still theirs. */
  async list(agent: string | null, q: { device?: string; state?: JobRow['state']; limit?: number }): Promise<JobView[]> {
    const rows = await listJobs(this.engine.db, { ...q, ...(agent === null ? {} : { agent }), limit: q.limit ?? 50 });
    const layouts = new Map<string, Awaited<ReturnType<JobEngine['layout']>>>();
    const out: JobView[] = [];
    for (const r of rows) {
      if (r.state !== 'queued' && r.state !== 'dispatched' && r.state !== 'running') {
        out.push(jobView(r));
        continue;
      }
      let layout = layouts.get(r.device);
      if (!layout) layouts.set(r.device, (layout = await this.engine.layout(this.engine.queue(r.device))));
      out.push(jobView(r, layout.slots.get(r.id)));
    }
    return out;
  }

  /** The job if the caller may see it (its agent, or an admin); NOT_FOUND otherwise. */
  async visible(who: { kind: 'agent' | 'admin'; id: string }, id: string): Promise<JobRow> {
    const row = await getJob(this.engine.db, id);
    if (!row || (who.kind === 'agent' && row.agent !== who.id)) throw notFound(id);
    return row;
  }

  async view(row: JobRow): Promise<JobView> {
    if (row.state !== 'queued' && row.state !== 'dispatched' && row.state !== 'running') return jobView(row);
    const { slots } = await this.engine.layout(this.engine.queue(row.device));
    return jobView(row, slots.get(row.id));
  }

  /**
   * A payment backend confirms a held qr.show: the device is told (cmd `complete: true`) and the
   * job ends `done` when it acknowledges; the reservation ends with it. Audited.
   */
  async complete(who: Who, id: string): Promise<JobView> {
    this.ctx.cluster?.health.assertAvailable('complete a job');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'complete', [who, id], () => this.completeHere(who, id));
  }

  private async completeHere(who: Who, id: string): Promise<JobView> {
    const job = await this.visible(who, id);
    if (job.kind !== 'qr.show' || Number(job.hold) !== 1)
      throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} is not a held qr.show; only those wait for completion`, 'job');
    const q = this.engine.queue(job.device);
    const actor = `${who.kind}:${who.id}`;
    const audit: Extra = (trx) =>
      appendAudit(asRegistry(trx), { at: this.ctx.now(), actor, action: 'job.complete', device: job.device, agent: job.agent, detail: { job: id } });
    await this.engine.run(q, async () => {
      const cur = (await getJob(this.engine.db, id))!;
      if (cur.state === 'done') return;
      if (cur.state === 'queued') {
        await this.engine.endQueued(q, cur, 'done', undefined, { result: { paid: true }, by: actor }, audit);
        return;
      }
      const a = q.active.get(id);
      if (!a) throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} already ended (${cur.state}); it cannot be completed`, 'job');
      if (a.control?.type === 'complete') return;
      if (a.control?.type === 'cancel') throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} is being cancelled; it cannot be completed`, 'job');
      await this.engine.requestControl(q, a, 'complete', actor, audit);
    });
    this.ctx.log.info({ job: id, device: job.device, actor }, 'held job completed');
    return this.view((await getJob(this.engine.db, id))!);
  }

  /**
   * Moves a waiting job to `position` among its device's waiting jobs (1 = next to go); the others
   * keep their order. Queue order is the operator's to change, so every move is audited (job.move).
   */
  async move(who: Who, id: string, position: number): Promise<{ job: string; position: number }> {
    this.ctx.cluster?.health.assertAvailable('reorder a queue');
    const job = await this.visible(who, id);
    return this.ctx.lease.onHolder(job.device, 'move', [who, id, position], () => this.moveHere(who, id, position));
  }

  private async moveHere(who: Who, id: string, position: number): Promise<{ job: string; position: number }> {
    const job = await this.visible(who, id);
    const q = this.engine.queue(job.device);
    return this.engine.run(q, async () => {
      const queued = (await openJobs(this.engine.db, job.device)).filter((j) => j.state === 'queued');
      const from = queued.findIndex((j) => j.id === id);
      if (from < 0) throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} is no longer waiting; only a waiting job can be moved`, 'job');
      if (!Number.isInteger(position) || position < 1 || position > queued.length) {
        throw new ProtocolError(ErrorCode.BAD_REQUEST, `position is a whole number from 1 to ${queued.length} (the waiting jobs on this machine)`, 'position');
      }
      if (from + 1 === position) return { job: id, position };
      const seqs = queued.map((j) => Number(j.seq));
      const order = queued.map((j) => j.id);
      order.splice(from, 1);
      order.splice(position - 1, 0, id);
      const now = this.ctx.now();
      const actor = `${who.kind}:${who.id}`;
      await this.engine.write(async (trx) => {
        // (device, seq) is unique: the moved jobs wait on negative numbers, then take their places.
        for (let i = 0; i < order.length; i++) await trx.updateTable('jobs').set({ seq: -seqs[i]! }).where('id', '=', order[i]!).execute();
        for (let i = 0; i < order.length; i++) await trx.updateTable('jobs').set({ seq: seqs[i]!, updated_at: now }).where('id', '=', order[i]!).execute();
        await addEvent(trx, id, now, 'moved', { from: from + 1, to: position, by: actor });
        await appendAudit(asRegistry(trx), {
          at: now,
          actor,
          action: 'job.move',
          device: job.device,
          agent: job.agent,
          detail: { job: id, from: from + 1, to: position },
        });
      });
      this.engine.forget(q);
      q.dirty = true;
      this.ctx.log.info({ job: id, device: job.device, from: from + 1, to: position, actor }, 'queued job moved');
      return { job: id, position };
    });
  }
}
