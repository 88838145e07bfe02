// Anonymous walk-up customer sessions (docs/architecture.md, "Walk-up orders"): opened by an
// order label, bound to that one machine, ended by inactivity or age. Only the token's hash is
// stored; the session id is public (it names the MQTT identity customer:<id>), the token is not.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { randomToken, tokenHash } from '../auth/secrets';
import type { Database } from '../store/schema';

export interface CustomerSession {
  id: string;
  device: string;
  /** When it ends if nothing else is asked of it. */
  expiresAt: number;
}

export async function openSession(
  db: Kysely<Database>,
  device: string,
  now: number,
  idleMs: number,
  maxMs: number,
): Promise<CustomerSession & { token: string }> {
  const id = randomBytes(8).toString('hex');
  const token = randomToken();
  await db
    .insertInto('customer_sessions')
    .values({ id, token_hash: tokenHash(token), device, created_at: now, last_used_at: now, idle_ms: idleMs, ends_at: now + maxMs })
    .execute();
  return { id, device, token, expiresAt: Math.min(now + idleMs, now + maxMs) };
}

const expired = (): ProtocolError => new ProtocolError(ErrorCode.SESSION_EXPIRED, 'this order session has ended; scan the machine again to start a new one');

/**
 * The session a token opens, counted as activity. `id`, when given (the session named in the
 * URL), must be the token's own: a token never acts for another session.
 */
export async function useCustomerSession(db: Kysely<Database>, token: string, now: number, id?: string): Promise<CustomerSession> {
  const row = await db.selectFrom('customer_sessions').selectAll().where('token_hash', '=', tokenHash(token)).executeTakeFirst();
  if (!row) throw new ProtocolError(ErrorCode.UNAUTHORIZED, 'not a customer session token');
  if (id !== undefined && row.id !== id) throw new ProtocolError(ErrorCode.FORBIDDEN, 'this token belongs to another order session', 'session');
  const idle = Number(row.idle_ms);
  if (Number(row.last_used_at) + idle <= now || Number(row.ends_at) <= now) throw expired();
  // Only a live session is extended; one that lapsed meanwhile stays ended.
  const touched = await db
    .updateTable('customer_sessions')
    .set({ last_used_at: now })
    .where('id', '=', row.id)
    .where('last_used_at', '>', now - idle)
    .executeTakeFirst();
  if (Number(touched.numUpdatedRows) === 0) throw expired();
  return { id: row.id, device: row.device, expiresAt: Math.min(now + idle, Number(row.ends_at)) };
}

export async function orderOwner(db: Kysely<Database>, order: string): Promise<string | null> {
  const row = await db.selectFrom('orders').select('session').where('id', '=', order).executeTakeFirst();
  return row?.session ?? null;
}

export async function endSession(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable('customer_sessions').set({ ends_at: 0 }).where('id', '=', id).execute();
}
