// What a job kind implements. The runner (job-runner.ts) owns acks, dedupe and cancel; a
// handler only does the work and reports through its context, which ignores anything after
// the first done/fail so a handler cannot finish a job twice.
import type { JobKind, JobParamsByKind } from '../../protocol/jobs';
import type { Platform } from './platform';

export interface JobContext {
  readonly platform: Platform;
  readonly job: string;
  /** Percent, 0-100. */
  progress(percent: number): void;
  done(result?: unknown): void;
  /** A short reason, e.g. "SERIAL_TIMEOUT: no reply within 2000 ms". */
  fail(error: string): void;
}

export interface JobRun {
  /** Stops at once and undoes what the job put on screen; the runner sends the `cancelled` ack. */
  cancel(): void;
  /** The broker confirmed completion from outside (a paid QR); absent for kinds that cannot be. */
  complete?(): void;
}

export interface JobHandler<K extends JobKind = JobKind> {
  readonly kind: K;
  /** False when this board lacks what the kind needs (e.g. no UART). */
  available(platform: Platform): boolean;
  start(params: JobParamsByKind[K], ctx: JobContext): JobRun;
}

export type JobHandlers = { [K in JobKind]?: JobHandler<K> };
