// Locations, who belongs to them, and where devices are placed (docs/architecture.md, Locations
// and pools). Every change is one transaction with its audit row; a mode switch is a conditional
// UPDATE that refuses while the device is bound, leased or has unfinished jobs.
import { type Kysely, sql } from 'kysely';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { appendAudit } from './audit';
import { first, prepared } from './prepared';
import type { Database, DeviceRow, LocationRow } from './schema';

export const DEVICE_MODES = ['owned', 'pool'] as const;
export type DeviceMode = (typeof DEVICE_MODES)[number];

/** The literal condition "the device has no unfinished job" (the jobs table is not in the registry's types). */
export const noOpenJobs = (device: string) =>
  sql<boolean>`not exists (select 1 from jobs where jobs.device = ${device} and jobs.state in ('queued', 'dispatched', 'running'))`;

export async function createLocation(db: Kysely<Database>, l: { id: string; name: string }, actor: string, now: number): Promise<LocationRow> {
  return db.transaction().execute(async (trx) => {
    const won = await trx
      .insertInto('locations')
      .values({ id: l.id, name: l.name, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (won === undefined) throw new ProtocolError(ErrorCode.CONFLICT, `location ${l.id} already exists`, 'id');
    await appendAudit(trx, { at: now, actor, action: 'location.create', detail: { location: l.id, name: l.name } });
    return { id: l.id, name: l.name, created_at: now };
  });
}

export async function getLocation(db: Kysely<Database>, id: string): Promise<LocationRow | undefined> {
  return db.selectFrom('locations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listLocations(db: Kysely<Database>): Promise<LocationRow[]> {
  return db.selectFrom('locations').selectAll().orderBy('id').execute();
}

export async function locationsOf(db: Kysely<Database>, agent: string): Promise<string[]> {
  const rows = await db.selectFrom('agent_locations').select('location_id').where('agent_id', '=', agent).orderBy('location_id').execute();
  return rows.map((r) => r.location_id);
}

// Every pool submit asks first (prepared.ts).
const membership = prepared((db: Kysely<Database>, p: { agent: string; location: string }) =>
  db.selectFrom('agent_locations').select('agent_id').where('agent_id', '=', p.agent).where('location_id', '=', p.location),
);

export async function isMember(db: Kysely<Database>, agent: string, location: string): Promise<boolean> {
  return (await first(membership(db, { agent, location }))) !== undefined;
}

export async function membersOf(db: Kysely<Database>, location: string): Promise<string[]> {
  const rows = await db.selectFrom('agent_locations').select('agent_id').where('location_id', '=', location).orderBy('agent_id').execute();
  return rows.map((r) => r.agent_id);
}

async function requireLocations(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = new Set((await db.selectFrom('locations').select('id').where('id', 'in', ids).execute()).map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no location ${missing.join(', ')}`, 'locations');
}

/** Replaces the agent's locations; audited with what was added and removed. */
export async function setAgentLocations(db: Kysely<Database>, agent: string, locations: readonly string[], actor: string, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (!(await trx.selectFrom('agents').select('id').where('id', '=', agent).executeTakeFirst()))
      throw new ProtocolError(ErrorCode.NOT_FOUND, `no agent ${agent}`, 'id');
    await requireLocations(trx, locations);
    const before = (await trx.selectFrom('agent_locations').select('location_id').where('agent_id', '=', agent).execute()).map((r) => r.location_id);
    const added = locations.filter((l) => !before.includes(l));
    const removed = before.filter((l) => !locations.includes(l));
    if (added.length === 0 && removed.length === 0) return;
    if (removed.length > 0) await trx.deleteFrom('agent_locations').where('agent_id', '=', agent).where('location_id', 'in', removed).execute();
    if (added.length > 0)
      await trx
        .insertInto('agent_locations')
        .values(added.map((l) => ({ agent_id: agent, location_id: l })))
        .execute();
    await appendAudit(trx, { at: now, actor, action: 'agent.locations', agent, detail: { added, removed, locations } });
  });
}

export interface PoolSettings {
  primary: string | null;
  fallback: 'pool' | null;
}

export async function poolSettingsOf(db: Kysely<Database>, agent: string): Promise<PoolSettings> {
  const row = await db.selectFrom('agent_pool_settings').selectAll().where('agent_id', '=', agent).executeTakeFirst();
  return { primary: row?.primary_device ?? null, fallback: row?.fallback === 'pool' ? 'pool' : null };
}

export async function setPoolSettings(db: Kysely<Database>, agent: string, s: Partial<PoolSettings>, actor: string, now: number): Promise<PoolSettings> {
  return db.transaction().execute(async (trx) => {
    if (!(await trx.selectFrom('agents').select('id').where('id', '=', agent).executeTakeFirst()))
      throw new ProtocolError(ErrorCode.NOT_FOUND, `no agent ${agent}`, 'id');
    const cur = await poolSettingsOf(trx, agent);
    const next: PoolSettings = { primary: s.primary === undefined ? cur.primary : s.primary, fallback: s.fallback === undefined ? cur.fallback : s.fallback };
    await trx
      .insertInto('agent_pool_settings')
      .values({ agent_id: agent, primary_device: next.primary, fallback: next.fallback })
      .onConflict((oc) => oc.column('agent_id').doUpdateSet({ primary_device: next.primary, fallback: next.fallback }))
      .execute();
    await appendAudit(trx, { at: now, actor, action: 'agent.pool-settings', agent, detail: { before: cur, after: next } });
    return next;
  });
}

export interface Placement {
  location?: string | null;
  mode?: DeviceMode;
}

/**
 * Moves a device to a location and/or switches its mode. A mode switch, and any move of a pool
 * device, is refused while the device is bound or leased or has unfinished jobs: one conditional
 * UPDATE decides, so a lease or claim racing it either lands first (and the switch is refused) or
 * finds the new mode.
 */
export async function placeDevice(db: Kysely<Database>, device: string, p: Placement, actor: string, now: number): Promise<DeviceRow> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('devices').selectAll().where('id', '=', device).executeTakeFirst();
    if (!before) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${device}`, 'id');
    if (p.location !== undefined && p.location !== null) await requireLocations(trx, [p.location]);
    const location = p.location === undefined ? before.location : p.location;
    const mode = p.mode ?? (before.mode as DeviceMode);
    if (mode === 'pool' && location === null)
      throw new ProtocolError(ErrorCode.BAD_REQUEST, `a pool device needs a location; give device ${device} one first`, 'mode');
    const modeChanges = mode !== before.mode;
    const poolMoves = before.mode === 'pool' && location !== before.location;
    if (!modeChanges && location === before.location) return before;
    let q = trx.updateTable('devices').set({ location, mode }).where('id', '=', device);
    if (modeChanges || poolMoves) q = q.where('agent_id', 'is', null).where(noOpenJobs(device));
    const done = await q.executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) {
      const what =
        before.bound_via === 'lease'
          ? `leased to an agent for a job`
          : before.agent_id !== null
            ? 'bound to an agent (release it first)'
            : 'holding unfinished jobs';
      throw new ProtocolError(
        ErrorCode.CONFLICT,
        `device ${device} cannot ${modeChanges ? `switch to ${mode}` : 'change location'} while it is ${what}`,
        modeChanges ? 'mode' : 'location',
      );
    }
    await appendAudit(trx, {
      at: now,
      actor,
      action: 'device.placement',
      device,
      detail: { from: { location: before.location, mode: before.mode }, to: { location, mode } },
    });
    return (await trx.selectFrom('devices').selectAll().where('id', '=', device).executeTakeFirst())!;
  });
}

/** The pool devices of a location, whatever their state. */
export async function poolDevices(db: Kysely<Database>, location: string): Promise<DeviceRow[]> {
  return db.selectFrom('devices').selectAll().where('location', '=', location).where('mode', '=', 'pool').orderBy('id').execute();
}

/** The ids of every device in pool mode, wherever it is placed. */
export async function pooledDeviceIds(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('devices').select('id').where('mode', '=', 'pool').execute()).map((r) => r.id);
}

/** Every device placed at a location, owned or pool. */
export async function devicesAt(db: Kysely<Database>, location: string): Promise<DeviceRow[]> {
  return db.selectFrom('devices').selectAll().where('location', '=', location).orderBy('id').execute();
}
