// Webhook events: their types and payloads (docs/architecture.md, "Webhooks"). Every delivery is a
// POST of `{id, type, time, data}` signed in the `Fleetbind-Signature` header.
import type { JobState } from './jobs';
import type { Status } from './messages';

/** alert.raised, alert.cleared and rollout.state join this list, and the same outbox, when alerts and rollouts exist. */
export const WEBHOOK_EVENTS = ['binding.changed', 'job.state', 'device.presence'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = 'fleetbind-signature';

export interface BindingChangedData {
  device: string;
  /** 'lease' and 'lease-end': a pool device serving an agent for a job (docs/architecture.md, Locations and pools). */
  action: 'claim' | 'release' | 'transfer' | 'lease' | 'lease-end';
  from: string | null;
  to: string | null;
  via: string | null;
  actor: string;
  version: number;
}

export interface JobStateData {
  job: string;
  device: string;
  agent: string;
  kind: string;
  state: JobState;
  /** The history detail of this change (error, reason, attempt). */
  detail: Record<string, unknown>;
}

export type DevicePresenceData = Status & { device: string };

export interface WebhookDataByType {
  'binding.changed': BindingChangedData;
  'job.state': JobStateData;
  'device.presence': DevicePresenceData;
}

export interface WebhookPayload<T extends WebhookEventType = WebhookEventType> {
  id: string;
  type: T;
  /** ISO 8601, when the change was committed. */
  time: string;
  data: WebhookDataByType[T];
}
