// In-memory state of one device's queue, and the serial runner that orders everything touching
// it: submits, acks, timers, presence and binding changes each run to completion in turn. The
// registry stays the truth; this holds what is on the device right now and the live timers.
import type { EndedJobView } from '../../protocol/messages';
import type { ScreenSize } from '../../protocol/screen-fit';
import type { Duration } from './eta';
import type { JobRow } from './schema';

export interface Control {
  type: 'cancel' | 'complete';
  reason: string;
  sends: number;
}

/** A job on the device (dispatched or running). */
export interface Active {
  id: string;
  agent: string;
  kind: string;
  /** The location whose pool the job came through; null when it named its device. */
  pool: string | null;
  params: Record<string, unknown>;
  hold: boolean;
  state: 'dispatched' | 'running';
  /** When it left the queue; its duration and the running job's remaining time count from here. */
  startedAt: number;
  /** cmd.attempt as the device sees it: sends over the job's whole life. */
  attempt: number;
  /** cmd sends since it left the queue this time. */
  sends: number;
  deadline: number;
  ttlMs: number;
  retries: number;
  timer: NodeJS.Timeout | null;
  control: Control | null;
  /** Device data stored for this job (bounded). */
  data: { rows: number; bytes: number; truncated: boolean };
}

export class DeviceQueue {
  /** Said hello on its current connection and has not dropped since. */
  ready = false;
  /** What the device announced in its last hello; null until read from the registry. */
  profile: { caps: readonly string[]; concurrency: number; screen: ScreenSize | null } | null = null;
  readonly active = new Map<string, Active>();
  durations: Map<string, Duration> | null = null;
  /** Jobs that ended since the last snapshot, with their agent (snapshots show the bound agent's only). */
  ended: { agent: string; view: EndedJobView }[] = [];
  /**
   * Unfinished jobs of the device in queue order, as committed: read from the registry once, then
   * kept up to date by the engine after each of its changes commits, so dispatch, positions,
   * snapshots and the queue cap need no read. Null until read, and always in a cluster, where
   * other nodes may have changed the queue since.
   */
  rows: readonly JobRow[] | null = null;
  /** Counts changes to the device's jobs, so a read that overlapped one is not kept as `rows`. */
  changes = 0;
  /** Something changed since the last snapshot. */
  dirty = false;
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly id: string) {}

  get concurrency(): number {
    return this.profile?.concurrency ?? 1;
  }

  /**
   * Runs fn after everything queued before it. When the last queued op finishes and something
   * changed, `settle` runs (the snapshot) on the next turn, so a burst of changes gives one snapshot.
   */
  run<T>(fn: () => Promise<T>, settle: () => Promise<void>): Promise<T> {
    this.pending++;
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => this.after(settle),
      () => this.after(settle),
    );
    return result;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }

  private async after(settle: () => Promise<void>): Promise<void> {
    this.pending--;
    if (this.pending > 0 || !this.dirty) return;
    // One turn of the event loop first: steps queued meanwhile share the snapshot, and the answer
    // to the step that just ended goes out before it.
    await new Promise<void>((r) => setImmediate(r));
    if (this.pending > 0 || !this.dirty) return;
    this.dirty = false;
    await settle();
  }
}

export function clearTimer(a: Active): void {
  if (a.timer !== null) clearTimeout(a.timer);
  a.timer = null;
}
