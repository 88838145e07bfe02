// In-memory state of one device's queue, and the serial runner that orders everything touching
// it: submits, acks, timers, presence and binding changes each run to completion in turn. The
// registry stays the truth; this holds what is on the device right now and the live timers.
import type { EndedJobView } from '../../protocol/messages';
import type { DeviceProfile } from '../store/devices';
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
  profile: DeviceProfile | null = null;
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
  /** Something the snapshot shows changed since the last one; set and cleared by snapshot.ts only. */
  dirty = false;
  /** This node's last snapshot of the device, retained, showed no jobs and none ended (snapshot.ts). */
  shownEmpty = false;
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Writes steps handed in without waiting for their commit (see `defer`). */
  private deferred: Promise<unknown>[] = [];

  constructor(readonly id: string) {}

  get concurrency(): number {
    return this.profile?.concurrency ?? 1;
  }

  /** Steps queued and not yet finished. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /**
   * Runs fn after everything queued before it. When the last queued step finishes, `settled` runs
   * (the snapshot decides whether one is due, snapshot.ts).
   */
  run<T>(fn: () => Promise<T>, settled: () => Promise<void>): Promise<T> {
    this.pending++;
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => this.after(settled),
      () => this.after(settled),
    );
    return result;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }

  /**
   * A write the current step handed in without waiting for its commit, so that a step already
   * queued behind it runs at once and its write joins the same group commit. `settled` runs only
   * once every such write has committed or failed: the snapshot never shows an uncommitted change,
   * and a step queued later waits for these commits as it would have.
   */
  defer(write: Promise<unknown>): void {
    this.deferred.push(write);
  }

  private after(settled: () => Promise<void>): Promise<void> | undefined {
    this.pending--;
    if (this.pending > 0) return undefined;
    if (this.deferred.length === 0) return settled();
    const writes = this.deferred.splice(0);
    return Promise.allSettled(writes).then(() => (this.pending > 0 ? undefined : settled()));
  }
}

export function clearTimer(a: Active): void {
  if (a.timer !== null) clearTimeout(a.timer);
  a.timer = null;
}

/** The in-memory form of a job that is on the device (or was, before a restart). */
export function activeOf(row: JobRow): Active {
  return {
    id: row.id,
    agent: row.agent,
    kind: row.kind,
    pool: row.pool ?? null,
    params: JSON.parse(row.params) as Record<string, unknown>,
    hold: Number(row.hold) === 1,
    state: row.state === 'running' ? 'running' : 'dispatched',
    startedAt: Number(row.dispatched_at ?? row.queued_at),
    attempt: Number(row.attempt),
    sends: 0,
    deadline: Number(row.expires_at),
    ttlMs: Number(row.ttl_ms),
    retries: Number(row.retries),
    timer: null,
    control: row.control === null ? null : { type: row.control, reason: row.control_reason ?? 'CANCELLED', sends: 0 },
    data: { rows: 0, bytes: 0, truncated: false },
  };
}
