// Locations and their pools (docs/architecture.md, Locations and pools): admins create locations,
// place devices (location, mode) and agents in them, and watch live leases; agents see their
// locations, each pool's devices and queue, and turn a scanned location label into its pool.
import type { FastifyInstance } from 'fastify';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { normaliseId } from '../../protocol/ids';
import { parsePoolLabel } from '../../protocol/pool-label';
import type { LocationDetail } from '../../protocol/rest';
import {
  CreateLocationBodySchema,
  DeviceWithPresenceSchema,
  LeaseViewSchema,
  LocationDetailSchema,
  LocationLabelSchema,
  LocationListItemSchema,
  LocationViewSchema,
  PatchDeviceBodySchema,
} from '../../protocol/rest-schemas';
import { str } from '../../protocol/validate';
import { poolLabelUrl, verifyPoolLabel } from '../labels';
import { openLeases, waiting } from '../store/leases';
import { type DeviceMode, createLocation, devicesAt, getLocation, isMember, listLocations, locationsOf, membersOf, placeDevice } from '../store/locations';
import { deviceView } from '../store/devices';
import type { LeaseRow, LocationRow } from '../store/schema';
import { actorOf } from './auth';
import { bodyOf } from './body';
import { arrayOf, q, routeSchema } from './route-schema';
import { type RoutesOptions, inScope } from './scopes';

const locationView = (r: LocationRow) => ({ id: r.id, name: r.name, createdAt: Number(r.created_at) });
const leaseView = (l: LeaseRow) => ({
  id: l.id,
  device: l.device,
  agent: l.agent,
  location: l.location,
  job: l.job,
  startedAt: Number(l.started_at),
  endedAt: l.ended_at === null ? null : Number(l.ended_at),
  endReason: l.end_reason,
});

