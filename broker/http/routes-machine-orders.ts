// The operator's side of walk-up orders (docs/architecture.md, "Walk-up orders"): every order on
// the machines the agent holds, cancel any of them or move a waiting one in its queue (audited),
// put a machine in maintenance;
// admins also open or close a machine to orders.
import type { FastifyInstance } from 'fastify';
import { normaliseId } from '../../protocol/ids';
import { MoveOrderBodySchema, OrderSettingsBodySchema, OrderSettingsSchema, OrderViewSchema } from '../../protocol/order-schemas';
import { arrayOf, q, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

export async function machineOrderRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'session', (session) => {
    session.get<{ Querystring: { device?: string } }>(
      '/api/machine-orders',
      {
        schema: routeSchema({
          summary: "Walk-up orders on the caller's machines (all machines for an admin), newest first",
          tag: 'orders',
          auth: 'session',
          query: { device: q('only this device') },
          response: { 200: arrayOf(OrderViewSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        return ctx.orders.forOperator(p, req.query.device === undefined ? undefined : normaliseId(req.query.device, 'device id', 'device'));
      },
    );

    session.post<{ Params: { order: string } }>(
      '/api/machine-orders/:order/cancel',
      {
        schema: routeSchema({
          summary: 'Cancel a walk-up order on your machine, waiting or printing (audited)',
          tag: 'orders',
          auth: 'session',
          params: ['order'],
          response: { 200: OrderViewSchema },
        }),
      },
      async (req) => ctx.orders.operatorCancel(req.principal, req.params.order),
    );

    session.post<{ Params: { order: string }; Body: { position: number } }>(
      '/api/machine-orders/:order/move',
      {
        schema: routeSchema({
          summary: 'Move a waiting walk-up order to another place in its machine queue (1 = next to print; audited)',
          tag: 'orders',
          auth: 'session',
          params: ['order'],
          body: MoveOrderBodySchema,
          response: { 200: OrderViewSchema },
        }),
      },
      async (req) => ctx.orders.operatorMove(req.principal, req.params.order, req.body.position),
    );

    session.get<{ Params: { id: string } }>(
      '/api/devices/:id/order-settings',
      {
        schema: routeSchema({
          summary: 'Whether a machine takes walk-up orders and is in maintenance (its agent or an admin)',
          tag: 'orders',
          auth: 'session',
          params: ['id'],
          response: { 200: OrderSettingsSchema },
        }),
      },
      async (req) => ctx.orders.settingsOf(req.principal, normaliseId(req.params.id, 'device id', 'id')),
    );

    session.post<{ Params: { id: string }; Body: { enabled?: boolean; maintenance?: boolean } }>(
      '/api/devices/:id/order-settings',
      {
        schema: routeSchema({
          summary: 'Open a machine to walk-up orders (admin) or put it in maintenance (its agent or an admin); audited',
          tag: 'orders',
          auth: 'session',
          params: ['id'],
          body: OrderSettingsBodySchema,
          response: { 200: OrderSettingsSchema },
        }),
      },
      async (req) => ctx.orders.settings(req.principal, normaliseId(req.params.id, 'device id', 'id'), req.body),
    );
  });
}
