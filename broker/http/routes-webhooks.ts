// Admin registration of webhook endpoints, their delivery history and redelivery.
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { type Obj, optBool, optStr } from '../../protocol/validate';
import { WEBHOOK_EVENTS } from '../../protocol/webhooks';
import { randomToken } from '../auth/secrets';
import type { Context } from '../context';
import { checkTarget, parseWebhookUrl } from '../webhooks/address';
import { type WebhookPatch, createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, redeliver, updateWebhook, webhookView } from '../webhooks/store';
import { actorOf, requireAdmin } from './auth';
import { bodyOf, optInt } from './body';

function events(body: Obj): string[] {
  const v = body.events;
  if (!Array.isArray(v) || v.length === 0) throw new ProtocolError(ErrorCode.BAD_REQUEST, `events must be a non-empty array of: ${WEBHOOK_EVENTS.join(', ')}`, 'events');
  for (const [i, e] of v.entries()) {
    if (typeof e !== 'string' || !(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw new ProtocolError(ErrorCode.BAD_REQUEST, `events[${i}] must be one of: ${WEBHOOK_EVENTS.join(', ')}`, 'events');
  }
  return [...new Set(v as string[])];
}

async function url(ctx: Context, value: string): Promise<string> {
  const u = parseWebhookUrl(value);
  await checkTarget(u, ctx.opts.webhooks.allowPrivate);
  return u.toString();
}

const secretOpts = { min: 16, max: 256 };

export function webhookRoutes(app: FastifyInstance, ctx: Context): void {
  app.post('/api/webhooks', async (req, reply) => {
    const p = await requireAdmin(ctx, req);
    const body = bodyOf(req.body);
    const target = await url(ctx, optStr(body, 'url', { min: 1, max: 2048 }) ?? '');
    const list = events(body);
    const given = optStr(body, 'secret', secretOpts);
    const secret = given ?? randomToken(32);
    const row = await createWebhook(ctx.db, { url: target, events: list, secret }, actorOf(p), ctx.now());
    ctx.log.info({ webhook: row.id, url: target, events: list, actor: actorOf(p) }, 'webhook registered');
    return reply.status(201).send({ ...webhookView(row), ...(given === undefined ? { secret } : {}) });
  });

  app.get('/api/webhooks', async (req) => {
    await requireAdmin(ctx, req);
    return (await listWebhooks(ctx.db)).map(webhookView);
  });

  app.get<{ Params: { id: string } }>('/api/webhooks/:id', async (req) => {
    await requireAdmin(ctx, req);
    return webhookView(await getWebhook(ctx.db, req.params.id));
  });

  app.patch<{ Params: { id: string } }>('/api/webhooks/:id', async (req) => {
    const p = await requireAdmin(ctx, req);
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
  });

  app.delete<{ Params: { id: string } }>('/api/webhooks/:id', async (req, reply) => {
    const p = await requireAdmin(ctx, req);
    await deleteWebhook(ctx.db, req.params.id, actorOf(p), ctx.now());
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string }; Querystring: { limit?: string; before?: string } }>('/api/webhooks/:id/deliveries', async (req) => {
    await requireAdmin(ctx, req);
    await getWebhook(ctx.db, req.params.id);
    return listDeliveries(ctx.db, req.params.id, optInt(req.query.limit, 'limit', 1000) ?? 100, optInt(req.query.before, 'before', Number.MAX_SAFE_INTEGER));
  });

  app.post<{ Params: { id: string; seq: string } }>('/api/webhooks/:id/deliveries/:seq/redeliver', async (req, reply) => {
    const p = await requireAdmin(ctx, req);
    const seq = optInt(req.params.seq, 'seq', Number.MAX_SAFE_INTEGER)!;
    await redeliver(ctx.db, req.params.id, seq, actorOf(p), ctx.now());
    return reply.status(202).send({ delivery: seq, state: 'pending' });
  });
}