export async function locationRoutes(app: FastifyInstance, { ctx }: RoutesOptions): Promise<void> {
  const locationParam = (raw: string): string => normaliseId(raw, 'location id', 'id');
  const notFound = (id: string): ProtocolError => new ProtocolError(ErrorCode.NOT_FOUND, `no location ${id}`, 'id');

  await inScope(app, ctx, 'admin', (admin) => {
    admin.post(
      '/api/locations',
      {
        schema: routeSchema({
          summary: 'Create a location (audited)',
          tag: 'locations',
          auth: 'admin',
          body: CreateLocationBodySchema,
          response: { 201: LocationViewSchema },
        }),
      },
      async (req, reply) => {
        const p = req.principal;
        const body = bodyOf(req.body);
        const id = normaliseId(body.id, 'location id', 'id');
        const row = await createLocation(ctx.db, { id, name: str(body, 'name', { min: 1, max: 128 }) }, actorOf(p), ctx.now());
        return reply.status(201).send(locationView(row));
      },
    );
  });

  await inScope(app, ctx, 'session', (session) => {
    session.get(
      '/api/locations',
      {
        schema: routeSchema({
          summary: 'Locations with their pools at a glance (an agent sees its own)',
          tag: 'locations',
          auth: 'session',
          response: { 200: arrayOf(LocationListItemSchema) },
        }),
      },
      async (req) => {
        const p = req.principal;
        const all = await listLocations(ctx.db);
        const mine = p.kind === 'admin' ? null : new Set(await locationsOf(ctx.db, p.id));
        const out = [];
        for (const l of all) {
          if (mine !== null && !mine.has(l.id)) continue;
          const pool = (await devicesAt(ctx.db, l.id)).filter((d) => d.mode === 'pool');
          const free = pool.filter((d) => d.agent_id === null && ctx.presence.isOnline(d.id)).length;
          out.push({ ...locationView(l), devices: pool.length, free, waiting: (await waiting(ctx.db, l.id)).length });
        }
        return out;
      },
    );

    session.get<{ Params: { id: string } }>(
      '/api/locations/:id',
      {
        schema: routeSchema({
          summary:
            "A location's devices with mode, lease and presence, and its pool queue (an agent sees its own locations, and who holds what only where it is itself)",
          tag: 'locations',
          auth: 'session',
          params: ['id'],
          response: { 200: LocationDetailSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = locationParam(req.params.id);
        const admin = p.kind === 'admin';
        if (!admin && !(await isMember(ctx.db, p.id, id))) throw notFound(id);
        const row = await getLocation(ctx.db, id);
        if (!row) throw notFound(id);
        const leases = new Map((await openLeases(ctx.db, id)).map((l) => [l.device, l]));
        const sees = (agent: string | null): boolean => admin || agent === p.id;
        const devices: LocationDetail['devices'] = (await devicesAt(ctx.db, id)).map((d) => {
          const lease = leases.get(d.id);
          const v: LocationDetail['devices'][number] = {
            id: d.id,
            machineCode: d.machine_code,
            mode: d.mode === 'pool' ? 'pool' : 'owned',
            caps: JSON.parse(d.caps) as string[],
            presence: ctx.presence.status(d.id),
            lease: lease === undefined ? null : { since: Number(lease.started_at), ...(sees(lease.agent) ? { agent: lease.agent, job: lease.job } : {}) },
          };
          if (admin) v.agent = d.mode === 'owned' ? d.agent_id : null;
          return v;
        });
        const queue = (await ctx.pools.queueOf(id)).map((x) => ({
          job: sees(x.agent) ? x.job : '',
          kind: x.kind,
          position: x.position,
          eta: x.eta,
          queuedAt: x.queuedAt,
          ...(sees(x.agent) ? { agent: x.agent } : {}),
        }));
        return { ...locationView(row), ...(admin ? { members: await membersOf(ctx.db, id) } : {}), devices, queue };
      },
    );
  });

  await inScope(app, ctx, 'admin', (admin) => {
    admin.get<{ Params: { id: string } }>(
      '/api/locations/:id/label',
      {
        schema: routeSchema({
          summary: "The location's signed label URL (/p/<location>.<sig>)",
          tag: 'locations',
          auth: 'admin',
          params: ['id'],
          response: { 200: LocationLabelSchema },
        }),
      },
      async (req) => {
        const id = locationParam(req.params.id);
        const row = await getLocation(ctx.db, id);
        if (!row) throw notFound(id);
        return { location: id, name: row.name, url: poolLabelUrl(ctx.opts.publicUrl, ctx.labelKey, id), fleet: ctx.opts.fleetName };
      },
    );
  });

  await inScope(app, ctx, 'session', (session) => {
    session.post(
      '/api/locations/resolve-label',
      {
        schema: routeSchema({
          summary: 'Check a scanned location label: the pool it selects for your next job (nothing is claimed)',
          tag: 'locations',
          auth: 'session',
          body: { type: 'object', required: ['label'], properties: { label: { type: 'string', maxLength: 512 } } },
          response: { 200: LocationViewSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const label = parsePoolLabel(bodyOf(req.body).label);
        if (!verifyPoolLabel(ctx.labelKey, label.location, label.sig))
          throw new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this location label is not valid', 'label');
        if (p.kind === 'agent' && !(await isMember(ctx.db, p.id, label.location)))
          throw new ProtocolError(ErrorCode.FORBIDDEN, `you do not belong to location ${label.location}`, 'label');
        const row = await getLocation(ctx.db, label.location);
        if (!row) throw new ProtocolError(ErrorCode.UNKNOWN_MACHINE, 'this location label is not valid', 'label');
        return locationView(row);
      },
    );
  });

  await inScope(app, ctx, 'admin', (admin) => {
    admin.get<{ Querystring: { location?: string; ended?: string } }>(
      '/api/leases',
      {
        schema: routeSchema({
          summary: 'Live pool leases (or, with ended=true, the latest ended ones too)',
          tag: 'locations',
          auth: 'admin',
          query: { location: q('only this location'), ended: q('true: include ended leases (the latest 500)') },
          response: { 200: arrayOf(LeaseViewSchema) },
        }),
      },
      async (req) => {
        const location = req.query.location === undefined ? undefined : locationParam(req.query.location);
        if (req.query.ended === 'true') {
          let query = ctx.db.selectFrom('leases').selectAll().orderBy('started_at', 'desc').limit(500);
          if (location !== undefined) query = query.where('location', '=', location);
          return (await query.execute()).map(leaseView);
        }
        return (await openLeases(ctx.db, location)).map(leaseView);
      },
    );

    admin.patch<{ Params: { id: string } }>(
      '/api/devices/:id',
      {
        schema: routeSchema({
          summary:
            'Place a device at a location and set its mode (owned or pool; audited); a mode switch is refused while the device is bound, leased or has unfinished jobs',
          tag: 'devices',
          auth: 'admin',
          params: ['id'],
          body: PatchDeviceBodySchema,
          response: { 200: DeviceWithPresenceSchema },
        }),
      },
      async (req) => {
        const p = req.principal;
        const id = normaliseId(req.params.id, 'device id', 'id');
        const body = bodyOf(req.body);
        const location = body.location === undefined ? undefined : body.location === null ? null : normaliseId(body.location, 'location id', 'location');
        const mode = body.mode as DeviceMode | undefined;
        const row = await placeDevice(
          ctx.db,
          id,
          { ...(location === undefined ? {} : { location }), ...(mode === undefined ? {} : { mode }) },
          actorOf(p),
          ctx.now(),
        );
        ctx.pools.devicesChanged();
        if (row.mode === 'pool' && row.location !== null) void ctx.pools.drain(row.location);
        return { ...deviceView(row), presence: ctx.presence.status(row.id) };
      },
    );
  });
}
