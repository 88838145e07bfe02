// Admin registration of webhook endpoints, their delivery history and redelivery.
import type { FastifyInstance } from 'fastify';
import { CreateWebhookBodySchema, NewWebhookSchema, PatchWebhookBodySchema, WebhookDeliveryViewSchema, WebhookViewSchema } from '../../protocol/rest-schemas';
import { arrayOf, q, routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { type Obj, optBool, optStr } from '../../protocol/validate';
import { WEBHOOK_EVENTS } from '../../protocol/webhooks';
import { randomToken } from '../auth/secrets';
import type { Context } from '../context';
import { checkTarget, parseWebhookUrl } from '../webhooks/address';
import {
  type WebhookPatch,
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  redeliver,
  updateWebhook,
  webhookView,
} from '../webhooks/store';
import { actorOf } from './auth';
import { bodyOf, optInt } from './body';
import { type RoutesOptions, inScope } from './scopes';

/** What this module reads of the node's context. */
type RoutesWebhooksContext = Pick<Context, 'db' | 'log' | 'now' | 'opts'>;

function events(body: Obj): string[] {
  const v = body.events;
  if (!Array.isArray(v) || v.length === 0)
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `events must be a non-empty array of: ${WEBHOOK_EVENTS.join(', ')}`, 'events');
  for (const [i, e] of v.entries()) {
    if (typeof e !== 'string' || !(WEBHOOK_EVENTS as readonly string[]).includes(e))
      throw new ProtocolError(ErrorCode.BAD_REQUEST, `events[${i}] must be one of: ${WEBHOOK_EVENTS.join(', ')}`, 'events');
  }
  return [...new Set(v as string[])];
}

async function url(ctx: RoutesWebhooksContext, value: string): Promise<string> {
  const u = parseWebhookUrl(value);
  await checkTarget(u, ctx.opts.webhooks.allowPrivate);
  return u.toString();
}

const secretOpts = { min: 16, max: 256 };

export async function webhookRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.post(
      '/api/webhooks',
      {
        schema: routeSchema({
          summary: 'Register a webhook endpoint',
          tag: 'webhooks',
          auth: 'admin',
          body: CreateWebhookBodySchema,
          response: { 201: NewWebhookSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const target = await url(ctx, optStr(body, 'url', { min: 1, max: 2048 }) ?? '');
        const list = events(body);
        const given = optStr(body, 'secret', secretOpts);
        const secret = given ?? randomToken(32);
        const row = await createWebhook(ctx.db, { url: target, events: list, secret }, actorOf(p), ctx.now());
        ctx.log.info({ webhook: row.id, url: target, events: list, actor: actorOf(p) }, 'webhook registered');
        return reply.status(201).send({ ...webhookView(row), ...(given === undefined ? { secret } : {}) });
      },
    );

    admin.get(
      '/api/webhooks',
      {
        schema: routeSchema({
          summary: 'Every webhook endpoint (without secrets)',
          tag: 'webhooks',
          auth: 'admin',
          response: { 200: arrayOf(WebhookViewSchema) },
        }),
      },
      async () => {
        return (await listWebhooks(ctx.db)).map(webhookView);
      },
    );

    admin.get<{ Params: { id: string } }>(
      '/api/webhooks/:id',
      { schema: routeSchema({ summary: 'One webhook endpoint', tag: 'webhooks', auth: 'admin', params: ['id'], response: { 200: WebhookViewSchema } }) },
      async (req) => {
        return webhookView(await getWebhook(ctx.db, req.params.id));
      },
    );

    admin.patch<{ Params: { id: string } }>(
      '/api/webhooks/:id',
      {
        schema: routeSchema({
          summary: 'Change, re-enable or disable an endpoint',
          tag: 'webhooks',
          auth: 'admin',
          params: ['id'],
          body: PatchWebhookBodySchema,
          response: { 200: WebhookViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const patch: WebhookPatch = {};
        const u = optStr(body, 'url', { min: 1, max: 2048 });
        if (u !== undefined) patch.url = await url(ctx, u);
        if (body.events !== undefined) patch.events = events(body);
        const secret = optStr(body, 'secret', secretOpts);
        if (secret !== undefined) patch.secret = secret;
        const enabled = optBool(body, 'enabled');
        if (enabled !== undefined) patch.enabled = enabled;
        await updateWebhook(ctx.db, req.params.id, patch, actorOf(p), ctx.now());
        return webhookView(await getWebhook(ctx.db, req.params.id));
      },
    );

    admin.delete<{ Params: { id: string } }>(
      '/api/webhooks/:id',
      {
        schema: routeSchema({
          summary: 'Remove an endpoint; its pending deliveries are dropped',
          tag: 'webhooks',
          auth: 'admin',
          params: ['id'],
          response: { 204: null },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        await deleteWebhook(ctx.db, req.params.id, actorOf(p), ctx.now());
        return reply.status(204).send();
      },
    );

    admin.get<{ Params: { id: string }; Querystring: { limit?: string; before?: string } }>(
      '/api/webhooks/:id/deliveries',
      {
        schema: routeSchema({
          summary: 'Deliveries newest first, with attempts, status codes and latencies',
          tag: 'webhooks',
          auth: 'admin',
          params: ['id'],
          query: { limit: q('1-1000, default 100'), before: q('deliveries before this seq') },
          response: { 200: arrayOf(WebhookDeliveryViewSchema) },
        }),
      },
      async (req) => {
        await getWebhook(ctx.db, req.params.id);
        return listDeliveries(
          ctx.db,
          req.params.id,
          optInt(req.query.limit, 'limit', 1000) ?? 100,
          optInt(req.query.before, 'before', Number.MAX_SAFE_INTEGER),
        );
      },
    );

    admin.post<{ Params: { id: string; seq: string } }>(
      '/api/webhooks/:id/deliveries/:seq/redeliver',
      {
        schema: routeSchema({
          summary: 'Queue a delivery again now',
          tag: 'webhooks',
          auth: 'admin',
          params: ['id', 'seq'],
          response: {
            202: {
              type: 'object',
              required: ['delivery', 'state'],
              properties: { delivery: { type: 'integer' }, state: { type: 'string', enum: ['pending'] } },
            },
          },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const seq = optInt(req.params.seq, 'seq', Number.MAX_SAFE_INTEGER)!;
        await redeliver(ctx.db, req.params.id, seq, actorOf(p), ctx.now());
        return reply.status(202).send({ delivery: seq, state: 'pending' });
      },
    );
  });
}
