// What the REST API answers: the shapes the broker writes and the host tools and web app read.
// Derived from the JSON Schemas in rest-schemas.ts (one source for types, validation and the
// OpenAPI document); json-schema-to-ts is a type-only import, so nothing of it runs on XS.
import type { FromSchema } from 'json-schema-to-ts';
import type * as S from './rest-schemas';

export type DeviceView = FromSchema<typeof S.DeviceViewSchema>;
/** GET /api/devices and /api/devices/<id>. */
export type DeviceWithPresence = FromSchema<typeof S.DeviceWithPresenceSchema>;

export type AgentView = FromSchema<typeof S.AgentViewSchema>;
/** GET /api/agents: each agent with how many devices it holds. */
export type AgentListItem = FromSchema<typeof S.AgentListItemSchema>;

export type AuditView = FromSchema<typeof S.AuditViewSchema>;

export type EnrollmentTokenView = FromSchema<typeof S.EnrollmentTokenViewSchema>;
/** POST /api/enrollment-tokens: the token itself is shown this once. */
export type NewEnrollmentToken = FromSchema<typeof S.NewEnrollmentTokenSchema>;

export type BindingView = FromSchema<typeof S.BindingViewSchema>;

export type TransferResult = FromSchema<typeof S.TransferResultSchema>;

export type Label = FromSchema<typeof S.LabelSchema>;

/** GET /api/claim-preview: what the claim screen shows (admins also get `agent`). */
export type ClaimPreview = FromSchema<typeof S.ClaimPreviewSchema>;

/** GET /api/jobs/<id>, GET /api/jobs and the agents' `jobs` op: a job with its queue position. */
export type JobView = FromSchema<typeof S.JobViewSchema>;

/** GET /api/jobs: the part of a job the host tools read. */
export type JobListItem = FromSchema<typeof S.JobListItemSchema>;

/** GET /api/webhooks: an endpoint without its secret. */
export type WebhookView = FromSchema<typeof S.WebhookViewSchema>;
/** POST /api/webhooks: the secret is shown this once when the broker generated it. */
export type NewWebhook = FromSchema<typeof S.NewWebhookSchema>;

export type WebhookAttemptView = FromSchema<typeof S.WebhookAttemptViewSchema>;
/** GET /api/webhooks/<id>/deliveries: newest first, each with its attempts. */
export type WebhookDeliveryView = FromSchema<typeof S.WebhookDeliveryViewSchema>;

/** A login block (GET /api/blocks): failures of a subject from an address, of an address, or of a subject. */
export type LoginBlockView = FromSchema<typeof S.LoginBlockViewSchema>;

/** A transfer request (docs/architecture.md, "Transfer requests"); who asked and who held the machine are shown to admins only. */
export type TransferRequestView = FromSchema<typeof S.TransferRequestViewSchema>;

/** A machine's shadow: reported state, desired settings and their delta (docs/architecture.md, "Machine state"). */
export type ShadowView = FromSchema<typeof S.ShadowSchema>;
export type AlertView = FromSchema<typeof S.AlertViewSchema>;
/** GET /api/machines: one row per machine, in the printing operators' terms. */
export type MachineView = FromSchema<typeof S.MachineViewSchema>;
/** GET /api/machines/<code>: the row plus the shadow and the machine's alerts. */
export type MachineDetail = FromSchema<typeof S.MachineDetailSchema>;
export type QueuePosition = FromSchema<typeof S.QueuePositionSchema>;
export type HistorySample = FromSchema<typeof S.HistorySampleSchema>;

/** A firmware release (docs/architecture.md, Over-the-air updates). */
export type ReleaseView = FromSchema<typeof S.ReleaseViewSchema>;
/** GET /api/devices/<id>/ota: the version a device runs, the one on its way, and its last update's outcome. */
export type DeviceOta = FromSchema<typeof S.DeviceOtaSchema>;
/** A rollout with its counts by device state, overall and per wave. */
export type RolloutView = FromSchema<typeof S.RolloutViewSchema>;
/** GET /api/locations (docs/architecture.md, Locations and pools). */
export type LocationListItem = FromSchema<typeof S.LocationListItemSchema>;
/** GET /api/locations/<id>: devices with mode, lease and presence, and the pool queue. */
export type LocationDetail = FromSchema<typeof S.LocationDetailSchema>;
/** GET /api/leases. */
export type LeaseView = FromSchema<typeof S.LeaseViewSchema>;
/** GET /api/locations/<id>/label. */
export type LocationLabel = FromSchema<typeof S.LocationLabelSchema>;
/** POST /api/login: the session token and who it is for. */
export type Session = FromSchema<typeof S.SessionSchema>;
/** GET /api/me: who a token is. */
export type Me = FromSchema<typeof S.MeSchema>;
/** GET /api/payment-settings. */
export type PaymentSettings = FromSchema<typeof S.PaymentSettingsSchema>;
/** GET /api/agents/<id>: the agent with its devices and locations. */
export type AgentDetail = FromSchema<typeof S.AgentDetailSchema>;
/** POST /api/locations and /api/locations/resolve-label. */
export type LocationView = FromSchema<typeof S.LocationViewSchema>;
