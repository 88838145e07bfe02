// Admins see and clear login blocks (rate-limit.ts): who is blocked from where, and for how long.
import type { FastifyInstance } from 'fastify';
import { ClearBlocksBodySchema, LoginBlockViewSchema } from '../../protocol/rest-schemas';
import { arrayOf, routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { optStr } from '../../protocol/validate';
import type { Context } from '../context';
import { appendAudit } from '../store/audit';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { type RoutesOptions, inScope } from './scopes';

/** What this module reads of the node's context. */
type RoutesBlocksContext = Pick<Context, 'db' | 'log' | 'now' | 'throttle'>;

/** Clears the matching blocks (on every node in a cluster) and audits who did it; returns how many were cleared. */
export async function clearBlocks(ctx: RoutesBlocksContext, match: { subject?: string; address?: string }, actor: string): Promise<number> {
  const cleared = await ctx.throttle.clear(match);
  const agent = match.subject?.startsWith('agent:') ? match.subject.slice(6) : null;
  await appendAudit(ctx.db, { at: ctx.now(), actor, action: 'login_blocks.cleared', agent, detail: { ...match, cleared } });
  ctx.log.info({ ...match, cleared, actor }, 'login blocks cleared');
  return cleared;
}

export async function blockRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.get(
      '/api/blocks',
      {
        schema: routeSchema({
          summary: 'Current failed-login blocks (of the whole cluster)',
          tag: 'agents',
          auth: 'admin',
          response: { 200: arrayOf(LoginBlockViewSchema) },
        }),
      },
      async () => {
        return await ctx.throttle.blocks(ctx.now());
      },
    );

    admin.post(
      '/api/blocks/clear',
      {
        schema: routeSchema({
          summary: 'Clear login blocks by subject, address or both',
          tag: 'agents',
          auth: 'admin',
          body: ClearBlocksBodySchema,
          response: { 200: { type: 'object', required: ['cleared'], properties: { cleared: { type: 'integer' } } } },
        }),
      },
      async (req) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const subject = optStr(body, 'subject', { min: 1, max: 200 });
        const address = optStr(body, 'address', { min: 1, max: 100 });
        if (subject === undefined && address === undefined)
          throw new ProtocolError(ErrorCode.BAD_REQUEST, 'name a subject (e.g. agent:263, device:esp32-…), an address, or both');
        return {
          cleared: await clearBlocks(ctx, { ...(subject === undefined ? {} : { subject }), ...(address === undefined ? {} : { address }) }, actorOf(p)),
        };
      },
    );
  });
}
