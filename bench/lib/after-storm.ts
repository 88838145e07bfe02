// A fleetbind broker compacts its heap once after a connect storm (docs/architecture.md, Memory
// after a connect storm), a pause of up to a second. A benchmark whose setup connected a storm's
// worth of clients waits for that compaction before it measures, so that no measured phase takes
// the pause and every round starts from the heap a broker has in service.
import { DEFAULTS } from '../../broker/config';
import type { BrokerProcess } from '../../test/helpers/broker-process';
import { brokerCounters } from './broker-counters';

/** Resolves once the broker has compacted after `connects` connects, or at once if none will come. */
export async function afterSetupStorm(bp: BrokerProcess, connects: number, log: (line: string) => void, timeoutMs = 20_000): Promise<void> {
  if (connects < DEFAULTS.stormCompaction) return;
  const started = Date.now();
  for (;;) {
    const { compactions } = await brokerCounters(bp);
    // A broker from before the compaction (--before) has no such counter and never pauses.
    if (Number.isNaN(compactions) || compactions > 0) return;
    if (Date.now() - started > timeoutMs) {
      log(`the broker did not compact its heap within ${timeoutMs / 1000} s of the setup's ${connects} connects; measuring anyway`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
