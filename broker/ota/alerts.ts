// Rollout alerts (docs/architecture.md, Over-the-air updates): a rollout that paused itself, or
// finished with devices that failed or rolled back, is told to admins on `fb/v1/admin/alerts`
// as it happens, besides its audit row, log line and metric. Machine alerts share the topic and
// are told apart by `event`.
import type { RolloutAlert, RolloutAlertKind } from '../../protocol/ota';
import { adminAlertsTopic } from '../../protocol/topics';
import type { Context } from '../context';
import { type PublisherContext, publishJson } from '../publisher';
import { otaDb, type RolloutsTable } from './schema';

/** What this module reads of the node's context. */
type AlertsContext = Pick<Context, 'db' | 'log' | 'now'> & PublisherContext;

/** Failed and rolled-back devices of the whole rollout. */
async function failures(ctx: AlertsContext, rollout: string): Promise<{ failed: number; rolledBack: number }> {
  const rows = await otaDb(ctx.db)
    .selectFrom('rollout_devices')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('rollout', '=', rollout)
    .where('state', 'in', ['failed', 'rolled-back'])
    .groupBy('state')
    .execute();
  const by = new Map(rows.map((r) => [r.state, Number(r.n)]));
  return { failed: by.get('failed') ?? 0, rolledBack: by.get('rolled-back') ?? 0 };
}

export async function alertRollout(ctx: AlertsContext, r: RolloutsTable, kind: RolloutAlertKind, message: string): Promise<RolloutAlert> {
  const alert: RolloutAlert = {
    event: 'rollout',
    kind,
    rollout: r.id,
    release: r.release,
    wave: r.wave,
    ...(await failures(ctx, r.id)),
    message,
    at: ctx.now(),
  };
  ctx.log.error({ alert: kind, rollout: r.id, release: r.release, wave: r.wave, failed: alert.failed, rolledBack: alert.rolledBack }, `ALERT: ${message}`);
  await publishJson(ctx, adminAlertsTopic, alert);
  return alert;
}

/** A rollout that reached its last wave's end with failures: worth a person's look, though it did not pause. */
export async function alertIfFinishedWithFailures(ctx: AlertsContext, r: RolloutsTable): Promise<void> {
  const { failed, rolledBack } = await failures(ctx, r.id);
  if (failed + rolledBack === 0) return;
  await alertRollout(
    ctx,
    r,
    'rollout-finished-with-failures',
    `rollout ${r.id} of ${r.release} finished with ${failed} failed and ${rolledBack} rolled-back devices`,
  );
}
