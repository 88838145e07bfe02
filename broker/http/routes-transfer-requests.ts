// Transfer requests over REST (docs/architecture.md, "Transfer requests"): agents ask and see their
// own; admins list all and approve or decline.
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { CreateTransferRequestBodySchema, DecideTransferRequestBodySchema, TransferRequestViewSchema } from '../../protocol/rest-schemas';
import { optStr } from '../../protocol/validate';
import { TRANSFER_STATES, type TransferState, listTransferRequests } from '../store/transfer-requests';
import { decideTransfer, requestIdOf, requestTransfer, transferRequestView } from '../transfer-requests';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { arrayOf, q, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

function stateOf(raw: string | undefined): TransferState | undefined {
  if (raw === undefined) return undefined;
  if (!(TRANSFER_STATES as readonly string[]).includes(raw))
    throw new ProtocolError(ErrorCode.BAD_PARAMS, `state must be one of ${TRANSFER_STATES.join(', ')}`, 'state');
  return raw as TransferState;
}

export async function transferRequestRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'session', (session) => {
    session.post(
      '/api/transfer-requests',
      {
        schema: routeSchema({
          summary: 'Ask for a machine another agent holds (agents only)',
          tag: 'devices',
          auth: 'session',
          body: CreateTransferRequestBodySchema,
          response: { 201: TransferRequestViewSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        if (p.kind !== 'agent') throw new ProtocolError(ErrorCode.FORBIDDEN, 'only agents ask for transfers; admins transfer directly');
        const body = bodyOf(req.body);
        const target = body.device ?? body.code;
        if (target === undefined) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'device or code is required (the machine to ask for)', 'device');
        const note = optStr(body, 'note', { max: 500 }) ?? null;
        return reply.status(201).send(await requestTransfer(ctx, p.id, target, note));
      },
    );

    session.get<{ Querystring: { state?: string } }>(
      '/api/transfer-requests',
      {
        schema: routeSchema({
          summary: 'Transfer requests, newest first (an agent sees its own)',
          tag: 'devices',
          auth: 'session',
          query: { state: q('open, approved or declined') },
          response: { 200: arrayOf(TransferRequestViewSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        const state = stateOf(req.query.state);
        const admin = p.kind === 'admin';
        const rows = await listTransferRequests(ctx.db, { state, agent: admin ? undefined : p.id });
        return Promise.all(rows.map((r) => transferRequestView(ctx, r, admin)));
      },
    );
  });

  await inScope(app, ctx, 'admin', (admin) => {
    for (const action of ['approve', 'decline'] as const) {
      admin.post<{ Params: { id: string } }>(
        `/api/transfer-requests/:id/${action}`,
        {
          schema: routeSchema({
            summary: action === 'approve' ? 'Approve a transfer request: the machine is transferred to the requester' : 'Decline a transfer request',
            tag: 'devices',
            auth: 'admin',
            params: ['id'],
            body: DecideTransferRequestBodySchema,
            response: { 200: TransferRequestViewSchema },
          }),
        },
        async (req) => {
          const p = req.principal;
          const reason = (req.body ? optStr(bodyOf(req.body), 'reason', { max: 500 }) : undefined) ?? null;
          return decideTransfer(ctx, requestIdOf(req.params.id), action === 'approve', actorOf(p), reason);
        },
      );
    }
  });
}
