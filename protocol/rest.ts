// What the REST API answers: the shapes the broker writes and the host tools and web app read.
import type { JobState } from './jobs';
import type { Status } from './messages';

export interface DeviceView {
  id: string;
  mac: string;
  machineCode: string | null;
  model: string | null;
  fw: string | null;
  caps: string[];
  concurrency: number;
  location: string | null;
  agent: string | null;
  boundAt: number | null;
  boundVia: string | null;
  reservedByJob: string | null;
  bindingVersion: number;
  reprovisionAllowed: boolean;
  createdAt: number;
  lastSeen: number | null;
}

/** GET /api/devices and /api/devices/<id>. */
export type DeviceWithPresence = DeviceView & { presence: Status };

export interface AgentView { id: string; name: string; disabled: boolean; deviceLimit: number | null; createdAt: number }
/** GET /api/agents: each agent with how many devices it holds. */
export type AgentListItem = AgentView & { devices: number };

export interface AuditView { seq: number; at: number; actor: string; action: string; device: string | null; agent: string | null; detail: Record<string, unknown> }

export interface EnrollmentTokenView { id: string; usesTotal: number; usesLeft: number; expiresAt: number; createdAt: number; createdBy: string; revokedAt: number | null }
/** POST /api/enrollment-tokens: the token itself is shown this once. */
export interface NewEnrollmentToken { id: string; token: string; uses: number; expiresAt: number }

export interface BindingView { device: string; machineCode: string | null; agent: string; boundAt: number; via: string | null; presence: Status }

export interface TransferResult { device: string; from: string | null; to: string | null; changed: boolean }

export interface Label { code: string; sig?: string; url: string; device: string | null; fleet: string }

/** GET /api/claim-preview: what the claim screen shows (admins also get `agent`). */
export interface ClaimPreview {
  device: string;
  machineCode: string | null;
  model: string | null;
  presence: Status;
  /** 'you': already bound to the caller; 'other': bound to someone else; null: free. */
  holder: 'you' | 'other' | null;
  /** When the current binding started (ms), when there is one. */
  since: number | null;
}

/** GET /api/jobs/<id>, GET /api/jobs and the agents' `jobs` op: a job with its queue position. */
export interface JobView {
  job: string;
  device: string;
  agent: string;
  kind: string;
  params: Record<string, unknown>;
  state: JobState;
  hold: boolean;
  attempt: number;
  retries: number;
  progress: number | null;
  result: unknown;
  error: { code: string; message: string } | null;
  /** A cancel or completion sent to the device and not yet acknowledged. */
  pending: 'cancel' | 'complete' | null;
  idempotencyKey: string | null;
  expiresAt: number;
  /** When the job last entered each state it has been in. */
  times: Partial<Record<JobState, number>>;
  /** For unfinished jobs: 0 on the device, 1 next; eta in ms from now until done. */
  position: number | null;
  eta: number | null;
}

/** GET /api/jobs: the part of a job the host tools read. */
export type JobListItem = Pick<JobView, 'job' | 'device' | 'agent' | 'kind' | 'params' | 'state' | 'hold' | 'error' | 'times'>;

/** GET /api/webhooks: an endpoint without its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt: number;
  createdBy: string;
  failingSince: number | null;
  disabledAt: number | null;
  disabledReason: string | null;
}
/** POST /api/webhooks: the secret is shown this once when the broker generated it. */
export type NewWebhook = WebhookView & { secret?: string };

export interface WebhookAttemptView { at: number; status: number | null; error: string | null; latencyMs: number }
/** GET /api/webhooks/<id>/deliveries: newest first, each with its attempts. */
export interface WebhookDeliveryView {
  seq: number;
  event: string;
  type: string;
  state: 'pending' | 'delivered' | 'failed' | 'disabled';
  attempts: WebhookAttemptView[];
  createdAt: number;
  nextAt: number | null;
  deliveredAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
}

/** A login block (GET /api/blocks): failures of a subject from an address, of an address, or of a subject. */
export interface LoginBlockView { subject: string | null; address: string | null; failures: number; retryAfterMs: number }
