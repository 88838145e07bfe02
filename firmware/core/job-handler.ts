// What a job kind implements. The runner (job-runner.ts) owns acks, dedupe and cancel; a
// handler only does the work and reports through its context, which ignores anything after
// the first done/fail so a handler cannot finish a job twice.
import { isJobKind, parseJobParams, type JobParamsByKind } from '../../protocol/jobs';
import { OTA_KIND, parseOtaParams, type OtaParams } from '../../protocol/ota';
import type { Platform } from './platform';

/** What a device runs: the job kinds agents submit, plus `ota`, which only a rollout sends. */
export interface DeviceParamsByKind extends JobParamsByKind {
  ota: OtaParams;
}
export type DeviceKind = keyof DeviceParamsByKind;

export function isDeviceKind(kind: string): kind is DeviceKind {
  return kind === OTA_KIND || isJobKind(kind);
}

export function parseDeviceParams(kind: DeviceKind, params: unknown): DeviceParamsByKind[DeviceKind] {
  return kind === OTA_KIND ? parseOtaParams(params) : parseJobParams(kind, params);
}

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

export interface JobHandler<K extends DeviceKind = DeviceKind> {
  readonly kind: K;
  /** False when this board lacks what the kind needs (e.g. no UART). */
  available(platform: Platform): boolean;
  start(params: DeviceParamsByKind[K], ctx: JobContext): JobRun;
}

export type JobHandlers = { [K in DeviceKind]?: JobHandler<K> };
