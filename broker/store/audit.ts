// The append-only audit log. Writers call appendAudit inside the transaction that makes the change.
import type { Kysely } from 'kysely';
import type { AuditView } from '../../protocol/rest';
import { deferToCommit } from './commit-inserts';
import { prepared } from './prepared';
import type { AuditRow, Database } from './schema';

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  device?: string | null;
  agent?: string | null;
  detail?: Record<string, unknown>;
}

// Compiled once (prepared.ts): every change of the registry writes one.
const insertAudit = prepared(
  (db: Kysely<Database>, p: { at: number; actor: string; action: string; device: string | null; agent: string | null; detail: string }) =>
    db.insertInto('audit').values({ at: p.at, actor: p.actor, action: p.action, device: p.device, agent: p.agent, detail: p.detail }),
);

/**
 * Appends the entry in db's transaction. In a group commit the rows go in together at its end
 * (commit-inserts.ts), in the order they were appended, committing with the changes they record;
 * nothing reads the audit log inside a write.
 */
export async function appendAudit(db: Kysely<Database>, e: AuditEntry): Promise<void> {
  const row = { at: e.at, actor: e.actor, action: e.action, device: e.device ?? null, agent: e.agent ?? null, detail: JSON.stringify(e.detail ?? {}) };
  if (!deferToCommit(db, 'audit', row)) await insertAudit(db, row);
}

export interface AuditQuery {
  device?: string;
  agent?: string;
  action?: string;
  limit?: number;
  before?: number;
  after?: number;
}

export function auditView(r: AuditRow): AuditView {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    device: r.device,
    agent: r.agent,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  };
}

/**
 * Newest first; with `after` (a follower's cursor) oldest first instead, so a burst larger than
 * the limit is read in order over several calls rather than its oldest part skipped.
 */
export async function listAudit(db: Kysely<Database>, q: AuditQuery): Promise<AuditView[]> {
  let query = db
    .selectFrom('audit')
    .selectAll()
    .orderBy('seq', q.after === undefined ? 'desc' : 'asc')
    .limit(Math.min(q.limit ?? 200, 1000));
  if (q.device !== undefined) query = query.where('device', '=', q.device);
  if (q.agent !== undefined) query = query.where('agent', '=', q.agent);
  if (q.action !== undefined) query = query.where('action', '=', q.action);
  if (q.before !== undefined) query = query.where('seq', '<', q.before);
  if (q.after !== undefined) query = query.where('seq', '>', q.after);
  return (await query.execute()).map(auditView);
}

/** Whether any admin has ever logged in: until then the broker keeps pointing at the first-run credential. */
export async function adminHasLoggedIn(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('audit').select('seq').where('action', '=', 'login').where('actor', 'like', 'admin:%').limit(1).executeTakeFirst();
  return row !== undefined;
}
