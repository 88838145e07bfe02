// The binding compare-and-set (docs/architecture.md, Bindings). Each change is one conditional UPDATE plus its audit
// row in the same transaction, and bumps binding_version so in-memory maps apply changes in order.
import { type Kysely, sql } from 'kysely';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { recordEvent } from '../webhooks/outbox';
import { appendAudit } from './audit';
import { first, prepared } from './prepared';
import type { Database, DeviceRow } from './schema';

export interface BindingChange {
  device: string;
  from: string | null;
  to: string | null;
  version: number;
  at: number;
  /** False for an idempotent repeat that changed nothing. */
  changed: boolean;
  row: DeviceRow;
  /** The new holder's name, when the change read it (a claim, a lease). */
  toName?: string;
}

async function reread(trx: Kysely<Database>, device: string): Promise<DeviceRow> {
  const row = await trx.selectFrom('devices').selectAll().where('id', '=', device).executeTakeFirst();
  if (!row) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'device');
  return row;
}

function boundToOther(row: DeviceRow): ProtocolError {
  const since = Number(row.bound_at);
  return new ProtocolError(ErrorCode.BOUND_TO_OTHER, `this machine is in use by another agent since ${new Date(since).toISOString()}`, 'target', {
    since,
    agent: row.agent_id ?? undefined,
  });
}

export interface ClaimInput {
  device: string;
  agent: string;
  via: string;
  now: number;
  defaultLimit: number;
  /**
   * Lock the agent's row before counting its devices: where claims commit side by side
   * (PostgreSQL), so the count sees every claim of this agent that committed before. A group
   * commit on SQLite runs its claims one after another on the only connection and needs no lock.
   */
  lockAgent: boolean;
}

/**
 * The claim compare-and-set, inside the caller's transaction (a group commit). A refusal is
 * returned, not thrown, and writes nothing that stays: a throw would roll back every other claim
 * sharing the commit.
 */
// The claim's statements, compiled once (prepared.ts): a burst runs them a thousand times.
const claimantQuery = prepared((db: Kysely<Database>, p: { agent: string }) =>
  db
    .selectFrom('agents')
    .select(['name', 'device_limit', 'disabled'])
    .select((eb) => eb.selectFrom('devices').select(eb.fn.countAll<number>().as('n')).where('agent_id', '=', p.agent).where('mode', '=', 'owned').as('held'))
    .where('id', '=', p.agent),
);
const claimUpdate = prepared((db: Kysely<Database>, p: { agent: string; now: number; via: string; device: string }) =>
  db
    .updateTable('devices')
    .set({ agent_id: p.agent, bound_at: p.now, bound_via: p.via, binding_version: sql`binding_version + 1` })
    .where('id', '=', p.device)
    .where('agent_id', 'is', null)
    .where('mode', '=', 'owned')
    .returningAll(),
);
const deviceQuery = prepared((db: Kysely<Database>, p: { device: string }) => db.selectFrom('devices').selectAll().where('id', '=', p.device));

export async function claimDevice(trx: Kysely<Database>, c: ClaimInput): Promise<BindingChange | ProtocolError> {
  const agent = await first(claimantQuery(trx, { agent: c.agent }));
  if (!agent || Number(agent.disabled) !== 0) return new ProtocolError(ErrorCode.FORBIDDEN, `agent ${c.agent} does not exist or is disabled`);
  // The row as committed comes back with the update, so a won claim reads nothing more.
  const row = await first(claimUpdate(trx, { agent: c.agent, now: c.now, via: c.via, device: c.device }));
  if (!row) {
    const current = await first(deviceQuery(trx, { device: c.device }));
    if (!current) return new ProtocolError(ErrorCode.NOT_FOUND, `no device ${c.device}`, 'device');
    // A pool device serves whoever submits to its pool, one job at a time; nobody claims it for keeps.
    if (current.mode === 'pool')
      return new ProtocolError(
        ErrorCode.FORBIDDEN,
        `this machine belongs to the pool at ${current.location ?? 'its location'}; submit to the pool instead of claiming it`,
        'target',
      );
    if (current.agent_id === c.agent)
      return {
        device: c.device,
        from: c.agent,
        to: c.agent,
        version: Number(current.binding_version),
        at: Number(current.bound_at),
        changed: false,
        row: current,
      };
    return boundToOther(current);
  }
  const limit = agent.device_limit === null ? c.defaultLimit : Number(agent.device_limit);
  // Leases are per job and do not count towards the agent's limit of devices it holds.
  let held = Number(agent.held) + 1;
  if (c.lockAgent) {
    // Touching the agent row serialises one agent's concurrent claims (a row lock held to commit).
    await trx.updateTable('agents').set({ claim_seq: sql`claim_seq + 1` }).where('id', '=', c.agent).execute();
    const counted = await trx
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('agent_id', '=', c.agent)
      .where('mode', '=', 'owned')
      .executeTakeFirstOrThrow();
    held = Number(counted.n);
  }
  if (held > limit) {
    // Undo this claim's update in place; the rest of the commit stands.
    await trx
      .updateTable('devices')
      .set({ agent_id: null, bound_at: null, bound_via: null, binding_version: sql`binding_version - 1` })
      .where('id', '=', c.device)
      .execute();
    return new ProtocolError(ErrorCode.LIMIT, `you already hold ${limit} device${limit === 1 ? '' : 's'} (your limit)`, 'target', {});
  }
  const version = Number(row.binding_version);
  await appendAudit(trx, { at: c.now, actor: `agent:${c.agent}`, action: 'claim', device: c.device, agent: c.agent, detail: { via: c.via, version } });
  await recordEvent(
    trx,
    'binding.changed',
    { device: c.device, action: 'claim', from: null, to: c.agent, via: c.via, actor: `agent:${c.agent}`, version },
    c.now,
  );
  return { device: c.device, from: null, to: c.agent, version, at: c.now, changed: true, row, toName: agent.name };
}

