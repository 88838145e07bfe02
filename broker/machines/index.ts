// Wires machine state into a broker node (docs/architecture.md, Machine state): shadows, alerts
// fed by reports, presence and job endings, the history pruning job and the machine metrics.
import { machineStatus } from '../../protocol/machine-state';
import type { Context } from '../context';
import { activeJobs } from '../jobs/store';
import { deviceAgents } from '../store/devices';
import { Alerts } from './alerts';
import { MachineShadows } from './shadows';
import { pruneHistory } from './store';

declare module '../context' {
  interface LateParts {
    /** Machine shadows, settings and alerts (startMachines). */
    machines: Machines;
  }
}

export interface Machines {
  shadows: MachineShadows;
  alerts: Alerts;
  /** Deletes history older than the retention; resolves with how many samples went. */
  prune(): Promise<number>;
  stop(): void;
}

const PRUNE_EVERY_MS = 3600_000;

export async function startMachines(ctx: Context): Promise<Machines> {
  const shadows = new MachineShadows(ctx);
  const alerts = new Alerts(ctx);
  await shadows.start();
  await alerts.start();
  shadows.onReport((device, before, after) => alerts.onReported(device, before, after));
  ctx.events.on('presence', (device, status) => alerts.onPresence(device, status));
  ctx.events.on('jobEnded', (device, state) => {
    if (state === 'done' || state === 'failed') alerts.onJobEnded(device, state === 'failed');
  });
  const prune = async (): Promise<number> => {
    const n = await pruneHistory(ctx.db, ctx.now() - ctx.opts.machines.historyRetentionMs);
    if (n > 0) ctx.log.info({ samples: n }, 'machine history pruned');
    return n;
  };
  void prune().catch((err: unknown) => ctx.log.error({ err }, 'pruning machine history failed'));
  const timer = setInterval(() => void prune().catch((err: unknown) => ctx.log.error({ err }, 'pruning machine history failed')), PRUNE_EVERY_MS);
  timer.unref();
  ctx.metrics.watchMachines(async () => {
    const devices = await deviceAgents(ctx.db);
    const all = await shadows.shadows(devices.map((d) => d.id));
    const running = new Set((await activeJobs(ctx.jobs.engine.db)).map((j) => j.device));
    const byStatus: Record<string, number> = {};
    const levels: Array<{ device: string; name: string; level: number }> = [];
    const statuses: Array<{ device: string; status: string }> = [];
    for (const d of devices) {
      const reported = all.get(d.id)?.reported ?? null;
      const status = machineStatus(ctx.presence.status(d.id).state, reported, ctx.opts.machines.lowPercent, running.has(d.id));
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      statuses.push({ device: d.id, status });
      for (const [name, c] of Object.entries(reported?.consumables ?? {})) levels.push({ device: d.id, name, level: c.level });
    }
    return { byStatus, levels, statuses };
  }, ctx.opts.machines.deviceMetrics);
  const machines: Machines = {
    shadows,
    alerts,
    prune,
    stop: () => {
      clearInterval(timer);
      alerts.stop();
    },
  };
  ctx.machines = machines;
  return machines;
}
