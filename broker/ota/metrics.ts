// Update metrics (docs/architecture.md, Over-the-air updates): devices by firmware version,
// update outcomes, rollouts by state, all on the broker's registry.
import type { Kysely } from 'kysely';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ROLLOUT_STATES } from '../../protocol/ota';
import type { Database } from '../store/schema';
import { otaDb } from './schema';

export class OtaMetrics {
  readonly outcomes: Counter<'outcome'>;
  readonly sent: Counter;
  readonly autoPauses: Counter;

  constructor(registry: Registry, db: Kysely<Database>) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: 'fleetbind_ota_outcomes_total',
      help: 'Update outcomes seen by this node: confirmed, failed, rolled-back',
      labelNames: ['outcome'],
      registers,
    });
    this.sent = new Counter({ name: 'fleetbind_ota_commands_sent_total', help: 'ota cmds sent by this node, resends included', registers });
    this.autoPauses = new Counter({
      name: 'fleetbind_rollout_auto_pauses_total',
      help: 'Rollouts that paused themselves because a wave failed too often',
      registers,
    });
    new Gauge({
      name: 'fleetbind_devices_by_firmware',
      help: 'Registered devices by the firmware version they last reported',
      labelNames: ['fw'],
      registers,
      async collect() {
        this.reset();
        const rows = await db
          .selectFrom('devices')
          .select(['fw', (eb) => eb.fn.countAll<number>().as('n')])
          .groupBy('fw')
          .execute();
        for (const r of rows) this.set({ fw: r.fw ?? 'unknown' }, Number(r.n));
      },
    });
    new Gauge({
      name: 'fleetbind_rollouts',
      help: 'Rollouts by state',
      labelNames: ['state'],
      registers,
      async collect() {
        const rows = await otaDb(db)
          .selectFrom('rollouts')
          .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
          .groupBy('state')
          .execute();
        const by = new Map(rows.map((r) => [r.state, Number(r.n)]));
        for (const state of ROLLOUT_STATES) this.set({ state }, by.get(state) ?? 0);
      },
    });
  }
}