export interface UnbindInput {
  device: string;
  /** The agent that must hold the device (agent release); undefined for an admin act. */
  holder?: string;
  /** New agent for a transfer; null to release. */
  to: string | null;
  actor: string;
  reason?: string;
  force: boolean;
  now: number;
  defaultLimit: number;
}

/** Release (by the holder or an admin) and transfer (admin), with an optimistic version check. */
export async function rebindDevice(db: Kysely<Database>, u: UnbindInput): Promise<BindingChange> {
  return db.transaction().execute(async (trx) => {
    const before = await reread(trx, u.device);
    if (u.holder !== undefined && before.agent_id !== u.holder) {
      throw new ProtocolError(ErrorCode.NOT_BOUND, `device ${u.device} is not bound to you`, 'device');
    }
    // A pool device is leased per job; only a forced release (an admin, or a disabled agent) ends a lease early.
    if (before.mode === 'pool' && (u.to !== null || !u.force)) {
      throw new ProtocolError(
        ErrorCode.CONFLICT,
        `device ${u.device} is a pool device at ${before.location ?? 'its location'}: it is leased per job and cannot be ${u.to === null ? 'released (its lease ends with its job; cancel the job)' : 'transferred'}`,
        'device',
      );
    }
    if (before.agent_id === u.to) {
      return {
        device: u.device,
        from: before.agent_id,
        to: u.to,
        version: Number(before.binding_version),
        at: Number(before.bound_at ?? u.now),
        changed: false,
        row: before,
      };
    }
    if (before.reserved_by_job !== null && !u.force) {
      throw new ProtocolError(ErrorCode.RESERVED, `device ${u.device} is reserved by job ${before.reserved_by_job} until it completes`, 'device');
    }
    if (u.to !== null) {
      const target = await trx.selectFrom('agents').select(['disabled', 'device_limit']).where('id', '=', u.to).executeTakeFirst();
      if (!target || Number(target.disabled) === 1) throw new ProtocolError(ErrorCode.NOT_FOUND, `no active agent ${u.to}`, 'agent');
      const limit = target.device_limit === null ? u.defaultLimit : Number(target.device_limit);
      const held = await trx
        .selectFrom('devices')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('agent_id', '=', u.to)
        .where('mode', '=', 'owned')
        .executeTakeFirstOrThrow();
      if (Number(held.n) >= limit && !u.force) throw new ProtocolError(ErrorCode.LIMIT, `agent ${u.to} already holds ${limit} devices (their limit)`, 'agent');
    }
    const version = Number(before.binding_version);
    const done = await trx
      .updateTable('devices')
      .set({
        agent_id: u.to,
        bound_at: u.to === null ? null : u.now,
        bound_via: u.to === null ? null : 'transfer',
        reserved_by_job: u.force ? null : before.reserved_by_job,
        binding_version: version + 1,
      })
      .where('id', '=', u.device)
      .where('binding_version', '=', version)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) {
      throw new ProtocolError(ErrorCode.CONFLICT, `device ${u.device} changed hands concurrently; try again`, 'device');
    }
    const action = u.to === null ? 'release' : 'transfer';
    await appendAudit(trx, {
      at: u.now,
      actor: u.actor,
      action,
      device: u.device,
      agent: u.to ?? before.agent_id,
      detail: { from: before.agent_id, to: u.to, reason: u.reason ?? null, forced: u.force && before.reserved_by_job !== null, version: version + 1 },
    });
    await recordEvent(
      trx,
      'binding.changed',
      { device: u.device, action, from: before.agent_id, to: u.to, via: u.to === null ? null : 'transfer', actor: u.actor, version: version + 1 },
      u.now,
    );
    const row = await reread(trx, u.device);
    return { device: u.device, from: before.agent_id, to: u.to, version: version + 1, at: u.now, changed: true, row };
  });
}

export async function allBindings(db: Kysely<Database>): Promise<{ id: string; agent_id: string | null; binding_version: number }[]> {
  return db.selectFrom('devices').select(['id', 'agent_id', 'binding_version']).execute();
}
