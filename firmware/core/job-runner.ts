// Runs one job at a time from validated cmds: ack `accepted` at once, then the handler's
// progress and done/failed. Dedupes by job id (JobRing), cancels, completes held jobs, and
// rejects what this device cannot run. Acks are published through the core, which knows
// whether a session is up; a final ack that could not go out is kept for the next session.
import type { Ack, Cmd } from '../../protocol/messages';
import { isDeviceKind, parseDeviceParams, type DeviceKind, type JobContext, type JobHandler, type JobHandlers, type JobRun } from './job-handler';
import { JobRing, type RingEntry } from './job-ring';
import type { Platform } from './platform';
import { errorSummary, MAX_ERROR_CHARS } from './error-summary';

/** Final acks longer than this are remembered without their result, to bound the ring's memory. */
const MAX_STORED_ACK_CHARS = 512;

export interface RunnerHooks {
  /** Publishes an ack; false when there is no session to publish on. */
  publishAck(text: string): boolean;
  /** A job started (kind) or the device became idle (null). */
  onBusy(kind: string | null): void;
}

interface Running {
  job: string;
  kind: DeviceKind;
  entry: RingEntry;
  run: JobRun | null;
  over: boolean;
}

export class JobRunner {
  private readonly ring: JobRing;
  private current: Running | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly handlers: JobHandlers,
    private readonly caps: readonly string[],
    ringSize: number,
    private readonly hooks: RunnerHooks,
  ) {
    this.ring = new JobRing(ringSize);
  }

  get running(): { job: string; kind: string } | null {
    return this.current === null ? null : { job: this.current.job, kind: this.current.kind };
  }

  get remembered(): number {
    return this.ring.size;
  }

  handle(cmd: Cmd): void {
    if (cmd.cancel === true) this.cancel(cmd);
    else if (cmd.complete === true) this.complete(cmd);
    else this.start(cmd);
  }

  /** Publishes final acks of jobs that ended while there was no session. */
  flushUnsent(): void {
    for (const e of this.ring.unsent()) {
      if (e.finalAck === null || !this.hooks.publishAck(e.finalAck)) return;
      e.unsent = false;
    }
  }

  /** Stops the running job without an ack (the core is shutting down). */
  stop(): void {
    const r = this.current;
    if (r === null) return;
    r.over = true;
    this.current = null;
    this.safely(r, 'cancel', () => r.run?.cancel());
  }

  private start(cmd: Cmd): void {
    if (this.current !== null && this.current.job === cmd.job) {
      this.platform.log('info', 'resent cmd for the running job', { job: cmd.job, attempt: cmd.attempt });
      this.send({ job: cmd.job, state: 'accepted' });
      return;
    }
    const seen = this.ring.find(cmd.job);
    if (seen !== undefined) {
      this.platform.log('info', 'resent cmd for a finished job', { job: cmd.job, attempt: cmd.attempt });
      this.resendFinal(seen);
      return;
    }
    const entry = this.ring.add(cmd.job);
    const refusal = this.refusal(cmd);
    if (refusal !== null) {
      this.platform.log('warn', 'job rejected', { job: cmd.job, kind: cmd.kind.slice(0, 32), error: refusal });
      this.finish(entry, { job: cmd.job, state: 'rejected', error: refusal });
      return;
    }
    const kind = cmd.kind as DeviceKind;
    let params: ReturnType<typeof parseDeviceParams>;
    try {
      params = parseDeviceParams(kind, cmd.params);
    } catch (e) {
      const error = errorSummary(e);
      this.platform.log('warn', 'job rejected', { job: cmd.job, kind: cmd.kind, error });
      this.finish(entry, { job: cmd.job, state: 'rejected', error });
      return;
    }
    const r: Running = { job: cmd.job, kind, entry, run: null, over: false };
    this.current = r;
    entry.accepted = true;
    this.send({ job: cmd.job, state: 'accepted' });
    this.platform.log('info', 'job accepted', { job: cmd.job, kind, attempt: cmd.attempt });
    this.hooks.onBusy(kind);
    const handler = this.handlers[kind] as JobHandler;
    this.safely(r, 'start', () => {
      const run = handler.start(params, this.context(r));
      if (!r.over) r.run = run;
    });
  }

  private refusal(cmd: Cmd): string | null {
    const kind = cmd.kind;
    if (!isDeviceKind(kind) || this.handlers[kind] === undefined || !this.caps.includes(kind)) {
      return `UNSUPPORTED: this device does not run '${kind.slice(0, 32)}'`;
    }
    if (!(this.handlers[kind] as JobHandler).available(this.platform)) return `UNSUPPORTED: this board lacks what '${kind}' needs`;
    if (cmd.deadline > 0 && cmd.deadline < this.platform.now()) return 'EXPIRED: the deadline passed before the job arrived';
    if (this.current !== null) return `BUSY: job ${this.current.job} is running`;
    return null;
  }

  private cancel(cmd: Cmd): void {
    const r = this.current;
    if (r !== null && r.job === cmd.job) {
      this.platform.log('info', 'job cancelled', { job: r.job, kind: r.kind });
      this.safely(r, 'cancel', () => r.run?.cancel());
      if (!r.over) this.end(r, { job: r.job, state: 'cancelled' });
      return;
    }
    const seen = this.ring.find(cmd.job);
    if (seen !== undefined) {
      this.resendFinal(seen);
      return;
    }
    // Cancel overtook its cmd: remember the id so the cmd, if it still arrives, never runs.
    this.platform.log('info', 'cancel for a job not seen yet', { job: cmd.job });
    this.finish(this.ring.add(cmd.job), { job: cmd.job, state: 'cancelled' });
  }

  private complete(cmd: Cmd): void {
    const r = this.current;
    if (r !== null && r.job === cmd.job) {
      const run = r.run;
      if (run?.complete === undefined) {
        this.platform.log('warn', 'completion for a job kind that cannot be completed', { job: r.job, kind: r.kind });
        return;
      }
      this.platform.log('info', 'job completed by the broker', { job: r.job, kind: r.kind });
      this.safely(r, 'complete', () => run.complete?.());
      return;
    }
    const seen = this.ring.find(cmd.job);
    if (seen !== undefined) this.resendFinal(seen);
    else this.platform.log('warn', 'completion for an unknown job', { job: cmd.job });
  }

  private context(r: Running): JobContext {
    return {
      platform: this.platform,
      job: r.job,
      progress: (percent) => {
        if (!r.over) this.send({ job: r.job, state: 'progress', progress: Math.max(0, Math.min(100, percent)) });
      },
      done: (result) => {
        if (r.over) return;
        this.platform.log('info', 'job done', { job: r.job, kind: r.kind });
        this.end(r, result === undefined ? { job: r.job, state: 'done' } : { job: r.job, state: 'done', result });
      },
      fail: (error) => {
        if (r.over) return;
        this.platform.log('warn', 'job failed', { job: r.job, kind: r.kind, error: error.slice(0, MAX_ERROR_CHARS) });
        this.end(r, { job: r.job, state: 'failed', error: error.slice(0, MAX_ERROR_CHARS) });
      },
    };
  }

  /** Runs handler code; a throw fails the job instead of escaping into the event loop. */
  private safely(r: Running, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const error = `INTERNAL: ${what} threw: ${errorSummary(e)}`;
      this.platform.log('error', 'job handler threw', { job: r.job, kind: r.kind, error });
      if (!r.over) this.end(r, { job: r.job, state: 'failed', error });
    }
  }

  private end(r: Running, ack: Ack): void {
    r.over = true;
    if (this.current === r) this.current = null;
    this.finish(r.entry, ack);
    this.hooks.onBusy(null);
  }

  private finish(entry: RingEntry, ack: Ack): void {
    const text = JSON.stringify(ack);
    entry.finalAck = text.length <= MAX_STORED_ACK_CHARS ? text : JSON.stringify(withoutResult(ack));
    entry.unsent = !this.hooks.publishAck(text);
  }

  private resendFinal(e: RingEntry): void {
    if (e.finalAck === null) return;
    if (e.accepted) this.send({ job: e.job, state: 'accepted' });
    e.unsent = !this.hooks.publishAck(e.finalAck);
  }

  private send(ack: Ack): void {
    this.hooks.publishAck(JSON.stringify(ack));
  }
}

function withoutResult(ack: Ack): Ack {
  return ack.error === undefined ? { job: ack.job, state: ack.state } : { job: ack.job, state: ack.state, error: ack.error };
}
