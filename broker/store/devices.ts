// Device rows: provisioning, self-registration updates and look-ups. Binding columns are
// written only by store/bindings.ts.
import type { Kysely, Transaction } from 'kysely';
import type { DeviceView } from '../../protocol/rest';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import type { ScreenSize } from '../../protocol/screen-fit';
import { appendAudit } from './audit';
import { screenText } from './device-screens';
import { sharedRead } from '../shared-read';
import { first, prepared } from './prepared';
import type { Database, DeviceRow } from './schema';

export function deviceView(r: DeviceRow): DeviceView {
  return {
    id: r.id,
    mac: r.mac,
    machineCode: r.machine_code,
    model: r.model,
    fw: r.fw,
    caps: JSON.parse(r.caps) as string[],
    concurrency: Number(r.concurrency),
    location: r.location,
    mode: r.mode === 'pool' ? 'pool' : 'owned',
    agent: r.agent_id,
    boundAt: r.bound_at === null ? null : Number(r.bound_at),
    boundVia: r.bound_via,
    reservedByJob: r.reserved_by_job,
    bindingVersion: Number(r.binding_version),
    reprovisionAllowed: Number(r.reprovision_allowed) === 1,
    createdAt: Number(r.created_at),
    lastSeen: r.last_seen === null ? null : Number(r.last_seen),
  };
}

// Compiled once (prepared.ts): claims, hellos and binding changes read devices by id and by agent.
const byId = prepared((db: Kysely<Database>, p: { id: string }) => db.selectFrom('devices').selectAll().where('id', '=', p.id));
const byCode = prepared((db: Kysely<Database>, p: { code: string }) => db.selectFrom('devices').selectAll().where('machine_code', '=', p.code));
const ofAgent = prepared((db: Kysely<Database>, p: { agent: string }) => db.selectFrom('devices').selectAll().where('agent_id', '=', p.agent).orderBy('id'));

/** What an agent's bindings show of each device it holds (publisher.ts, boundDevice). */
export type BoundDeviceRow = Pick<DeviceRow, 'id' | 'machine_code' | 'model' | 'bound_at' | 'bound_via' | 'location'>;
// Every claim and release republishes the agent's bindings. A device row has two dozen columns,
// and reading all of them cost twice as much as reading these.
const boundTo = prepared((db: Kysely<Database>, p: { agent: string }) =>
  db.selectFrom('devices').select(['id', 'machine_code', 'model', 'bound_at', 'bound_via', 'location']).where('agent_id', '=', p.agent).orderBy('id'),
);

/** The devices an agent holds, by id, with what its bindings show. */
export async function boundDevicesOf(db: Kysely<Database>, agent: string): Promise<BoundDeviceRow[]> {
  return (await boundTo(db, { agent })).rows;
}

const holderOf = prepared((db: Kysely<Database>, p: { id: string }) =>
  db.selectFrom('devices').select(['agent_id', 'bound_via', 'binding_version']).where('id', '=', p.id),
);

/** Who holds the device, how (a claim, a lease) and at which binding version. */
export async function getHolder(db: Kysely<Database>, id: string): Promise<Pick<DeviceRow, 'agent_id' | 'bound_via' | 'binding_version'> | undefined> {
  return first(holderOf(db, { id }));
}

export async function getDevice(db: Kysely<Database>, id: string): Promise<DeviceRow | undefined> {
  return first(byId(db, { id }));
}

/** What a device's login reads of its row: the secret's hash, and whether it ever logged in. */
export type DeviceLogin = Pick<DeviceRow, 'id' | 'secret_hash' | 'last_seen'>;
// Every connect reads it, a whole fleet's at once after a power cut: these three columns, not the
// row's two dozen.
const loginOf = prepared((db: Kysely<Database>, p: { id: string }) =>
  db.selectFrom('devices').select(['id', 'secret_hash', 'last_seen']).where('id', '=', p.id),
);

