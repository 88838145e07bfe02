// Rows of transfer requests (docs/architecture.md, "Transfer requests"), each write with its audit row.
import type { Kysely } from 'kysely';
import { appendAudit } from './audit';
import type { Database, TransferRequestRow } from './schema';

export type TransferState = 'open' | 'approved' | 'declined';
export const TRANSFER_STATES: readonly TransferState[] = ['open', 'approved', 'declined'];

export interface NewTransferRequest {
  id: string;
  device: string;
  agent: string;
  holder: string;
  note: string | null;
  now: number;
}

export async function insertTransferRequest(db: Kysely<Database>, r: NewTransferRequest): Promise<TransferRequestRow> {
  return db.transaction().execute(async (trx) => {
    const row: TransferRequestRow = {
      id: r.id,
      device: r.device,
      agent: r.agent,
      holder: r.holder,
      note: r.note,
      state: 'open',
      created_at: r.now,
      decided_at: null,
      decided_by: null,
      reason: null,
    };
    await trx.insertInto('transfer_requests').values(row).execute();
    await appendAudit(trx, {
      at: r.now,
      actor: `agent:${r.agent}`,
      action: 'transfer.requested',
      device: r.device,
      agent: r.agent,
      detail: { request: r.id, holder: r.holder, note: r.note },
    });
    return row;
  });
}

export async function getTransferRequest(db: Kysely<Database>, id: string): Promise<TransferRequestRow | undefined> {
  return db.selectFrom('transfer_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function openTransferRequest(db: Kysely<Database>, device: string, agent: string): Promise<TransferRequestRow | undefined> {
  return db.selectFrom('transfer_requests').selectAll().where('device', '=', device).where('agent', '=', agent).where('state', '=', 'open').executeTakeFirst();
}

export async function listTransferRequests(db: Kysely<Database>, q: { state?: TransferState; agent?: string }): Promise<TransferRequestRow[]> {
  let query = db.selectFrom('transfer_requests').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(500);
  if (q.state !== undefined) query = query.where('state', '=', q.state);
  if (q.agent !== undefined) query = query.where('agent', '=', q.agent);
  return query.execute();
}

export interface Decision {
  id: string;
  state: 'approved' | 'declined';
  actor: string;
  reason: string | null;
  now: number;
}

/** Moves an open request to its decision; undefined when it was not open (decided by someone else first). */
export async function decideTransferRequest(db: Kysely<Database>, d: Decision): Promise<TransferRequestRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('transfer_requests')
      .set({ state: d.state, decided_at: d.now, decided_by: d.actor, reason: d.reason })
      .where('id', '=', d.id)
      .where('state', '=', 'open')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return undefined;
    const row = await trx.selectFrom('transfer_requests').selectAll().where('id', '=', d.id).executeTakeFirstOrThrow();
    await appendAudit(trx, {
      at: d.now,
      actor: d.actor,
      action: `transfer.${d.state}`,
      device: row.device,
      agent: row.agent,
      detail: { request: d.id, reason: d.reason },
    });
    return row;
  });
}

/** Undoes an approval whose transfer failed, so the request can be decided again. */
export async function reopenTransferRequest(db: Kysely<Database>, id: string, actor: string, now: number, why: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('transfer_requests').set({ state: 'open', decided_at: null, decided_by: null, reason: null }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor, action: 'transfer.reopened', detail: { request: id, why } });
  });
}
