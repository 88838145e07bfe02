// Machines over REST (docs/architecture.md, Machine state): the list, one machine with its shadow
// and alerts, a job's place in its queue, history, alerts, and desired settings. An agent sees the
// machines it holds now and nothing else: any other machine is "not found".
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import {
  AlertViewSchema,
  HistorySampleSchema,
  MachineDetailSchema,
  MachineViewSchema,
  QueuePositionSchema,
  SettingsBodySchema,
  ShadowSchema,
} from '../../protocol/rest-schemas';
import { alertView } from '../machines/alerts';
import { listAlerts, historySeries } from '../machines/store';
import { listMachines, machineDetail, machineFor } from '../machines/views';
import { listDevices } from '../store/devices';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { arrayOf, q, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

const HISTORY_LIMIT = 10_000;

function timeOf(v: string | undefined, field: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new ProtocolError(ErrorCode.BAD_REQUEST, `${field} must be ms since the epoch`, field);
  return n;
}

export async function machineRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  await inScope(app, ctx, 'session', (session) => {
    session.get(
      '/api/machines',
      {
        schema: routeSchema({
          summary: 'Machines with derived status, current job, queue length and consumables (an agent sees its own)',
          tag: 'machines',
          auth: 'session',
          response: { 200: arrayOf(MachineViewSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        return listMachines(ctx, p);
      },
    );

    session.get<{ Params: { code: string } }>(
      '/api/machines/:code',
      {
        schema: routeSchema({
          summary: 'One machine by machine code or device id, with its shadow and alerts',
          tag: 'machines',
          auth: 'session',
          params: ['code'],
          response: { 200: MachineDetailSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        return machineDetail(ctx, p, await machineFor(ctx, p, req.params.code));
      },
    );

    session.get<{ Params: { code: string; jobId: string } }>(
      '/api/machines/:code/queue/:jobId',
      {
        schema: routeSchema({
          summary: "A job's position and ETA in the machine's queue",
          tag: 'machines',
          auth: 'session',
          params: ['code', 'jobId'],
          response: { 200: QueuePositionSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const d = await machineFor(ctx, p, req.params.code);
        const row = await ctx.jobs.requests.visible(p, normaliseId(req.params.jobId, 'job id', 'jobId'));
        if (row.device !== d.id) throw new ProtocolError(ErrorCode.NOT_FOUND, `no job ${row.id} on this machine`, 'jobId');
        const v = await ctx.jobs.requests.view(row);
        return { job: v.job, device: d.id, state: v.state, position: v.position ?? null, eta: v.eta ?? null };
      },
    );

    session.get<{ Params: { code: string }; Querystring: { from?: string; to?: string; field?: string } }>(
      '/api/machines/:code/history',
      {
        schema: routeSchema({
          summary: 'Sampled consumable levels and counters, oldest first',
          tag: 'machines',
          auth: 'session',
          params: ['code'],
          query: {
            from: q('ms since the epoch (default 24 h ago)'),
            to: q('ms since the epoch (default now)'),
            field: q('one series, e.g. consumables.ink.c or counters.prints'),
          },
          response: { 200: arrayOf(HistorySampleSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        const d = await machineFor(ctx, p, req.params.code);
        const now = ctx.now();
        const field = req.query.field;
        if (field !== undefined && !/^(consumables|counters)\.[a-z0-9_.]{1,40}$/.test(field))
          throw new ProtocolError(ErrorCode.BAD_REQUEST, 'field must be consumables.<name> or counters.<name>', 'field');
        const rows = await historySeries(
          ctx.db,
          d.id,
          field,
          timeOf(req.query.from, 'from', now - 24 * 3600_000),
          timeOf(req.query.to, 'to', now),
          HISTORY_LIMIT,
        );
        return rows.map((r) => ({ field: r.field, at: Number(r.at), value: Number(r.value) }));
      },
    );

    session.get<{ Querystring: { state?: string; device?: string } }>(
      '/api/alerts',
      {
        schema: routeSchema({
          summary: "Alerts, newest first (an agent sees its machines' alerts)",
          tag: 'machines',
          auth: 'session',
          query: { state: q('open or cleared'), device: q('machine code or device id') },
          response: { 200: arrayOf(AlertViewSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        const state = req.query.state;
        if (state !== undefined && state !== 'open' && state !== 'cleared')
          throw new ProtocolError(ErrorCode.BAD_REQUEST, 'state must be open or cleared', 'state');
        let devices: string[] | undefined;
        if (req.query.device !== undefined) devices = [(await machineFor(ctx, p, req.query.device)).id];
        else if (p.kind === 'agent') devices = (await listDevices(ctx.db, p.id)).map((d) => d.id);
        return (await listAlerts(ctx.db, { ...(devices ? { devices } : {}), ...(state ? { state } : {}), limit: 1000 })).map(alertView);
      },
    );
  });

  await inScope(app, ctx, 'admin', (admin) => {
    admin.post<{ Params: { id: string } }>(
      '/api/alerts/:id/ack',
      {
        schema: routeSchema({
          summary: 'Acknowledge an alert (audited by who and when)',
          tag: 'machines',
          auth: 'admin',
          params: ['id'],
          response: { 200: AlertViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const row = await ctx.machines.alerts.ack(req.params.id.slice(0, 64), actorOf(p));
        if (!row) throw new ProtocolError(ErrorCode.NOT_FOUND, 'no such alert', 'id');
        return alertView(row);
      },
    );
  });

  await inScope(app, ctx, 'session', (session) => {
    session.patch<{ Params: { id: string } }>(
      '/api/devices/:id/settings',
      {
        schema: routeSchema({
          summary: 'Change desired settings; the device is sent the delta. Agents: only agent-editable settings of their own machines',
          tag: 'machines',
          auth: 'session',
          params: ['id'],
          body: SettingsBodySchema,
          response: { 200: ShadowSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const device = normaliseId(req.params.id, 'device id', 'id');
        return ctx.machines.shadows.setDesired(device, p, {
          settings: body.settings,
          ...(body.version === undefined ? {} : { version: body.version as number }),
          ...(body.agentEditable === undefined ? {} : { agentEditable: body.agentEditable }),
        });
      },
    );
  });
}