export async function deviceLogin(db: Kysely<Database>, id: string): Promise<DeviceLogin | undefined> {
  return first(loginOf(db, { id }));
}

/** Swaps the stored secret hash if it is still `from`; false if the device or its hash changed. */
export async function replaceSecretHash(db: Kysely<Database>, id: string, from: string, to: string): Promise<boolean> {
  const r = await db.updateTable('devices').set({ secret_hash: to }).where('id', '=', id).where('secret_hash', '=', from).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function getDeviceByMachineCode(db: Kysely<Database>, code: string): Promise<DeviceRow | undefined> {
  return first(byCode(db, { code }));
}

/**
 * The device a plain claim target names: the one with that machine code, else the one with that
 * id (protocol/claim-target.ts: the code is tried first). Two index probes: one query with
 * `machine_code = ? or id = ?` made SQLite merge both indexes into a row set, which cost twice
 * as much as the two probes.
 */
export async function getDeviceByCodeOrId(db: Kysely<Database>, code: string | null, id: string | null): Promise<DeviceRow | undefined> {
  const byMachine = code === null ? undefined : await getDeviceByMachineCode(db, code);
  if (byMachine !== undefined || id === null) return byMachine;
  return getDevice(db, id);
}

export async function listDevices(db: Kysely<Database>, agent?: string): Promise<DeviceRow[]> {
  if (agent !== undefined) return (await ofAgent(db, { agent })).rows;
  return db.selectFrom('devices').selectAll().orderBy('id').execute();
}

type DeviceAgents = Array<{ id: string; agent_id: string | null }>;
const agentReads = new WeakMap<Kysely<Database>, () => Promise<DeviceAgents>>();

/**
 * Every device's id and agent, and nothing else: what a metrics scrape counts. The fleet's and the
 * machines' gauges both count every device at each scrape and share one read (shared-read.ts): a
 * read took 7 ms of a 28 ms scrape at 10,000 devices.
 */
export function deviceAgents(db: Kysely<Database>): Promise<DeviceAgents> {
  let read = agentReads.get(db);
  if (read === undefined) {
    read = sharedRead(() => db.selectFrom('devices').select(['id', 'agent_id']).execute());
    agentReads.set(db, read);
  }
  return read();
}

export interface NewDevice {
  id: string;
  mac: string;
  secretHash: string;
  machineCode?: string | null;
  model?: string | null;
  fw?: string | null;
  /** An admin asks to re-provision in the same act (flash --reprovision); audited like any other. */
  reprovision?: boolean;
  /** Enrolled with a token that allows announcing a machine code (docs/architecture.md, Identities). */
  mayAnnounceMachine?: boolean;
}

/**
 * An enrolled device that never connected as itself: its enrollment reply may have been lost, and
 * it never used its secret, so it may enroll again (docs/architecture.md, Identities).
 */
export function isUnfinishedEnrollment(row: DeviceRow): boolean {
  return row.registered_via === 'enroll' && row.last_seen === null;
}

export async function getDeviceByMac(db: Kysely<Database>, mac: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('mac', '=', mac).executeTakeFirst();
}

/**
 * Registers a device, or re-provisions it (new secret) when an admin allowed that. A MAC that is
 * registered and not released for re-provisioning is refused, and nothing changes. Runs in the
 * caller's transaction, so enrollment can take a token use in the same commit.
 */
export async function provisionDevice(
  trx: Transaction<Database>,
  d: NewDevice,
  actor: string,
  now: number,
  via: 'admin' | 'enroll',
): Promise<{ reprovisioned: boolean; previousSecretHash: string | null }> {
  const existing = await getDeviceByMac(trx, d.mac);
  if (d.machineCode) {
    const holder = await trx.selectFrom('devices').select(['id']).where('machine_code', '=', d.machineCode).executeTakeFirst();
    if (holder && holder.id !== d.id) {
      throw new ProtocolError(ErrorCode.CONFLICT, `machine code ${d.machineCode} already belongs to device ${holder.id}`, 'machineCode');
    }
  }
  if (existing) {
    // A device whose enrollment reply was lost retries with the same MAC; until it has connected
    // as itself it never used its secret, so enrolling again (with a new secret) is safe.
    const unfinishedEnrollment = via === 'enroll' && isUnfinishedEnrollment(existing);
    if (Number(existing.reprovision_allowed) !== 1 && d.reprovision !== true && !unfinishedEnrollment) {
      throw new ProtocolError(
        ErrorCode.ALREADY_REGISTERED,
        `MAC ${d.mac} is already registered as ${existing.id}; an admin must allow re-provisioning first`,
        'mac',
      );
    }
    await trx
      .updateTable('devices')
      .set({
        secret_hash: d.secretHash,
        reprovision_allowed: 0,
        reprovision_allowed_by: null,
        machine_code: d.machineCode ?? existing.machine_code,
        model: d.model ?? existing.model,
        fw: d.fw ?? existing.fw,
        ...(via === 'enroll' ? { may_announce_machine: d.mayAnnounceMachine === true ? 1 : 0 } : {}),
      })
      .where('id', '=', existing.id)
      .execute();
    // The audit names the admin whose allowance this used: the one who set it earlier, or the actor
    // who asked in the same act. A retried unfinished enrollment needed no one's allowance.
    const allowedBy = Number(existing.reprovision_allowed) === 1 ? existing.reprovision_allowed_by : d.reprovision === true ? actor : null;
    await appendAudit(trx, {
      at: now,
      actor,
      action: unfinishedEnrollment ? 'device.reenrolled' : 'device.reprovisioned',
      device: existing.id,
      detail: { via, mac: d.mac, allowedBy },
    });
    return { reprovisioned: true, previousSecretHash: existing.secret_hash };
  }
  await trx
    .insertInto('devices')
    .values({
      id: d.id,
      secret_hash: d.secretHash,
      mac: d.mac,
      machine_code: d.machineCode ?? null,
      model: d.model ?? null,
      fw: d.fw ?? null,
      caps: '[]',
      concurrency: 1,
      location: null,
      agent_id: null,
      bound_at: null,
      bound_via: null,
      reserved_by_job: null,
      binding_version: 0,
      reprovision_allowed: 0,
      created_at: now,
      last_seen: null,
      registered_via: via,
      may_announce_machine: d.mayAnnounceMachine === true ? 1 : 0,
      reprovision_allowed_by: null,
    })
    .execute();
  await appendAudit(trx, { at: now, actor, action: 'device.registered', device: d.id, detail: { via, mac: d.mac, machineCode: d.machineCode ?? null } });
  return { reprovisioned: false, previousSecretHash: null };
}

export async function deleteDevice(db: Kysely<Database>, id: string, actor: string, now: number, reason: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('devices').select(['id', 'agent_id', 'mac']).where('id', '=', id).executeTakeFirst();
    if (!row) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${id}`, 'id');
    if (row.agent_id !== null) throw new ProtocolError(ErrorCode.CONFLICT, `device ${id} is bound to an agent; release or transfer it first`, 'id');
    await trx.deleteFrom('devices').where('id', '=', id).execute();
    // A device provisioned again under this id starts with no machine state of its predecessor.
    await trx.deleteFrom('machine_shadows').where('device', '=', id).execute();
    await trx.deleteFrom('machine_history').where('device', '=', id).execute();
    await trx.deleteFrom('alerts').where('device', '=', id).execute();
    await appendAudit(trx, { at: now, actor, action: 'device.deleted', device: id, detail: { mac: row.mac, reason } });
  });
}

export async function setReprovisionAllowed(db: Kysely<Database>, id: string, allowed: boolean, actor: string, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('devices')
      .set({ reprovision_allowed: allowed ? 1 : 0, reprovision_allowed_by: allowed ? actor : null })
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ProtocolError(ErrorCode.NOT_FOUND, `no device ${id}`, 'id');
    await appendAudit(trx, { at: now, actor, action: allowed ? 'device.reprovision_allowed' : 'device.reprovision_revoked', device: id });
  });
}

/** What a device's hello announces that decides which jobs it takes and how many at once. */
export interface DeviceProfile {
  caps: readonly string[];
  concurrency: number;
  screen: ScreenSize | null;
}

export interface HelloUpdate {
  fw: string;
  model: string;
  caps: string[];
  concurrency: number;
  screen?: ScreenSize;
}

const helloUpdate = prepared(
  (db: Kysely<Database>, p: { id: string; fw: string; model: string; caps: string; concurrency: number; screen: string | null; now: number }) =>
    db
      .updateTable('devices')
      .set({ fw: p.fw, model: p.model, caps: p.caps, concurrency: p.concurrency, screen: p.screen, last_seen: p.now })
      .where('id', '=', p.id)
      .returningAll(),
);

/**
 * Self-registration on every connect; the device's row as it now stands, which a machine code the
 * device announces then goes through (announceMachineCode), or undefined for an unknown device.
 */
export async function recordHello(db: Kysely<Database>, id: string, h: HelloUpdate, now: number): Promise<DeviceRow | undefined> {
  return first(helloUpdate(db, { id, fw: h.fw, model: h.model, caps: JSON.stringify(h.caps), concurrency: h.concurrency, screen: screenText(h.screen), now }));
}

/** Why a device's announced machine code was refused; the metric's label. */
export type MachineRefusal = 'not-allowed' | 'taken' | 'differs';

/**
 * A device announces the machine code it serves (in enroll or hello). It is adopted only when the
 * device was enrolled with a token that allows announcing codes, it has no code yet, and no other
 * device has this one (docs/architecture.md, Identities: machine codes); a code the device
 * already has is no news. A refusal is audited and returned; it changes nothing else. `row` is
 * the device as the caller's transaction last read or wrote it.
 */
export async function announceMachineCode(
  trx: Transaction<Database>,
  row: DeviceRow,
  code: string,
  actor: string,
  now: number,
): Promise<{ reason: MachineRefusal; error: ProtocolError } | null> {
  const id = row.id;
  if (row.machine_code === code) return null;
  const holder = await getDeviceByMachineCode(trx, code);
  let refusal: { reason: MachineRefusal; error: ProtocolError } | null = null;
  if (Number(row.may_announce_machine) !== 1) {
    refusal = {
      reason: 'not-allowed',
      error: new ProtocolError(
        ErrorCode.FORBIDDEN,
        `device ${id} may not announce machine code ${code}: it was not enrolled with a token that allows machine codes; an admin assigns the code`,
        'machine',
      ),
    };
  } else if (row.machine_code !== null) {
    refusal = {
      reason: 'differs',
      error: new ProtocolError(ErrorCode.CONFLICT, `device ${id} already serves machine ${row.machine_code}; only an admin changes it to ${code}`, 'machine'),
    };
  } else if (holder) {
    // The device is not told which device holds the code; the audit row is.
    refusal = { reason: 'taken', error: new ProtocolError(ErrorCode.CONFLICT, `machine code ${code} already belongs to another device`, 'machine') };
  }
  if (refusal) {
    await appendAudit(trx, {
      at: now,
      actor,
      action: 'device.machine_refused',
      device: id,
      detail: { code, reason: refusal.reason, holder: holder?.id ?? null },
    });
    return refusal;
  }
  await trx.updateTable('devices').set({ machine_code: code }).where('id', '=', id).where('machine_code', 'is', null).execute();
  await appendAudit(trx, { at: now, actor, action: 'device.machine_announced', device: id, detail: { code } });
  return null;
}

export async function touchLastSeen(db: Kysely<Database>, id: string, now: number): Promise<void> {
  await db.updateTable('devices').set({ last_seen: now }).where('id', '=', id).execute();
}
