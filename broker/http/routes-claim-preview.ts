// What the claim screen shows before the agent presses Claim: the machine the scanned label (or
// typed code) names, its model and presence, and whether it is free. It resolves targets exactly
// as a claim does, so a forged label is "not valid" here too. Who holds a machine is shown to
// admins only; an agent learns only "another agent, since".
import type { FastifyInstance } from 'fastify';
import { ClaimPreviewSchema } from '../../protocol/rest-schemas';
import { q, routeSchema } from './route-schema';
import { parseClaimTarget } from '../../protocol/claim-target';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { ClaimPreview } from '../../protocol/rest';
import { resolveTarget } from '../claims';
import { type RoutesOptions, inScope } from './scopes';

export async function claimPreviewRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'session', (session) => {
    session.get<{ Querystring: { target?: string } }>(
      '/api/claim-preview',
      {
        schema: routeSchema({
          summary: 'What a claim of this label, machine code or device id would bind',
          tag: 'devices',
          auth: 'session',
          query: { target: q('a label URL, a machine code or a device id') },
          response: { 200: ClaimPreviewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        if (req.query.target === undefined)
          throw new ProtocolError(ErrorCode.BAD_REQUEST, 'target is required (a label URL, a machine code or a device id)', 'target');
        const { row } = await resolveTarget(ctx, parseClaimTarget(req.query.target));
        const agent = row.agent_id;
        const preview: ClaimPreview = {
          device: row.id,
          machineCode: row.machine_code,
          model: row.model,
          presence: ctx.presence.status(row.id),
          holder: agent === null ? null : p.kind === 'agent' && agent === p.id ? 'you' : 'other',
          since: row.bound_at === null ? null : Number(row.bound_at),
        };
        return p.kind === 'admin' ? { ...preview, agent } : preview;
      },
    );
  });
}
