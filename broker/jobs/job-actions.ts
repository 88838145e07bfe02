// What an agent, an admin or a payment backend does to one job, on the device's dispatcher
// (docs/architecture.md, Jobs): cancel, complete a held payment QR, move a waiting job. Each
// refusal changes nothing and says why; an admin's cancel, a completion and a move are audited.
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { JobView } from '../../protocol/rest';
import { appendAudit } from '../store/audit';
import type { Control } from './control';
import type { Extra } from './job-core';
import type { CancelResult, Who } from './job-rpc';
import { type JobRow, type JobsDb, asRegistry } from './schema';
import { addEvent, getJob, openJobs } from './store';
import type { EngineParts } from './engine-parts';

/** The job if the caller may see it (its agent, or an admin); NOT_FOUND otherwise. */
export async function visibleJob(db: JobsDb, who: Who, id: string): Promise<JobRow> {
  const row = await getJob(db, id);
  if (!row || (who.kind === 'agent' && row.agent !== who.id)) throw new ProtocolError(ErrorCode.NOT_FOUND, `no job ${id}`, 'job');
  return row;
}

export class JobActions {
  constructor(
    private readonly p: EngineParts,
    private readonly control: Control,
  ) {}

  /** A queued job leaves the queue; a job on the device gets a cancel cmd. */
  async cancel(who: Who, id: string): Promise<CancelResult> {
    const { core } = this.p;
    const job = await visibleJob(core.db, who, id);
    const q = core.queue(job.device);
    const reason = `${who.kind}:${who.id}`;
    const audit: Extra | undefined =
      who.kind === 'admin'
        ? (trx) =>
            appendAudit(asRegistry(trx), { at: core.ctx.now(), actor: reason, action: 'job.cancel', device: job.device, agent: job.agent, detail: { job: id } })
        : undefined;
    return this.p.snapshot.run(q, async () => {
      const cur = (await getJob(core.db, id))!;
      if (cur.state === 'queued') {
        await this.p.endings.endQueued(q, cur, 'cancelled', { code: 'CANCELLED', message: `cancelled by ${reason}` }, {}, audit);
        return { job: id, state: 'cancelled', pending: null };
      }
      const a = q.active.get(id);
      if (a) {
        if (a.control?.type === 'complete') throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} was paid and is being completed`, 'job');
        if (a.control === null) await this.control.request(q, a, 'cancel', reason, audit);
        return { job: id, state: cur.state, pending: 'cancel' };
      }
      if (cur.state === 'cancelled') return { job: id, state: cur.state, pending: null };
      throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} already ended (${cur.state})`, 'job');
    });
  }

  /** A held qr.show was paid: the device is told, and the job ends `done` when it acknowledges. */
  async complete(who: Who, id: string): Promise<JobView> {
    const { core } = this.p;
    const job = await visibleJob(core.db, who, id);
    if (job.kind !== 'qr.show' || Number(job.hold) !== 1)
      throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} is not a held qr.show; only those wait for completion`, 'job');
    const q = core.queue(job.device);
    const actor = `${who.kind}:${who.id}`;
    const audit: Extra = (trx) =>
      appendAudit(asRegistry(trx), { at: core.ctx.now(), actor, action: 'job.complete', device: job.device, agent: job.agent, detail: { job: id } });
    await this.p.snapshot.run(q, async () => {
      const cur = (await getJob(core.db, id))!;
      if (cur.state === 'done') return;
      if (cur.state === 'queued') {
        await this.p.endings.endQueued(q, cur, 'done', undefined, { result: { paid: true }, by: actor }, audit);
        return;
      }
      const a = q.active.get(id);
      if (!a) throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} already ended (${cur.state}); it cannot be completed`, 'job');
      if (a.control?.type === 'complete') return;
      if (a.control?.type === 'cancel') throw new ProtocolError(ErrorCode.CONFLICT, `job ${id} is being cancelled; it cannot be completed`, 'job');
      await this.control.request(q, a, 'complete', actor, audit);
    });
    core.ctx.log.info({ job: id, device: job.device, actor }, 'held job completed');
    return this.p.snapshot.view((await getJob(core.db, id))!);
  }

  /** Moves a waiting job to `position` among its device's waiting jobs (1 = next to go); the others keep their order. */
  async move(who: Who, id: string, position: number): Promise<{ job: string; position: number }> {
    const { core } = this.p;
    const job = await visibleJob(core.db, who, id);
    const q = core.queue(job.device);
    return this.p.snapshot.run(q, async () => {
      const queued = (await openJobs(core.db, job.device)).filter((j) => j.state === 'queued');
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
      const now = core.ctx.now();
      const actor = `${who.kind}:${who.id}`;
      await core.write(async (trx) => {
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
      this.p.open.forget(q);
      this.p.snapshot.markChanged(q);
      core.ctx.log.info({ job: id, device: job.device, from: from + 1, to: position, actor }, 'queued job moved');
      return { job: id, position };
    });
  }
}
