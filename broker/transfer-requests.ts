// Transfer requests (docs/architecture.md, "Transfer requests"): an agent asks for a machine another
// agent holds; admins hear of it on ADMIN_TRANSFER_TOPIC and decide; the requester hears the decision
// on its own res topic. The holder is named to admins only.
import { randomUUID } from 'node:crypto';
import { parseClaimTarget } from '../protocol/claim-target';
import { ErrorCode, ProtocolError } from '../protocol/errors';
import { normaliseId } from '../protocol/ids';
import { agentTopic, adminTransferTopic } from '../protocol/topics';
import { type ClaimsContext, adminRebind, resolveTarget } from './claims';
import { publishJson } from './publisher';
import { isUniqueViolation } from './store/db';
import { getDevice } from './store/devices';
import type { TransferRequestView } from '../protocol/rest';
import type { TransferRequestRow } from './store/schema';
import { decideTransferRequest, getTransferRequest, insertTransferRequest, openTransferRequest, reopenTransferRequest } from './store/transfer-requests';

export async function transferRequestView(ctx: ClaimsContext, r: TransferRequestRow, forAdmin: boolean): Promise<TransferRequestView> {
  const machineCode = (await getDevice(ctx.db, r.device))?.machine_code ?? null;
  const base: TransferRequestView = {
    id: r.id,
    device: r.device,
    machineCode,
    state: r.state as TransferRequestView['state'],
    note: r.note,
    createdAt: Number(r.created_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    reason: r.reason,
  };
  return forAdmin ? { ...base, agent: r.agent, holder: r.holder, decidedBy: r.decided_by } : base;
}

function announce(ctx: ClaimsContext, topic: string, body: unknown): void {
  publishJson(ctx, topic, body).catch((err: unknown) => ctx.log.error({ err, topic }, 'publishing a transfer request notice failed'));
}

async function notifyAdmins(ctx: ClaimsContext, event: string, r: TransferRequestRow): Promise<void> {
  announce(ctx, adminTransferTopic, { event, request: await transferRequestView(ctx, r, true) });
}

export async function requestTransfer(ctx: ClaimsContext, agent: string, target: unknown, note: string | null): Promise<TransferRequestView> {
  const { row } = await resolveTarget(ctx, parseClaimTarget(target));
  const holder = row.agent_id;
  if (holder === agent) throw new ProtocolError(ErrorCode.CONFLICT, 'you already hold this machine; there is nothing to transfer', 'target');
  if (holder === null) throw new ProtocolError(ErrorCode.NOT_BOUND, 'this machine is free: claim it instead of asking for a transfer', 'target');
  const duplicate = (open: TransferRequestRow): ProtocolError =>
    new ProtocolError(ErrorCode.CONFLICT, `you already asked for a transfer of this machine (request ${open.id}); an admin will decide it`, 'target');
  const open = await openTransferRequest(ctx.db, row.id, agent);
  if (open) throw duplicate(open);
  let created: TransferRequestRow;
  try {
    created = await insertTransferRequest(ctx.db, { id: randomUUID(), device: row.id, agent, holder, note, now: ctx.now() });
  } catch (err) {
    const raced = isUniqueViolation(err) ? await openTransferRequest(ctx.db, row.id, agent) : undefined;
    if (raced) throw duplicate(raced);
    throw err;
  }
  ctx.log.info({ request: created.id, device: row.id, agent, holder }, 'transfer requested');
  await notifyAdmins(ctx, 'transfer.requested', created);
  return transferRequestView(ctx, created, false);
}

export function requestIdOf(raw: string): string {
  return normaliseId(raw, 'transfer request id', 'id');
}

export async function decideTransfer(ctx: ClaimsContext, id: string, approve: boolean, actor: string, reason: string | null): Promise<TransferRequestView> {
  const before = await getTransferRequest(ctx.db, id);
  if (!before) throw new ProtocolError(ErrorCode.NOT_FOUND, `no transfer request ${id}`, 'id');
  const state = approve ? 'approved' : 'declined';
  const decided = await decideTransferRequest(ctx.db, { id, state, actor, reason, now: ctx.now() });
  if (!decided) throw new ProtocolError(ErrorCode.CONFLICT, `transfer request ${id} was already decided`, 'id');
  if (approve) {
    try {
      await adminRebind(ctx, { actor, device: decided.device, to: decided.agent, reason: `transfer request ${id}`, force: false });
    } catch (err) {
      await reopenTransferRequest(ctx.db, id, actor, ctx.now(), err instanceof Error ? err.message : String(err));
      throw err;
    }
  }
  ctx.log.info({ request: id, device: decided.device, agent: decided.agent, actor, state }, 'transfer request decided');
  await notifyAdmins(ctx, `transfer.${state}`, decided);
  const forAgent = await transferRequestView(ctx, decided, false);
  announce(ctx, agentTopic(decided.agent, 'res'), { event: 'transfer.decided', request: forAgent });
  return transferRequestView(ctx, decided, true);
}
