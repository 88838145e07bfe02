// A fleetbind broker compacts its heap once after a connect storm (docs/architecture.md, Memory
// after a connect storm), a pause of up to a second. A benchmark whose setup connected a storm's
// worth of clients waits for that compaction before it measures, so that no measured phase takes
// the pause and every round starts from the heap a broker has in service.
import { DEFAULTS } from '../../broker/config';
import type { BrokerProcess } from '../../test/helpers/broker-process';
import { metric } from '../../test/helpers/metrics';

const COMPACTIONS = 'fleetbind_heap_compactions_total';

/** Resolves once the broker has compacted after `connects` connects, or at once if none will come. */
export async function afterSetupStorm(bp: BrokerProcess, connects: number, log: (line: string) => void, timeoutMs = 20_000): Promise<void> {
  if (connects < DEFAULTS.stormCompaction) return;
  const compactions = async (): Promise<number | null> => {
    const text = await (await fetch(`${bp.httpUrl}/metrics`)).text();
    // A broker from before the compaction (--before) has no such counter and never pauses.
    return text.includes(COMPACTIONS) ? metric(text, COMPACTIONS) : null;
  };
  const started = Date.now();
  for (;;) {
    const n = await compactions();
    if (n === null || n > 0) return;
    if (Date.now() - started > timeoutMs) {
      log(`the broker did not compact its heap within ${timeoutMs / 1000} s of the setup's ${connects} connects; measuring anyway`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
