// Walk-up orders on the wire (docs/architecture.md, "Walk-up orders"): what the customer page and
// the operator view read from REST and from fb/v1/o/<order>.
import type { JobState } from './jobs';

/** What a customer may know of the machine: no agent, no other customer's orders. */
export type MachineStatus = 'idle' | 'busy' | 'offline' | 'maintenance' | 'closed';

export interface MachinePublic {
  code: string;
  model: string | null;
  status: MachineStatus;
  /** Orders and other jobs waiting, not counting what runs now. */
  queueLength: number;
}

export interface OrderError {
  code: string;
  message: string;
}

export interface OrderView {
  order: string;
  machine: string;
  state: JobState;
  /** 0 while printing, 1 for next, …; null once ended. */
  position: number | null;
  /** ms until it is expected to be done; null once ended. */
  eta: number | null;
  progress: number | null;
  copies: number;
  error: OrderError | null;
  /** Signed, short-lived path of the design's thumbnail (PNG). */
  thumb: string;
  createdAt: number;
}

/** Published (retained) on fb/v1/o/<order> on every change of its machine's queue. */
export interface OrderUpdate {
  order: string;
  state: JobState;
  position: number | null;
  eta: number | null;
  progress: number | null;
  error: OrderError | null;
  machine: { status: MachineStatus; queueLength: number };
  at: number;
}

export interface OpenedSession {
  session: string;
  token: string;
  expiresAt: number;
  /** How long without a request before the session ends. */
  idleMs: number;
  machine: MachinePublic;
}

export interface SessionState {
  session: string;
  expiresAt: number;
  machine: MachinePublic;
  orders: OrderView[];
}

export interface UploadedDesign {
  design: string;
  size: number;
  width: number;
  height: number;
  /** Signed, short-lived path of the thumbnail (PNG). */
  thumb: string;
}
