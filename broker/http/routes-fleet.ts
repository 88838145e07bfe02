// Audit log, enrollment tokens and signed machine labels.
import type { FastifyInstance } from 'fastify';
import { AuditViewSchema, EnrollmentTokenBodySchema, EnrollmentTokenViewSchema, LabelSchema, NewEnrollmentTokenSchema } from '../../protocol/rest-schemas';
import { arrayOf, q, routeSchema } from './route-schema';
import { normaliseId, normaliseMachineCode } from '../../protocol/ids';
import { num, optBool } from '../../protocol/validate';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { randomToken, tokenHash } from '../auth/secrets';
import { labelSignature, labelUrl } from '../labels';
import { orderLabelSignature, orderLabelUrl } from '../orders/labels';
import { listAudit } from '../store/audit';
import { getDeviceByMachineCode, listDevices } from '../store/devices';
import { createEnrollmentToken, listEnrollmentTokens, revokeEnrollmentToken, tokenView } from '../store/enrollment';
import { actorOf } from './auth';
import { bodyOf, durationSeconds, optInt } from './body';
import { type RoutesOptions, inScope } from './scopes';

/** Actions are dotted lower-case words (transfer, device.kick, job.cancel); anything else names none. */
function auditAction(v: string): string {
  const a = v.trim();
  if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(a))
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'action must be one audit action, such as transfer or device.kick', 'action');
  return a;
}

