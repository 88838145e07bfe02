// One device's updates (docs/architecture.md, Over-the-air updates): the version it reports, the
// release on its way to it, and how its last update ended and why. Read from the rollouts' own
// per-device rows, which already hold every try's state and reason.
import type { DeviceOta } from '../../protocol/rest';
import type { RolloutDeviceState } from '../../protocol/ota';
import type { Context } from '../context';
import { getDevice } from '../store/devices';
import { otaDb } from './schema';

/** What this module reads of the node's context. */
type DeviceOtaContext = Pick<Context, 'db'>;

const IN_FLIGHT: RolloutDeviceState[] = ['sent', 'downloading', 'installed'];
const FINAL: RolloutDeviceState[] = ['confirmed', 'failed', 'rolled-back'];

/** null when there is no such device. */
export async function deviceOta(ctx: DeviceOtaContext, device: string): Promise<DeviceOta | null> {
  const row = await getDevice(ctx.db, device);
  if (!row) return null;
  const tries = await otaDb(ctx.db)
    .selectFrom('rollout_devices')
    .innerJoin('rollouts', 'rollouts.id', 'rollout_devices.rollout')
    .select([
      'rollout_devices.rollout',
      'rollouts.release',
      'rollout_devices.state',
      'rollout_devices.progress',
      'rollout_devices.error',
      'rollout_devices.updated_at',
    ])
    .where('rollout_devices.device', '=', device)
    .where('rollout_devices.state', 'in', [...IN_FLIGHT, ...FINAL])
    .orderBy('rollout_devices.updated_at', 'desc')
    .limit(20)
    .execute();
  const pending = tries.find((t) => IN_FLIGHT.includes(t.state));
  const last = tries.find((t) => FINAL.includes(t.state));
  return {
    device,
    fw: row.fw,
    pendingFw: pending?.release ?? null,
    pending:
      pending === undefined
        ? null
        : {
            rollout: pending.rollout,
            release: pending.release,
            state: pending.state as 'sent' | 'downloading' | 'installed',
            progress: pending.progress,
            updatedAt: Number(pending.updated_at),
          },
    last:
      last === undefined
        ? null
        : {
            rollout: last.rollout,
            release: last.release,
            outcome: last.state as 'confirmed' | 'failed' | 'rolled-back',
            reason: last.error,
            at: Number(last.updated_at),
          },
  };
}
