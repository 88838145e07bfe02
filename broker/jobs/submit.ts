// A submit on the device's dispatcher (docs/architecture.md, Jobs): checked against the binding,
// the device's capabilities, the kind's params and the queue cap, written (on a single node, with
// its dispatch in the same commit when the device is free), then dispatched if the device has a
// free slot; it answers with the job's place.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { JOB_KINDS, type QrShowParams, isJobKind, parseJobParams } from '../../protocol/jobs';
import { isUniqueViolation } from '../store/db';
import type { DeviceQueue } from './device-queue';
import type { SubmitInput, SubmitResult } from './job-rpc';
import { checkPayment } from './payment-check';
import type { JobRow } from './schema';
import { checkFitsScreen } from './screen-check';
import { getJob, insertJob, jobByKey, newJobId } from './store';
import type { EngineParts } from './engine-parts';

/** How long a job may wait for its device: its ttl (seconds) or the fleet's default, cut short by a QR's absolute expiresAt. */
export function queueTtlMs(params: unknown, ttl: number | undefined, defaultMs: number, now: number): number {
  const queueTtl = ttl === undefined ? defaultMs : ttl * 1000;
  // A QR whose absolute expiresAt passes while it waits is never shown: it leaves the queue then.
  const expiresAt = (params as { expiresAt?: number }).expiresAt;
  return expiresAt === undefined ? queueTtl : Math.max(0, Math.min(queueTtl, expiresAt - now));
}

/** A held qr.show reserves its device until it is paid, expires or is cancelled. */
export const isHeld = (kind: string, params: unknown): boolean => kind === 'qr.show' && (params as { hold?: boolean }).hold === true;

export class Submits {
  constructor(private readonly p: EngineParts) {}

  /**
   * Enters the device's queue order before any await, so one agent's submits queue in the order
   * they arrived.
   */
  submit(agent: string, s: SubmitInput): Promise<SubmitResult> {
    const { ctx, db } = this.p.core;
    const key = s.idempotencyKey ?? null;
    const notBound = (): ProtocolError => new ProtocolError(ErrorCode.NOT_BOUND, `device ${s.device} is not bound to you`, 'device');
    // A cluster's dispatcher may not have the claim in its map yet: the check in the device's
    // order asks the registry then.
    if (ctx.bindings.agentOf(s.device) !== agent && !ctx.backends.sharedRegistry) throw notBound();
    const q = this.p.core.queue(s.device);
    return this.p.snapshot.run(q, async () => {
      if (key !== null) {
        const existing = await jobByKey(db, agent, key);
        if (existing) return this.repeat(existing, s);
      }
      // A release or transfer may have committed while this submit waited its turn.
      if (ctx.bindings.agentOf(s.device) !== agent && !(await this.p.core.registryHolds(s.device, agent))) throw notBound();
      const params = await this.check(q, s);
      const now = ctx.now();
      const ttlMs = queueTtlMs(params, s.ttl, ctx.opts.jobTtlMs, now);
      const hold = isHeld(s.kind, params);
      const startNow = await this.p.dispatch.freeForNext(q);
      let written: { row: JobRow | 'full'; started: boolean };
      try {
        written = await this.p.core.write(async (trx) => {
          const row = await insertJob(
            trx,
            {
              id: newJobId(),
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
            ctx.opts.queueCap,
          );
          if (row === 'full' || !startNow) return { row, started: false };
          return { row, started: (await this.p.dispatch.startIn(trx, q, row, now)) === 'ok' };
        });
      } catch (err) {
        // The same key raced in from a submit for another device: answer as a repeat.
        const existing = key !== null && isUniqueViolation(err) ? await jobByKey(db, agent, key) : undefined;
        if (existing) return this.repeat(existing, s);
        throw err;
      }
      const { row, started } = written;
      if (row === 'full') throw this.queueFull(s.device);
      this.p.open.queued(q, row);
      if (started) this.p.dispatch.started(q, row, now);
      this.p.snapshot.markChanged(q);
      this.p.core.metrics.submitted.inc({ outcome: 'queued' });
      ctx.log.debug({ job: row.id, device: s.device, agent, kind: s.kind }, 'job queued');
      await this.p.dispatch.pump(q);
      const { open, slots } = await this.p.snapshot.layout(q);
      const current = open.find((j) => j.id === row.id);
      if (!current) return this.result((await getJob(db, row.id))!);
      const slot = slots.get(row.id)!;
      return { job: row.id, state: current.state, position: slot.position, eta: Math.round(slot.eta) };
    });
  }

  /** The job's params, once the device runs its kind, they fit, and the queue has room. */
  private async check(q: DeviceQueue, s: SubmitInput): Promise<unknown> {
    const { ctx } = this.p.core;
    if (!isJobKind(s.kind))
      throw new ProtocolError(ErrorCode.UNSUPPORTED, `unknown job kind '${s.kind}' (known: ${Object.keys(JOB_KINDS).join(', ')})`, 'kind');
    const { caps, screen } = await this.p.snapshot.profile(q);
    if (!caps.includes(s.kind)) {
      const announced = caps.length === 0 ? 'it has announced no capabilities yet' : `it announced: ${caps.join(', ')}`;
      throw new ProtocolError(ErrorCode.UNSUPPORTED, `device ${s.device} does not run '${s.kind}' (${announced})`, 'kind');
    }
    const params = parseJobParams(s.kind, s.params);
    if (s.kind === 'qr.show') {
      checkPayment(ctx, params as QrShowParams);
      if (screen !== null) checkFitsScreen(s.device, screen, params as QrShowParams);
    }
    // Under overload most submits find the queue full: refuse those before any write.
    if ((await this.p.open.count(q)) >= ctx.opts.queueCap) throw this.queueFull(s.device);
    return params;
  }

  /** A repeated idempotency key answers with the job it created, if the request matches it. */
  private repeat(row: JobRow, s: SubmitInput): Promise<SubmitResult> {
    if (row.device !== s.device || row.kind !== s.kind) {
      throw new ProtocolError(ErrorCode.CONFLICT, `idempotencyKey was already used for job ${row.id} (${row.kind} on ${row.device})`, 'idempotencyKey');
    }
    this.p.core.metrics.submitted.inc({ outcome: 'repeat' });
    return this.result(row);
  }

  private async result(row: JobRow): Promise<SubmitResult> {
    const view = await this.p.snapshot.view(row);
    return { job: view.job, state: view.state, position: view.position, eta: view.eta };
  }

  private queueFull(device: string): ProtocolError {
    return new ProtocolError(
      ErrorCode.QUEUE_FULL,
      `device ${device} already has ${this.p.core.ctx.opts.queueCap} unfinished jobs (its queue cap); submit again when one finishes`,
      'device',
    );
  }
}
