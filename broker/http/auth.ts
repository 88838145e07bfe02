// Bearer-token principals for the REST API: a login session, or the operator's admin token.
import type { FastifyRequest } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { constantTimeEqual, tokenHash } from '../auth/secrets';
import { type JwtAgentContext, agentFromToken, noteRefusal, restError } from '../auth/jwt-agent';
import { JwtVerifier, TokenRefused } from '../auth/jwt';
import type { Context } from '../context';
import { useSession } from '../store/accounts';

/** What this module reads of the node's context. */
type AuthContext = Pick<Context, 'db' | 'jwt' | 'now' | 'opts'> & JwtAgentContext;

export interface Principal {
  kind: 'agent' | 'admin';
  id: string;
  tokenHash: string | null;
}

/** The request's bearer token, or '' when it has none. */
export function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : '';
}

export async function principalOf(ctx: AuthContext, req: FastifyRequest): Promise<Principal> {
  const token = bearerToken(req);
  if (token === '') throw new ProtocolError(ErrorCode.UNAUTHORIZED, 'missing bearer token');
  if (ctx.opts.adminToken !== undefined && constantTimeEqual(token, ctx.opts.adminToken)) return { kind: 'admin', id: 'token', tokenHash: null };
  if (ctx.jwt !== null && JwtVerifier.looksLikeJwt(token)) {
    try {
      return { kind: 'agent', id: (await agentFromToken(ctx, ctx.jwt, token)).agent, tokenHash: null };
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      noteRefusal(ctx, 'rest', err, { ip: req.ip, route: req.routeOptions.url });
      throw restError(err);
    }
  }
  const hash = tokenHash(token);
  const s = await useSession(ctx.db, hash, ctx.now(), ctx.opts.sessionIdleMs);
  if (!s) throw new ProtocolError(ErrorCode.UNAUTHORIZED, 'session expired or unknown; log in again');
  return { kind: s.kind, id: s.subject, tokenHash: hash };
}

export async function requireAdmin(ctx: AuthContext, req: FastifyRequest): Promise<Principal> {
  const p = await principalOf(ctx, req);
  if (p.kind !== 'admin') throw new ProtocolError(ErrorCode.FORBIDDEN, 'admin only');
  return p;
}

export function actorOf(p: Principal): string {
  return `${p.kind}:${p.id}`;
}
