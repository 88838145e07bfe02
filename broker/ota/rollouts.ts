// Rollouts (docs/architecture.md, Over-the-air updates): which devices get a release, in which
// wave, and the admin's controls. The devices are fixed when the rollout is created, in a stable
// random order (a hash of the rollout id and the device id), and cut into the cumulative waves.
// Driving it (sending, soak, auto-pause) is the engine's job (engine.ts).
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import {
  OTA_KIND,
  ROLLOUT_DEVICE_STATES,
  type RolloutDeviceState,
  type RolloutRequest,
  type RolloutState,
  type RolloutTarget,
  type RolloutWindow,
} from '../../protocol/ota';
import type { Context } from '../context';
import { appendAudit } from '../store/audit';
import { recordEvent } from '../webhooks/outbox';
import { type ReleasesContext, getRelease } from './releases';
import { otaDb, registryOf, type RolloutsTable } from './schema';
import { checkWindow } from './window';

/** What rollouts read of the node. */
type RolloutsContext = ReleasesContext & Pick<Context, 'backends' | 'db' | 'log' | 'now' | 'opts'>;

export interface RolloutWaveView {
  percent: number;
  devices: number;
  counts: Record<RolloutDeviceState, number>;
}

export interface RolloutView {
  id: string;
  release: string;
  target: RolloutTarget;
  state: RolloutState;
  wave: number;
  waves: RolloutWaveView[];
  counts: Record<RolloutDeviceState, number>;
  total: number;
  waveSoakMinutes: number;
  maxFailurePercent: number;
  reason: string | null;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  driver: string | null;
  /** Daily send window; null sends at any time. */
  window: RolloutWindow | null;
}

function zeroCounts(): Record<RolloutDeviceState, number> {
  return Object.fromEntries(ROLLOUT_DEVICE_STATES.map((s) => [s, 0])) as Record<RolloutDeviceState, number>;
}

export const LOCAL_NODE = 'local';

/** How long a driver's lease holds without renewal: a few ticks, so a dead driver is replaced soon. */
export function driverLeaseMs(opts: { otaTickMs: number }): number {
  return Math.max(3 * opts.otaTickMs, 5_000);
}

/** The stable random order: the same rollout orders the same devices the same way on every node. */
function orderKey(rollout: string, device: string): string {
  return createHash('sha256').update(`${rollout}\n${device}`).digest('hex');
}

/** Wave index of the i-th device (0-based) of n, for cumulative percents. */
export function waveOf(i: number, n: number, waves: readonly number[]): number {
  for (let w = 0; w < waves.length; w++) if (i < Math.ceil((n * waves[w]!) / 100)) return w;
  return waves.length - 1;
}

async function targetDevices(ctx: RolloutsContext, target: RolloutTarget, models: string[], version: string): Promise<string[]> {
  let q = ctx.db.selectFrom('devices').select(['id', 'model', 'fw', 'caps']);
  if ('location' in target) q = q.where('location', '=', target.location);
  if ('model' in target) q = q.where('model', '=', target.model);
  if ('devices' in target) {
    if (target.devices.length === 0) return [];
    q = q.where('id', 'in', target.devices);
  }
  const rows = await q.execute();
  // A device of another model would refuse the release, and one that announced what it runs
  // without `ota` would refuse the job; one already on it needs nothing. A device that has never
  // said hello has announced nothing yet and stays in.
  const takesUpdates = (caps: string): boolean => caps === '[]' || (JSON.parse(caps) as string[]).includes(OTA_KIND);
  return rows.filter((r) => r.model !== null && models.includes(r.model) && r.fw !== version && takesUpdates(r.caps)).map((r) => r.id);
}

export async function createRollout(ctx: RolloutsContext, actor: string, req: RolloutRequest): Promise<RolloutView> {
  if (req.window !== undefined) checkWindow(req.window);
  const release = await getRelease(ctx, req.release);
  if (release === undefined) throw new ProtocolError(ErrorCode.NOT_FOUND, `no release ${req.release}`, 'release');
  const models = JSON.parse(release.models) as string[];
  const id = `r${randomBytes(5).toString('hex')}`;
  const devices = (await targetDevices(ctx, req.target, models, release.version)).sort((a, b) => (orderKey(id, a) < orderKey(id, b) ? -1 : 1));
  if (devices.length === 0)
    throw new ProtocolError(
      ErrorCode.BAD_REQUEST,
      `no device in the target runs a model this release is for (${models.join(', ')}) on another version and takes updates (announces '${OTA_KIND}')`,
      'target',
    );
  const now = ctx.now();
  const row: RolloutsTable = {
    id,
    release: release.version,
    target: JSON.stringify(req.target),
    waves: JSON.stringify(req.waves),
    wave_soak_ms: Math.round(req.waveSoakMinutes * 60_000),
    max_failure_percent: req.maxFailurePercent,
    state: 'running',
    wave: 0,
    wave_settled_at: null,
    reason: null,
    created_at: now,
    created_by: actor,
    updated_at: now,
    // The node that creates a rollout drives it first; another takes over if this one dies.
    driver: ctx.backends.nodeId ?? LOCAL_NODE,
    lease_until: now + driverLeaseMs(ctx.opts),
    send_window: req.window === undefined ? null : JSON.stringify(req.window),
  };
  const db = otaDb(ctx.db);
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('rollouts').values(row).execute();
    for (let at = 0; at < devices.length; at += 500) {
      const batch = devices.slice(at, at + 500).map((device, k) => ({
        rollout: id,
        device,
        position: at + k,
        wave: waveOf(at + k, devices.length, req.waves),
        state: 'pending' as const,
        job: null,
        tries: 0,
        sends: 0,
        sent_at: null,
        progress: null,
        error: null,
        updated_at: now,
      }));
      await trx.insertInto('rollout_devices').values(batch).execute();
    }
    await appendAudit(registryOf(trx), {
      at: now,
      actor,
      action: 'rollout.created',
      detail: { rollout: id, release: release.version, devices: devices.length, waves: req.waves },
    });
    await recordEvent(trx, 'rollout.state', { rollout: id, release: release.version, state: 'running', wave: 0, reason: null, actor }, now);
  });
  ctx.log.info({ rollout: id, release: release.version, devices: devices.length, waves: req.waves, actor }, 'rollout created');
  return (await rolloutView(ctx, id))!;
}

