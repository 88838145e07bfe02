// Admin view and control of devices: provisioning, transfer, forced release, re-provisioning,
// kick, and the bindings overview.
import type { FastifyInstance } from 'fastify';
import {
  BindingViewSchema,
  DeviceWithPresenceSchema,
  ProvisionBodySchema,
  ProvisionedSchema,
  ReleaseBodySchema,
  ReprovisionBodySchema,
  TransferBodySchema,
  TransferResultSchema,
} from '../../protocol/rest-schemas';
import { arrayOf, q, routeSchema } from './route-schema';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { optBool, optStr, str } from '../../protocol/validate';
import { adminRebind } from '../claims';
import { provisionByAdmin } from '../registry';
import { deleteDevice, deviceView, getDevice, listDevices, setReprovisionAllowed } from '../store/devices';
import type { DeviceRow } from '../store/schema';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { type RoutesOptions, inScope } from './scopes';

export async function deviceRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  const view = (r: DeviceRow) => ({ ...deviceView(r), presence: ctx.presence.status(r.id) });
  const deviceParam = (raw: string): string => normaliseId(raw, 'device id', 'id');

  await inScope(app, ctx, 'admin', (admin) => {
    admin.post(
      '/api/devices',
      {
        schema: routeSchema({
          summary: 'Provision a device by MAC; its secret is shown once',
          tag: 'devices',
          auth: 'admin',
          body: ProvisionBodySchema,
          response: { 201: ProvisionedSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const r = await provisionByAdmin(ctx, { mac: body.mac, machineCode: body.machineCode, model: body.model, reprovision: body.reprovision }, actorOf(p));
        return reply.status(201).send(r);
      },
    );

    admin.get<{ Querystring: { agent?: string } }>(
      '/api/devices',
      {
        schema: routeSchema({
          summary: 'Every device with binding and presence',
          tag: 'devices',
          auth: 'admin',
          query: { agent: q('only the devices this agent holds') },
          response: { 200: arrayOf(DeviceWithPresenceSchema) },
        }),
      },
      async (req) => {
        const agent = req.query.agent === undefined ? undefined : normaliseId(req.query.agent, 'agent id', 'agent');
        return (await listDevices(ctx.db, agent)).map(view);
      },
    );
  });

  await inScope(app, ctx, 'session', (session) => {
    session.get<{ Params: { id: string } }>(
      '/api/devices/:id',
      {
        schema: routeSchema({
          summary: 'One device (an agent sees only its own)',
          tag: 'devices',
          auth: 'session',
          params: ['id'],
          response: { 200: DeviceWithPresenceSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = deviceParam(req.params.id);
        const row = await getDevice(ctx.db, id);
        // Agents may look at their own devices only; anything else is "not found" to them.
        if (!row || (p.kind === 'agent' && ctx.bindings.agentOf(id) !== p.id)) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${id}`, 'id');
        return view(row);
      },
    );
  });

  await inScope(app, ctx, 'admin', (admin) => {
    admin.delete<{ Params: { id: string } }>(
      '/api/devices/:id',
      {
        schema: routeSchema({
          summary: 'Delete an unbound device; an optional JSON body {reason} goes into the audit log',
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          response: { 204: null },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const id = deviceParam(req.params.id);
        const reason = (req.body ? optStr(bodyOf(req.body), 'reason', { max: 500 }) : undefined) ?? 'deleted by admin';
        await deleteDevice(ctx.db, id, actorOf(p), ctx.now(), reason);
        ctx.pools.devicesChanged();
        await ctx.kick({ kind: 'device', id }, 'kicked');
        ctx.bindings.forget(id);
        ctx.presence.forget(id);
        ctx.machines.shadows.forget(id);
        return reply.status(204).send();
      },
    );

    admin.post<{ Params: { id: string } }>(
      '/api/devices/:id/transfer',
      {
        schema: routeSchema({
          summary: 'Transfer a device to an agent (audited)',
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          body: TransferBodySchema,
          response: { 200: TransferResultSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const to = normaliseId(body.agent, 'agent id', 'agent');
        const reason = str(body, 'reason', { min: 1, max: 500 });
        return adminRebind(ctx, { actor: actorOf(p), device: deviceParam(req.params.id), to, reason, force: optBool(body, 'force') === true });
      },
    );

    admin.post<{ Params: { id: string } }>(
      '/api/devices/:id/release',
      {
        schema: routeSchema({
          summary: 'Release a device by force (audited)',
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          body: ReleaseBodySchema,
          response: { 200: TransferResultSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const reason = str(body, 'reason', { min: 1, max: 500 });
        return adminRebind(ctx, { actor: actorOf(p), device: deviceParam(req.params.id), to: null, reason, force: optBool(body, 'force') === true });
      },
    );

    admin.post<{ Params: { id: string } }>(
      '/api/devices/:id/reprovision',
      {
        schema: routeSchema({
          summary: 'Let the MAC enroll or be provisioned again',
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          body: ReprovisionBodySchema,
          response: {
            200: { type: 'object', required: ['id', 'reprovisionAllowed'], properties: { id: { type: 'string' }, reprovisionAllowed: { type: 'boolean' } } },
          },
        }),
      },
      async (req) => {
        const p = req.principal;
        const allowed = optBool(bodyOf(req.body), 'allowed') ?? true;
        const id = deviceParam(req.params.id);
        await setReprovisionAllowed(ctx.db, id, allowed, actorOf(p), ctx.now());
        return { id, reprovisionAllowed: allowed };
      },
    );

    admin.post<{ Params: { id: string } }>(
      '/api/devices/:id/kick',
      {
        schema: routeSchema({
          summary: "Close the device's connections (presence reason kicked)",
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          response: { 200: { type: 'object', required: ['id', 'closed'], properties: { id: { type: 'string' }, closed: { type: 'integer' } } } },
        }),
      },
      async (req) => {
        const id = deviceParam(req.params.id);
        return { id, closed: await ctx.kick({ kind: 'device', id }, 'kicked') };
      },
    );

    admin.get(
      '/api/bindings',
      { schema: routeSchema({ summary: 'Every bound device with its agent', tag: 'devices', auth: 'admin', response: { 200: arrayOf(BindingViewSchema) } }) },
      async () => {
        const rows = await listDevices(ctx.db);
        return rows
          .filter((r) => r.agent_id !== null)
          .map((r) => ({
            device: r.id,
            machineCode: r.machine_code,
            agent: r.agent_id,
            boundAt: Number(r.bound_at),
            via: r.bound_via,
            presence: ctx.presence.status(r.id),
          }));
      },
    );
  });
}
