// Login, logout and "who am I" for agents and admins.
import type { FastifyInstance } from 'fastify';
import { LoginBodySchema, MeSchema, SessionSchema } from '../../protocol/rest-schemas';
import { routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { str } from '../../protocol/validate';
import { randomToken, tokenHash, verifySecret } from '../auth/secrets';
import { createSession, deleteSession, getAdmin, getAgent } from '../store/accounts';
import { appendAudit } from '../store/audit';
import { credentialKey } from '../live-credentials';
import { bodyOf } from './body';
import { type RoutesOptions, inScope } from './scopes';

export async function sessionRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  app.post(
    '/api/login',
    {
      schema: routeSchema({
        summary: 'Log in as an agent (its id) or an admin (admin:<name>)',
        tag: 'session',
        auth: 'none',
        body: LoginBodySchema,
        response: { 200: SessionSchema },
      }),
    },
    async (req, reply) => {
      const body = bodyOf(req.body);
      const rawId = body.id;
      const isAdmin = typeof rawId === 'string' && rawId.trim().toLowerCase().startsWith('admin:');
      const id = normaliseId(isAdmin ? (rawId as string).trim().slice(6) : rawId, isAdmin ? 'admin name' : 'agent id', 'id');
      const password = str(body, 'password', { min: 1, max: 256 });
      const user = `${isAdmin ? 'admin' : 'agent'}:${id}`;
      const now = ctx.now();
      // Per (user, address) and per address, and a higher ceiling per user: an attacker elsewhere
      // cannot lock the user out (rate-limit.ts).
      const wait = await ctx.throttle.retryAfterMs(user, req.ip, now, { address: true, subject: true });
      if (wait > 0) {
        ctx.metrics.authFailures.inc({ kind: 'login', reason: 'rate-limited' });
        reply.header('retry-after', Math.ceil(wait / 1000));
        throw new ProtocolError(ErrorCode.RATE_LIMITED, `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`);
      }
      const row = isAdmin ? await getAdmin(ctx.db, id) : await getAgent(ctx.db, id);
      // Verify against a real hash even for unknown ids, so timing does not reveal which ids exist.
      const ok = await verifySecret(password, row?.password_hash ?? ctx.dummyHash);
      if (!row || !ok) {
        await ctx.throttle.fail(user, req.ip, now);
        ctx.metrics.authFailures.inc({ kind: 'login', reason: 'bad-credentials' });
        ctx.log.warn({ user, ip: req.ip }, 'login refused');
        await appendAudit(ctx.db, { at: now, actor: user, action: 'login.failed', agent: isAdmin || !row ? null : id, detail: { ip: req.ip } });
        throw new ProtocolError(ErrorCode.UNAUTHORIZED, 'wrong id or password');
      }
      if (!isAdmin && 'disabled' in row && Number(row.disabled) === 1)
        throw new ProtocolError(ErrorCode.FORBIDDEN, 'this agent is disabled; ask your supervisor');
      const token = randomToken(32);
      const expiresAt = now + ctx.opts.sessionIdleMs;
      await createSession(ctx.db, {
        token_hash: tokenHash(token),
        kind: isAdmin ? 'admin' : 'agent',
        subject: id,
        created_at: now,
        last_used_at: now,
        expires_at: expiresAt,
      });
      await appendAudit(ctx.db, { at: now, actor: user, action: 'login', agent: isAdmin ? null : id, detail: { ip: req.ip } });
      const name = 'name' in row ? row.name : id;
      return { token, kind: isAdmin ? 'admin' : 'agent', id, name, username: user, expiresAt, idleTimeoutMs: ctx.opts.sessionIdleMs };
    },
  );

  await inScope(app, ctx, 'session', (session) => {
    session.post(
      '/api/logout',
      { schema: routeSchema({ summary: 'End this session', tag: 'session', auth: 'session', response: { 204: null } }) },
      async (req, reply) => {
        const p = req.principal;
        if (p.tokenHash !== null) {
          await deleteSession(ctx.db, p.tokenHash);
          // The session's live MQTT connections end with it, on every node.
          await ctx.kick({ kind: 'credential', id: credentialKey.session(p.tokenHash) }, 'kicked');
        }
        return reply.status(204).send();
      },
    );

    session.get(
      '/api/me',
      { schema: routeSchema({ summary: 'Who this token is', tag: 'session', auth: 'session', response: { 200: MeSchema } }) },
      async (req) => {
        const p = req.principal;
        const name = p.kind === 'agent' ? ((await getAgent(ctx.db, p.id))?.name ?? p.id) : p.id;
        return { kind: p.kind, id: p.id, name, username: `${p.kind}:${p.id}` };
      },
    );
  });
}
