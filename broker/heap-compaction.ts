// After a connect storm, give back the memory its garbage grew (docs/architecture.md, Memory after
// a connect storm). Every connection in a storm waits seconds for its turn, so its transient objects
// outlive the young generation and die in old space; V8 then keeps those sparse pages committed,
// and its own memory reducer waits for an idle the background traffic of a big fleet never gives.
// One collection that moves the live objects off sparse pages returns them.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Compaction {
  /** V8 heap committed before and after, in bytes. */
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

let collect: (() => void) | null = null;

/** The collector V8 hands to a context created with --expose-gc; the main context never gets `gc`. */
function collector(): () => void {
  if (collect) return collect;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  collect = gc;
  return gc;
}

const committed = (): number => getHeapSpaceStatistics().reduce((sum, s) => sum + s.space_size, 0);

/** One full, compacting collection; the event loop waits for it. */
export function compactHeap(): Compaction {
  const gc = collector();
  const beforeBytes = committed();
  const t0 = performance.now();
  // A full collection compacts only the pages V8 picks as fragmented enough; for this one, all.
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return { beforeBytes, afterBytes: committed(), ms: performance.now() - t0 };
}

const CALM_TICKS = 3;

/** Where a StormCompactor's compactions go: logged and counted, or a failure to report. */
export interface CompactionReport {
  compacted(c: Compaction & { connects: number }): void;
  failed(err: unknown): void;
}

/**
 * Counts completed connects and compacts the heap once a storm of at least `storm` of them has
 * ended. A tick is busy when more than a hundredth of a storm's connects complete in it, or more
 * than that still wait for their CONNECT to be through; a storm ends after `CALM_TICKS` calm ticks in
 * a row, so that a lull mid-storm (a long collection here, devices arriving in waves) seldom ends it.
 * Ordinary churn never builds one, so it never costs a pause.
 */
export class StormCompactor {
  private inStorm = 0;
  private inTick = 0;
  private calmTicks = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly storm: number,
    private readonly waiting: () => number,
    private readonly report: CompactionReport,
    private readonly tickMs = 500,
    private readonly compact: () => Compaction = compactHeap,
  ) {}

  connected(): void {
    if (this.storm === 0) return;
    this.inStorm++;
    this.inTick++;
    this.timer ??= setTimeout(() => this.tick(), this.tickMs).unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.timer = null;
    const few = Math.max(1, Math.floor(this.storm / 100));
    this.calmTicks = this.inTick <= few && this.waiting() <= few ? this.calmTicks + 1 : 0;
    this.inTick = 0;
    if (this.calmTicks < CALM_TICKS) {
      this.timer = setTimeout(() => this.tick(), this.tickMs).unref();
      return;
    }
    const connects = this.inStorm;
    this.inStorm = 0;
    this.calmTicks = 0;
    if (connects < this.storm) return;
    let c: Compaction;
    try {
      c = this.compact();
    } catch (err) {
      this.report.failed(err);
      return;
    }
    this.report.compacted({ ...c, connects });
  }
}
