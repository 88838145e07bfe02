// Reports the machine's state to the broker (docs/architecture.md, Machine state): changes are
// merged locally and sent as one merge patch at most once per `minIntervalMs` (coalescing a burst
// into one message), and the whole state is sent again every `periodMs` and on every new session,
// so a broker that missed a patch, or restarted, catches up by itself.
import { type ReportedState, type StatePatch, mergeState, parseStatePatch } from '../../protocol/machine-state';
import { errorSummary } from './error-summary';
import type { Platform, TimerHandle } from './platform';

export interface ReporterOptions {
  /** Least time between two reports. */
  minIntervalMs: number;
  /** The whole state is reported at least this often. */
  periodMs: number;
}

export interface ReporterHooks {
  /** Publishes a report; false when there is no session to publish on. */
  publish(text: string): boolean;
}

type Section = Record<string, unknown>;

/** Merges patch `b` into patch `a`, keeping nulls (they remove the field at the broker). */
function mergePatches(a: StatePatch, b: StatePatch): void {
  for (const [section, body] of Object.entries(b)) {
    if (body === null || a[section] === null || a[section] === undefined) {
      a[section] = body === null ? null : { ...(body as Section) };
      continue;
    }
    const target = a[section] as Section;
    for (const [k, v] of Object.entries(body as Section)) target[k] = v;
  }
}

export class StateReporter {
  private state: ReportedState = {};
  private readonly metadata: Record<string, number> = {};
  private pending: StatePatch = {};
  private lastSentAt: number | null = null;
  private flushTimer: TimerHandle | null = null;
  private periodTimer: TimerHandle | null = null;
  private online = false;
  /** Reports published, for stats. */
  sent = 0;

  constructor(
    private readonly platform: Platform,
    private readonly options: ReporterOptions,
    private readonly hooks: ReporterHooks,
  ) {}

  get current(): ReportedState {
    return this.state;
  }

  /**
   * Takes a change of the local state (a merge patch). An invalid one is logged and dropped, as
   * the broker would refuse it anyway. Returns whether anything changed.
   */
  update(patch: StatePatch): boolean {
    try {
      parseStatePatch(patch);
    } catch (e) {
      this.platform.log('warn', 'dropped an invalid state change', { error: errorSummary(e) });
      return false;
    }
    const { state, changed } = mergeState(this.state, patch, this.metadata, this.platform.now());
    if (changed.length === 0) return false;
    this.state = state;
    const delta: StatePatch = {};
    for (const path of changed) {
      const dot = path.indexOf('.');
      const section = path.slice(0, dot);
      const key = path.slice(dot + 1);
      const value = (state as Record<string, Section | undefined>)[section]?.[key];
      mergePatches(delta, { [section]: { [key]: value === undefined ? null : value } });
    }
    mergePatches(this.pending, delta);
    this.schedule();
    if (this.online && this.periodTimer === null) this.armPeriod();
    return true;
  }

  /** Sends these fields again at the next report, changed or not (the broker missed them). */
  resend(patch: StatePatch): void {
    mergePatches(this.pending, patch);
    this.schedule();
  }

  /** A session opened: report everything, then keep the period. */
  connected(): void {
    this.online = true;
    this.pending = this.whole();
    this.flush();
    this.armPeriod();
  }

  disconnected(): void {
    this.online = false;
    this.clear();
  }

  stop(): void {
    this.disconnected();
  }

  /** The whole state as a patch; machine fields the machine no longer reports are sent as null. */
  private whole(): StatePatch {
    const patch = JSON.parse(JSON.stringify(this.state)) as StatePatch;
    const machine = patch.machine as Section | undefined;
    if (machine !== undefined) {
      if (machine.error === undefined) machine.error = null;
      if (machine.job === undefined) machine.job = null;
    }
    return patch;
  }

  private schedule(): void {
    if (!this.online || this.flushTimer !== null) return;
    const now = this.clock();
    const wait = this.lastSentAt === null ? 0 : Math.max(0, this.lastSentAt + this.options.minIntervalMs - now);
    this.flushTimer = this.platform.setTimer(wait, () => {
      this.flushTimer = null;
      this.flush();
    });
  }

  private flush(): void {
    if (!this.online || Object.keys(this.pending).length === 0) return;
    if (!this.hooks.publish(JSON.stringify(this.pending))) return;
    this.pending = {};
    this.lastSentAt = this.clock();
    this.sent++;
  }

  /** Only a device with something to report keeps a timer for it. */
  private armPeriod(): void {
    if (this.periodTimer !== null) this.platform.clearTimer(this.periodTimer);
    this.periodTimer = null;
    if (Object.keys(this.state).length === 0) return;
    this.periodTimer = this.platform.setTimer(this.options.periodMs, () => {
      this.periodTimer = null;
      if (!this.online) return;
      this.pending = this.whole();
      this.flush();
      this.armPeriod();
    });
  }

  /** Monotonic where the platform has it: SNTP setting the wall clock must not stall reports. */
  private clock(): number {
    return this.platform.ticks ? this.platform.ticks() : this.platform.now();
  }

  private clear(): void {
    if (this.flushTimer !== null) this.platform.clearTimer(this.flushTimer);
    if (this.periodTimer !== null) this.platform.clearTimer(this.periodTimer);
    this.flushTimer = null;
    this.periodTimer = null;
  }
}
