// Pool-test plumbing: a location with scripted pool devices and member agents, pool submits, and
// a snapshot of everything a refused request must leave unchanged.
import type { Kysely } from 'kysely';
import type { Database } from '../../broker/store/schema';
import { type Agent, type HasApi, submit, uniq } from './jobs';
import { JobDevice, type JobDeviceOptions } from './job-device';
import type { TestBroker } from './broker';

export async function ok(r: Promise<{ status: number; body: any }>, status = 200): Promise<any> {
  const res = await r;
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function makeLocation(tb: HasApi, id = uniq('loc')): Promise<string> {
  await ok(tb.api('POST', '/api/locations', { id, name: `Room ${id}` }), 201);
  return id;
}

export async function joinLocation(tb: HasApi, agent: string, locations: string[]): Promise<void> {
  await ok(tb.api('PATCH', `/api/agents/${agent}`, { locations }));
}

/** Provisions and connects a device, then places it in the location's pool. */
export async function poolDevice(tb: TestBroker, location: string, opts: JobDeviceOptions = {}): Promise<JobDevice> {
  const dev = await tb.provision();
  const d = await JobDevice.connect(tb.broker.mqttUrl, dev, opts);
  await ok(tb.api('PATCH', `/api/devices/${dev.id}`, { location, mode: 'pool' }));
  return d;
}

export function poolSubmit(agent: Agent, pool: string, body: Record<string, unknown> = {}): Promise<any> {
  return submit(agent, { pool, kind: 'identify', params: { seconds: 1 }, ...body });
}

/**
 * Everything a refused request must leave as it was at one location: its devices' bindings and
 * modes, its leases and pool queue, those devices' jobs, and the audit rows about them.
 */
export async function stateSnapshot(db: Kysely<Database>, location: string): Promise<string> {
  const devices = await db.selectFrom('devices').select(['id', 'agent_id', 'bound_via', 'binding_version', 'mode', 'location', 'reserved_by_job']).where('location', '=', location).orderBy('id').execute();
  const ids = devices.map((d) => d.id);
  const leases = await db.selectFrom('leases').selectAll().where('location', '=', location).orderBy('id').execute();
  const queue = await db.selectFrom('pool_queue').selectAll().where('location', '=', location).orderBy('seq').execute();
  const jobs = ids.length === 0 ? [] : await (db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'device', 'agent']).where('device', 'in', ids).orderBy('id').execute();
  const audit = ids.length === 0 ? [] : await db.selectFrom('audit').select(['seq', 'action']).where('device', 'in', ids).orderBy('seq').execute();
  const queuedAudit = await db.selectFrom('audit').select(['seq']).where('action', '=', 'pool.queued').where('detail', 'like', `%"location":"${location}"%`).execute();
  return JSON.stringify({ devices, leases, queue, jobs, audit, queuedAudit });
}
