// Fleet enrollment tokens: expiring, limited-use. Only a hash of each token is stored.
import { type Kysely, sql } from 'kysely';
import type { EnrollmentTokenView } from '../../protocol/rest';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { appendAudit } from './audit';
import type { Database, EnrollmentTokenRow } from './schema';

export function tokenView(r: EnrollmentTokenRow): EnrollmentTokenView {
  return {
    id: r.id,
    usesTotal: Number(r.uses_total),
    usesLeft: Number(r.uses_left),
    expiresAt: Number(r.expires_at),
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    allowMachineCodes: Number(r.allow_machine_codes) === 1,
  };
}

export interface NewEnrollmentToken {
  id: string;
  hash: string;
  uses: number;
  expiresAt: number;
  allowMachineCodes: boolean;
}

export async function createEnrollmentToken(db: Kysely<Database>, t: NewEnrollmentToken, actor: string, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('enrollment_tokens')
      .values({
        id: t.id,
        token_hash: t.hash,
        uses_total: t.uses,
        uses_left: t.uses,
        expires_at: t.expiresAt,
        created_at: now,
        created_by: actor,
        revoked_at: null,
        allow_machine_codes: t.allowMachineCodes ? 1 : 0,
      })
      .execute();
    await appendAudit(trx, {
      at: now,
      actor,
      action: 'enroll_token.created',
      detail: { token: t.id, uses: t.uses, expiresAt: t.expiresAt, allowMachineCodes: t.allowMachineCodes },
    });
  });
}

export async function findEnrollmentToken(db: Kysely<Database>, hash: string): Promise<EnrollmentTokenRow | undefined> {
  return db.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export function tokenProblem(t: EnrollmentTokenRow, now: number): ProtocolError | null {
  if (t.revoked_at !== null) return new ProtocolError(ErrorCode.TOKEN_EXPIRED, 'enrollment token was revoked');
  if (Number(t.expires_at) <= now)
    return new ProtocolError(ErrorCode.TOKEN_EXPIRED, `enrollment token expired at ${new Date(Number(t.expires_at)).toISOString()}`);
  if (Number(t.uses_left) <= 0) return new ProtocolError(ErrorCode.TOKEN_USED_UP, 'enrollment token has no uses left');
  return null;
}

/**
 * A retried enrollment of the same device uses no new use, but the token must still be live.
 * Returns whether the token lets its devices announce a machine code.
 */
export async function checkEnrollmentToken(trx: Kysely<Database>, id: string, now: number): Promise<{ allowMachineCodes: boolean }> {
  const t = await trx.selectFrom('enrollment_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (!t) throw new ProtocolError(ErrorCode.TOKEN_EXPIRED, 'enrollment token is no longer valid');
  const problem = tokenProblem(t, now);
  if (problem && problem.code !== ErrorCode.TOKEN_USED_UP) throw problem;
  return { allowMachineCodes: Number(t.allow_machine_codes) === 1 };
}

/**
 * Takes one use of a token inside the caller's transaction; throws the specific reason if it can't.
 * Returns whether the token lets its devices announce a machine code.
 */
export async function consumeEnrollmentToken(trx: Kysely<Database>, id: string, now: number): Promise<{ allowMachineCodes: boolean }> {
  const r = await trx
    .updateTable('enrollment_tokens')
    .set({ uses_left: sql`uses_left - 1` })
    .where('id', '=', id)
    .where('uses_left', '>', 0)
    .where('expires_at', '>', now)
    .where('revoked_at', 'is', null)
    .returning('allow_machine_codes')
    .executeTakeFirst();
  if (r) return { allowMachineCodes: Number(r.allow_machine_codes) === 1 };
  const t = await trx.selectFrom('enrollment_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  throw (t && tokenProblem(t, now)) ?? new ProtocolError(ErrorCode.TOKEN_EXPIRED, 'enrollment token is no longer valid');
}

export async function listEnrollmentTokens(db: Kysely<Database>): Promise<EnrollmentTokenRow[]> {
  return db.selectFrom('enrollment_tokens').selectAll().orderBy('created_at', 'desc').execute();
}

export async function revokeEnrollmentToken(db: Kysely<Database>, id: string, actor: string, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const r = await trx.updateTable('enrollment_tokens').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no active enrollment token ${id}`, 'id');
    await appendAudit(trx, { at: now, actor, action: 'enroll_token.revoked', detail: { token: id } });
  });
}
