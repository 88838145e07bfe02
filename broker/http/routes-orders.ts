// Walk-up customers' REST API (docs/architecture.md, "Walk-up orders"): open a session from an
// order label, upload a design, order, follow and cancel its own orders. The bearer token is the
// customer session's; the session in the path must be the token's own. Uploads and orders are
// rate-limited per address before anything else, and per session once its token is checked
// (cluster-wide on Redis in a cluster).
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import {
  designUploadBody,
  OpenSessionBodySchema,
  OpenedSessionSchema,
  PlaceOrderBodySchema,
  OrderViewSchema,
  SessionStateSchema,
  UploadedDesignSchema,
} from '../../protocol/order-schemas';
import { routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

const HOUR_MS = 3600_000;

/** A per-hour limit keyed by the client address; the session's own count is kept after its token is checked (orders/session-hourly.ts). */
function hourly(app: FastifyInstance, name: string, max: number): onRequestHookHandler {
  const refuse = (_req: FastifyRequest, c: { ttl: number; max: number }): ProtocolError =>
    new ProtocolError(ErrorCode.RATE_LIMITED, `at most ${c.max} ${name} an hour; try again in ${Math.ceil(c.ttl / 1000)} s`, undefined, {
      retryAfterMs: c.ttl,
    });
  return app.rateLimit({
    max,
    timeWindow: HOUR_MS,
    hook: 'onRequest',
    errorResponseBuilder: refuse,
    groupId: `${name}-ip`,
    keyGenerator: (req) => `${name}:ip:${req.ip}`,
  }) as unknown as onRequestHookHandler;
}

export async function orderRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  const o = ctx.opts.orders;
  app.post<{ Body: { label: string } }>(
    '/api/orders/sessions',
    {
      schema: routeSchema({
        summary: 'Open a walk-up order session from a scanned order label',
        tag: 'orders',
        auth: 'none',
        body: OpenSessionBodySchema,
        response: { 201: OpenedSessionSchema },
      }),
      onRequest: hourly(app, 'sessions', o.ordersPerHour * 6),
    },
    async (req, reply) => reply.status(201).send(await ctx.orders.open(req.body.label)),
  );

  await inScope(app, ctx, 'customer', (customer) => {
    customer.get<{ Params: { session: string } }>(
      '/api/orders/:session',
      {
        schema: routeSchema({
          summary: 'The session: its machine and its own orders (counts as activity)',
          tag: 'orders',
          auth: 'customer',
          params: ['session'],
          response: { 200: SessionStateSchema },
        }),
      },
      async (req) => ctx.orders.state(req.customer),
    );

    customer.post<{ Params: { session: string } }>(
      '/api/orders/:session/designs',
      {
        schema: routeSchema({
          summary: 'Upload a design (multipart, one file: PNG, JPEG or WebP)',
          tag: 'orders',
          auth: 'customer',
          params: ['session'],
          multipart: designUploadBody(o.uploadMaxBytes),
          response: { 201: UploadedDesignSchema },
        }),
        bodyLimit: o.uploadMaxBytes + 64 * 1024,
        onRequest: hourly(app, 'uploads', o.uploadsPerHour),
      },
      async (req, reply) => {
        const s = req.customer;
        await ctx.orders.uploadsHourly.take(s.id);
        if (!req.isMultipart()) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'send the design as multipart/form-data with one file', 'file');
        const part = await req.file({ limits: { fileSize: o.uploadMaxBytes, files: 1, fields: 4, parts: 5 } });
        if (!part) throw new ProtocolError(ErrorCode.BAD_REQUEST, 'no file in the upload', 'file');
        const bytes = await part.toBuffer().catch((err: { code?: string }) => {
          if (err.code === 'FST_REQ_FILE_TOO_LARGE')
            throw new ProtocolError(ErrorCode.TOO_LARGE, `the design is larger than ${o.uploadMaxBytes} bytes`, 'file');
          throw err;
        });
        await ctx.orders.uploadBytes.take({ session: s.id, machine: s.device, address: req.ip }, bytes.length);
        return reply.status(201).send(await ctx.orders.upload(s, bytes));
      },
    );

    customer.post<{ Params: { session: string }; Body: { design: string; copies?: number; machine?: string } }>(
      '/api/orders/:session/orders',
      {
        schema: routeSchema({
          summary: "Order a print of an uploaded design on the session's machine",
          tag: 'orders',
          auth: 'customer',
          params: ['session'],
          body: PlaceOrderBodySchema,
          response: { 201: OrderViewSchema },
        }),
        onRequest: hourly(app, 'orders', o.ordersPerHour),
      },
      async (req, reply) => {
        const s = req.customer;
        await ctx.orders.ordersHourly.take(s.id);
        return reply.status(201).send(await ctx.orders.submit(s, req.body));
      },
    );

    customer.post<{ Params: { session: string; order: string } }>(
      '/api/orders/:session/orders/:order/cancel',
      {
        schema: routeSchema({
          summary: 'Cancel one of its own orders while it waits',
          tag: 'orders',
          auth: 'customer',
          params: ['session', 'order'],
          response: { 200: OrderViewSchema },
        }),
      },
      async (req) => ctx.orders.cancel(req.customer, req.params.order),
    );
  });
}
