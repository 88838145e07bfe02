// What one node asks of the node that dispatches a device (docs/architecture.md, Jobs): the
// caller (jobs/lease.ts onHolder) and the serving end (JobEngine) share this one interface, so an
// operation's arguments and answer are checked at both ends. Arguments and answers cross nodes as
// JSON.
import type { JobState } from '../../protocol/jobs';
import type { JobView } from '../../protocol/rest';
import type { BindingChange } from '../store/bindings';
import type { JobVia } from './store';

export interface SubmitInput {
  device: string;
  kind: string;
  params: unknown;
  ttl?: number;
  idempotencyKey?: string;
  via?: JobVia;
}

export interface SubmitResult {
  job: string;
  state: JobState;
  position: number | null;
  eta: number | null;
}

export type Who = { kind: 'agent' | 'admin'; id: string };
export type CancelResult = { job: string; state: JobState; pending: 'cancel' | null };

export interface JobRpc {
  /** Another node took the device over: stop dispatching it, settling what is on the device. */
  release(device: string): Promise<void>;
  /** The node that dispatched the device died: settle its jobs left dispatched or running. */
  settle(device: string): Promise<void>;
  /** Work may be waiting for the device: send what its free slots allow. */
  pump(device: string): Promise<void>;
  binding(change: BindingChange): Promise<void>;
  submit(agent: string, s: SubmitInput): Promise<SubmitResult>;
  cancel(who: Who, id: string): Promise<CancelResult>;
  complete(who: Who, id: string): Promise<JobView>;
  /** Reordering the device's waiting jobs. */
  move(who: Who, id: string, position: number): Promise<{ job: string; position: number }>;
}

export type JobOp = keyof JobRpc;
export type JobAnswer<K extends JobOp> = Awaited<ReturnType<JobRpc[K]>>;