export async function rolloutView(ctx: RolloutsContext, id: string): Promise<RolloutView | null> {
  const db = otaDb(ctx.db);
  const r = await db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
  if (r === undefined) return null;
  const rows = await db
    .selectFrom('rollout_devices')
    .select(['wave', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('rollout', '=', id)
    .groupBy(['wave', 'state'])
    .execute();
  const percents = JSON.parse(r.waves) as number[];
  const waves: RolloutWaveView[] = percents.map((percent) => ({ percent, devices: 0, counts: zeroCounts() }));
  const counts = zeroCounts();
  let total = 0;
  for (const row of rows) {
    const n = Number(row.n);
    const w = waves[row.wave];
    if (w !== undefined) {
      w.counts[row.state] += n;
      w.devices += n;
    }
    counts[row.state] += n;
    total += n;
  }
  return {
    id: r.id,
    release: r.release,
    target: JSON.parse(r.target) as RolloutTarget,
    state: r.state,
    wave: r.wave,
    waves,
    counts,
    total,
    waveSoakMinutes: Number(r.wave_soak_ms) / 60_000,
    maxFailurePercent: Number(r.max_failure_percent),
    reason: r.reason,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    updatedAt: Number(r.updated_at),
    driver: r.driver,
    window: r.send_window === null ? null : (JSON.parse(r.send_window) as RolloutWindow),
  };
}

export async function listRollouts(ctx: RolloutsContext): Promise<RolloutView[]> {
  const ids = await otaDb(ctx.db).selectFrom('rollouts').select('id').orderBy('created_at', 'desc').limit(100).execute();
  const views = await Promise.all(ids.map((r) => rolloutView(ctx, r.id)));
  return views.filter((v): v is RolloutView => v !== null);
}

const CONTROL: Record<'pause' | 'resume' | 'cancel', { from: RolloutState[]; to: RolloutState }> = {
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['running', 'paused'], to: 'cancelled' },
};

/**
 * An admin's pause, resume or cancel, or the engine's own pause. Cancel only stops sending: a
 * device that already installed the release keeps it. A compare-and-set on the state, so two
 * admins (or an admin and the engine) cannot both move it.
 */
export async function controlRollout(
  ctx: RolloutsContext,
  id: string,
  action: keyof typeof CONTROL,
  actor: string,
  reason: string | null,
): Promise<RolloutView> {
  const { from, to } = CONTROL[action];
  const now = ctx.now();
  const db = otaDb(ctx.db);
  const changed = await db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('rollouts')
      .set({ state: to, reason: action === 'resume' ? null : reason, updated_at: now, ...(action === 'resume' ? { wave_settled_at: null } : {}) })
      .where('id', '=', id)
      .where('state', 'in', from)
      .returning(['release', 'wave'])
      .executeTakeFirst();
    if (r === undefined) return false;
    await appendAudit(registryOf(trx), {
      at: now,
      actor,
      action: `rollout.${action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'cancelled'}`,
      detail: { rollout: id, ...(reason === null ? {} : { reason }) },
    });
    await recordEvent(
      trx,
      'rollout.state',
      { rollout: id, release: r.release, state: to, wave: Number(r.wave), reason: action === 'resume' ? null : reason, actor },
      now,
    );
    return true;
  });
  const view = await rolloutView(ctx, id);
  if (view === null) throw new ProtocolError(ErrorCode.NOT_FOUND, `no rollout ${id}`, 'id');
  if (!changed) throw new ProtocolError(ErrorCode.CONFLICT, `rollout ${id} is ${view.state}; ${action} needs it ${from.join(' or ')}`, 'state');
  ctx.log.info({ rollout: id, action, actor, reason }, 'rollout state changed');
  return view;
}