export async function fleetRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'admin', (admin) => {
    admin.get<{ Querystring: { device?: string; agent?: string; action?: string; limit?: string; before?: string; after?: string } }>(
      '/api/audit',
      {
        schema: routeSchema({
          summary: 'The append-only audit log, newest first (oldest first after a cursor)',
          tag: 'fleet',
          auth: 'admin',
          query: {
            device: q('device id'),
            agent: q('agent id'),
            action: q('one action, such as transfer or device.kick'),
            limit: q('1-1000, default 200'),
            before: q('entries before this seq'),
            after: q('entries after this seq, oldest first: a follower passes the last seq it has seen'),
          },
          response: { 200: arrayOf(AuditViewSchema) },
        }),
      },
      async (req) => {
        const q = req.query;
        const query: Parameters<typeof listAudit>[1] = {};
        if (q.device !== undefined) query.device = normaliseId(q.device, 'device id', 'device');
        if (q.agent !== undefined) query.agent = normaliseId(q.agent, 'agent id', 'agent');
        const limit = optInt(q.limit, 'limit', 1000);
        const before = optInt(q.before, 'before', Number.MAX_SAFE_INTEGER);
        const after = optInt(q.after, 'after', Number.MAX_SAFE_INTEGER, 0);
        if (q.action !== undefined) query.action = auditAction(q.action);
        if (limit !== undefined) query.limit = limit;
        if (before !== undefined) query.before = before;
        if (after !== undefined) query.after = after;
        return listAudit(ctx.db, query);
      },
    );

    admin.post(
      '/api/enrollment-tokens',
      {
        schema: routeSchema({
          summary: 'Create a fleet enrollment token (shown once)',
          tag: 'fleet',
          auth: 'admin',
          body: EnrollmentTokenBodySchema,
          response: { 201: NewEnrollmentTokenSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const uses = num(body, 'uses', { min: 1, max: 100_000, integer: true });
        const expiresAt = ctx.now() + durationSeconds(body.expiresIn, 'expiresIn') * 1000;
        const allowMachineCodes = optBool(body, 'allowMachineCodes') ?? false;
        const token = randomToken(24);
        const id = `et-${randomToken(6)
          .toLowerCase()
          .replace(/[^a-z0-9]/g, '')}`;
        await createEnrollmentToken(ctx.db, { id, hash: tokenHash(token), uses, expiresAt, allowMachineCodes }, actorOf(p), ctx.now());
        return reply.status(201).send({ id, token, uses, expiresAt, allowMachineCodes });
      },
    );

    admin.get(
      '/api/enrollment-tokens',
      { schema: routeSchema({ summary: 'Every enrollment token', tag: 'fleet', auth: 'admin', response: { 200: arrayOf(EnrollmentTokenViewSchema) } }) },
      async () => {
        return (await listEnrollmentTokens(ctx.db)).map(tokenView);
      },
    );

    admin.delete<{ Params: { id: string } }>(
      '/api/enrollment-tokens/:id',
      { schema: routeSchema({ summary: 'Revoke an enrollment token', tag: 'fleet', auth: 'admin', params: ['id'], response: { 204: null } }) },
      async (req, reply) => {
        const p = req.principal;
        await revokeEnrollmentToken(ctx.db, normaliseId(req.params.id, 'token id', 'id'), actorOf(p), ctx.now());
        return reply.status(204).send();
      },
    );

    admin.get<{ Params: { code: string } }>(
      '/api/labels/:code',
      {
        schema: routeSchema({
          summary: 'The signed claim URL of a machine code',
          tag: 'fleet',
          auth: 'admin',
          params: ['code'],
          response: { 200: LabelSchema },
        }),
      },
      async (req) => {
        const code = normaliseMachineCode(req.params.code, 'code');
        const device = await getDeviceByMachineCode(ctx.db, code);
        return {
          code,
          sig: labelSignature(ctx.labelKey, code),
          url: labelUrl(ctx.opts.publicUrl, ctx.labelKey, code),
          device: device?.id ?? null,
          fleet: ctx.opts.fleetName,
        };
      },
    );

    admin.get(
      '/api/labels',
      { schema: routeSchema({ summary: 'Labels of every device with a machine code', tag: 'fleet', auth: 'admin', response: { 200: arrayOf(LabelSchema) } }) },
      async () => {
        const rows = (await listDevices(ctx.db)).filter((r) => r.machine_code !== null);
        return rows.map((r) => ({
          code: r.machine_code!,
          device: r.id,
          url: labelUrl(ctx.opts.publicUrl, ctx.labelKey, r.machine_code!),
          fleet: ctx.opts.fleetName,
        }));
      },
    );

    // Order labels (/o/<code>.<sig>) are signed in their own domain, so one never claims and a
    // claim label never orders (docs/architecture.md, "Walk-up orders").
    admin.get<{ Params: { code: string } }>(
      '/api/order-labels/:code',
      {
        schema: routeSchema({
          summary: 'The signed walk-up order URL of a machine that takes orders',
          tag: 'fleet',
          auth: 'admin',
          params: ['code'],
          response: { 200: LabelSchema },
        }),
      },
      async (req) => {
        const code = normaliseMachineCode(req.params.code, 'code');
        const device = await getDeviceByMachineCode(ctx.db, code);
        if (!device) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device serves machine code ${code}`, 'code');
        if (Number(device.orders_enabled) !== 1)
          throw new ProtocolError(
            ErrorCode.NOT_TAKING_ORDERS,
            `machine ${code} does not take walk-up orders; an admin opens it with POST /api/devices/${device.id}/order-settings {"enabled": true}`,
            'code',
          );
        return {
          code,
          sig: orderLabelSignature(ctx.labelKey, code),
          url: orderLabelUrl(ctx.opts.publicUrl, ctx.labelKey, code),
          device: device.id,
          fleet: ctx.opts.fleetName,
        };
      },
    );

    admin.get(
      '/api/order-labels',
      {
        schema: routeSchema({
          summary: 'Order labels of every machine that takes walk-up orders',
          tag: 'fleet',
          auth: 'admin',
          response: { 200: arrayOf(LabelSchema) },
        }),
      },
      async () => {
        const rows = (await listDevices(ctx.db)).filter((r) => r.machine_code !== null && Number(r.orders_enabled) === 1);
        return rows.map((r) => ({
          code: r.machine_code!,
          device: r.id,
          url: orderLabelUrl(ctx.opts.publicUrl, ctx.labelKey, r.machine_code!),
          fleet: ctx.opts.fleetName,
        }));
      },
    );
  });
}
