// Agents, admins and login sessions.
import type { Kysely } from 'kysely';
import type { AgentView } from '../../protocol/rest';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { appendAudit } from './audit';
import { first, prepared } from './prepared';
import type { AgentRow, Database, SessionRow } from './schema';

export function agentView(r: AgentRow): AgentView {
  return {
    id: r.id,
    name: r.name,
    disabled: Number(r.disabled) === 1,
    deviceLimit: r.device_limit === null ? null : Number(r.device_limit),
    createdAt: Number(r.created_at),
  };
}

export async function createAgent(
  db: Kysely<Database>,
  a: { id: string; name: string; passwordHash: string; deviceLimit: number | null },
  actor: string,
  now: number,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const exists = await trx.selectFrom('agents').select('id').where('id', '=', a.id).executeTakeFirst();
    if (exists) throw new ProtocolError(ErrorCode.CONFLICT, `agent ${a.id} already exists`, 'id');
    await trx
      .insertInto('agents')
      .values({ id: a.id, name: a.name, password_hash: a.passwordHash, disabled: 0, device_limit: a.deviceLimit, claim_seq: 0, created_at: now })
      .execute();
    await appendAudit(trx, { at: now, actor, action: 'agent.created', agent: a.id, detail: { name: a.name } });
  });
}

export interface AgentPatch {
  name?: string;
  passwordHash?: string;
  disabled?: boolean;
  deviceLimit?: number | null;
}

/** Returns the token hashes of the sessions it ended (a disabled agent, a changed password). */
export async function updateAgent(db: Kysely<Database>, id: string, p: AgentPatch, actor: string, now: number): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    const set: Partial<AgentRow> = {};
    if (p.name !== undefined) set.name = p.name;
    if (p.passwordHash !== undefined) set.password_hash = p.passwordHash;
    if (p.disabled !== undefined) set.disabled = p.disabled ? 1 : 0;
    if (p.deviceLimit !== undefined) set.device_limit = p.deviceLimit;
    if (Object.keys(set).length === 0) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'nothing to change');
    const r = await trx.updateTable('agents').set(set).where('id', '=', id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no agent ${id}`, 'id');
    let ended: string[] = [];
    if (p.disabled === true || p.passwordHash !== undefined) {
      const q = trx.selectFrom('sessions').select('token_hash').where('kind', '=', 'agent').where('subject', '=', id);
      ended = (await q.execute()).map((r) => r.token_hash);
      await trx.deleteFrom('sessions').where('kind', '=', 'agent').where('subject', '=', id).execute();
    }
    const changed = Object.keys(p).filter((k) => k !== 'passwordHash');
    if (p.passwordHash !== undefined) changed.push('password');
    await appendAudit(trx, { at: now, actor, action: 'agent.updated', agent: id, detail: { changed, disabled: p.disabled ?? null } });
    return ended;
  });
}

// Compiled once (prepared.ts): each binding change reads the agent for the device's config.
const agentById = prepared((db: Kysely<Database>, p: { id: string }) => db.selectFrom('agents').selectAll().where('id', '=', p.id));

export async function getAgent(db: Kysely<Database>, id: string): Promise<AgentRow | undefined> {
  return first(agentById(db, { id }));
}

export async function listAgents(db: Kysely<Database>): Promise<AgentRow[]> {
  return db.selectFrom('agents').selectAll().orderBy('id').execute();
}

export async function getAdmin(db: Kysely<Database>, name: string): Promise<{ name: string; password_hash: string } | undefined> {
  return db.selectFrom('admins').select(['name', 'password_hash']).where('name', '=', name).executeTakeFirst();
}

export async function countAdmins(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('admins')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function createAdmin(db: Kysely<Database>, name: string, passwordHash: string, actor: string, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('admins').values({ name, password_hash: passwordHash, created_at: now }).execute();
    await appendAudit(trx, { at: now, actor, action: 'admin.created', detail: { name } });
  });
}

export async function createSession(db: Kysely<Database>, s: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(s).execute();
}

/** The session row as stored, without sliding its expiry. */
export async function findSession(db: Kysely<Database>, hash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

/** Returns the live session for a token hash and slides its idle expiry; undefined if expired. */
export async function useSession(db: Kysely<Database>, hash: string, now: number, idleMs: number): Promise<SessionRow | undefined> {
  const s = await db.selectFrom('sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  if (!s) return undefined;
  if (Number(s.expires_at) <= now) {
    await db.deleteFrom('sessions').where('token_hash', '=', hash).execute();
    return undefined;
  }
  await db
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: now + idleMs })
    .where('token_hash', '=', hash)
    .execute();
  return s;
}

export async function deleteSession(db: Kysely<Database>, hash: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', hash).execute();
}
