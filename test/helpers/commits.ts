// Counting a test broker's commits: its SQLite registry syncs the WAL once per commit, so the
// count between two points is the number of commits between them.
import type { TestBroker } from './broker';
import { waitUntil } from './wait';

export function walSyncs(tb: TestBroker): number {
  return tb.broker.ctx.backends.registry.walSyncs!();
}

/** Resolves once the broker has not committed for a while (a device's connect and hello are written). */
export async function noCommits(tb: TestBroker): Promise<void> {
  let last = walSyncs(tb);
  let since = Date.now();
  await waitUntil(
    () => {
      const now = walSyncs(tb);
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= 300;
    },
    10_000,
    'the registry to stop committing',
  );
}
