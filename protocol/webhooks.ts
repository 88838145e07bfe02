// Webhook events: their types and payloads (docs/architecture.md, "Webhooks"). Every delivery is a
// POST of `{id, type, time, data}` signed in the `Fleetbind-Signature` header.
import type { JobState } from './jobs';
import type { Status } from './messages';
import type { RolloutState } from './ota';
import type { AlertView } from './rest';

export const WEBHOOK_EVENTS = ['binding.changed', 'job.state', 'device.presence', 'alert.raised', 'alert.cleared', 'rollout.state'] as const;
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

/** The alert as the REST API shows it, plus the agent holding the machine when it changed (null when free). */
export type AlertData = AlertView & { agent: string | null };

export interface RolloutStateData {
  rollout: string;
  release: string;
  state: RolloutState;
  /** The wave now being sent or soaked, from 0. */
  wave: number;
  /** Why it was paused or cancelled: an admin's words or the failure-rate check's. */
  reason: string | null;
  actor: string;
}

export interface WebhookDataByType {
  'binding.changed': BindingChangedData;
  'job.state': JobStateData;
  'device.presence': DevicePresenceData;
  'alert.raised': AlertData;
  'alert.cleared': AlertData;
  'rollout.state': RolloutStateData;
}

export interface WebhookPayload<T extends WebhookEventType = WebhookEventType> {
  id: string;
  type: T;
  /** ISO 8601, when the change was committed. */
  time: string;
  data: WebhookDataByType[T];
}

/**
 * What admins are told on `fb/v1/admin/alerts` (beside machine and rollout alerts, told apart by
 * `event`) when an endpoint is disabled after failing for --webhooks-disable-after-ms.
 */
export interface WebhookAlert {
  event: 'webhook';
  kind: 'webhook-disabled';
  webhook: string;
  url: string;
  message: string;
  at: number;
}
