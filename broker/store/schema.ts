// Table shapes as Kysely sees them. Times are ms since the epoch; flags are 0/1 integers and
// JSON is text, so SQLite and PostgreSQL share one query layer.
import type { Generated, Insertable, Selectable } from 'kysely';

export interface DevicesTable {
  id: string;
  secret_hash: string;
  mac: string;
  machine_code: string | null;
  model: string | null;
  fw: string | null;
  caps: string;
  concurrency: number;
  location: string | null;
  agent_id: string | null;
  bound_at: number | null;
  bound_via: string | null;
  reserved_by_job: string | null;
  binding_version: number;
  /** 'owned' (claimed for keeps) or 'pool' (leased per job); docs/architecture.md, Locations and pools. */
  mode: Generated<string>;
  reprovision_allowed: number;
  created_at: number;
  last_seen: number | null;
  /** 'admin' or 'enroll'. */
  registered_via: string;
  /** 1 when an admin lets walk-up customers order on this machine. */
  orders_enabled: Generated<number>;
  /** 1 while the operator has the machine in maintenance: orders are refused. */
  orders_maintenance: Generated<number>;
  /** 1 when the device was enrolled with a token that allows announcing a machine code. */
  may_announce_machine: number;
  /** The admin who set `reprovision_allowed`, named in the re-provisioning's audit row. */
  reprovision_allowed_by: string | null;
  /** The screen its last hello announced, `<width>x<height>`; null without one. */
  screen: string | null;
}

export interface AgentsTable {
  id: string;
  name: string;
  password_hash: string;
  disabled: number;
  device_limit: number | null;
  /** Bumped by every claim of this agent, so concurrent claims by one agent serialise on its row. */
  claim_seq: number;
  created_at: number;
}

export interface AdminsTable {
  name: string;
  password_hash: string;
  created_at: number;
}

export interface SessionsTable {
  token_hash: string;
  kind: 'agent' | 'admin';
  subject: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
}

export interface EnrollmentTokensTable {
  id: string;
  token_hash: string;
  uses_total: number;
  uses_left: number;
  expires_at: number;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  /** 1: devices enrolled with this token may announce a machine code that no device has. */
  allow_machine_codes: number;
}

export interface AuditTable {
  seq: Generated<number>;
  at: number;
  actor: string;
  action: string;
  device: string | null;
  agent: string | null;
  detail: string;
}

export interface KvTable {
  key: string;
  value: string;
}

export interface TransferRequestsTable {
  id: string;
  device: string;
  agent: string;
  /** Who held the machine when it was asked for; shown to admins only. */
  holder: string | null;
  note: string | null;
  /** 'open', 'approved' or 'declined'. */
  state: string;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  reason: string | null;
}

/** A complete blob in PostgreSQL: its chunks are those whose content is this row's content. */
export interface BlobsTable {
  sha256: string;
  size: number;
  /** The upload's own id, which its chunks were written under before its hash was known. */
  content: string;
  created_at: number;
}

export interface BlobChunksTable {
  content: string;
  idx: number;
  data: Buffer;
  created_at: number;
}

export interface MachineShadowsTable {
  device: string;
  version: number;
  desired_version: number;
  /** JSON: the reported state document. */
  reported: string;
  /** JSON: desired settings. */
  desired: string;
  /** JSON: when each field last changed. */
  metadata: string;
  /** JSON: setting keys the bound agent may change. */
  agent_editable: string;
  updated_at: number;
}

export interface MachineHistoryTable {
  device: string;
  /** `consumables.ink.c`, `counters.prints`. */
  field: string;
  at: number;
  value: number;
}

export interface AlertsTable {
  id: string;
  device: string;
  /** Who held the machine when it was raised (who is told). */
  agent: string | null;
  kind: string;
  /** What it is about: a consumable's name, or the kind again. */
  subject: string;
  /** 'open' or 'cleared'. */
  state: string;
  message: string;
  raised_at: number;
  cleared_at: number | null;
  acked_at: number | null;
  acked_by: string | null;
}

export interface CustomerSessionsTable {
  id: string;
  token_hash: string;
  device: string;
  created_at: number;
  last_used_at: number;
  idle_ms: number;
  /** The latest it may live, however active. */
  ends_at: number;
}

export interface OrdersTable {
  /** The print job's id. */
  id: string;
  session: string;
  device: string;
  design: string;
  thumb: string;
  copies: number;
  created_at: number;
}

/** A processed upload: the print-ready blob and its thumbnail. */
export interface DesignsTable {
  sha256: string;
  thumb: string;
  size: number;
  width: number;
  height: number;
  created_at: number;
}

/** Which session uploaded which design: a session may order only its own uploads. */
export interface SessionDesignsTable {
  session: string;
  design: string;
  created_at: number;
}

export interface LocationsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface AgentLocationsTable {
  agent_id: string;
  location_id: string;
}

export interface AgentPoolSettingsTable {
  agent_id: string;
  /** The owned device a `primary: true` submit names. */
  primary_device: string | null;
  /** 'pool': a primary submit goes to the primary's pool while the primary is offline or busy. */
  fallback: string | null;
}

export interface LeasesTable {
  id: string;
  device: string;
  agent: string;
  location: string;
  /** The job the lease was made for. */
  job: string;
  /** The device's binding_version the lease started at. */
  version: number;
  started_at: number;
  ended_at: number | null;
  /** 'job-ended', 'orphaned', 'forced'. */
  end_reason: string | null;
}

export interface PoolQueueTable {
  seq: Generated<number>;
  /** The job id the job will have once a device takes it. */
  id: string;
  location: string;
  agent: string;
  kind: string;
  params: string;
  hold: number;
  ttl_ms: number;
  route: string;
  /** 'waiting', 'assigned', 'cancelled' or 'expired'. */
  state: string;
  device: string | null;
  queued_at: number;
  expires_at: number;
  decided_at: number | null;
  idempotency_key: string | null;
}

export interface Database {
  devices: DevicesTable;
  agents: AgentsTable;
  admins: AdminsTable;
  sessions: SessionsTable;
  enrollment_tokens: EnrollmentTokensTable;
  audit: AuditTable;
  kv: KvTable;
  transfer_requests: TransferRequestsTable;
  locations: LocationsTable;
  agent_locations: AgentLocationsTable;
  agent_pool_settings: AgentPoolSettingsTable;
  leases: LeasesTable;
  pool_queue: PoolQueueTable;
  blobs: BlobsTable;
  blob_chunks: BlobChunksTable;
  machine_shadows: MachineShadowsTable;
  machine_history: MachineHistoryTable;
  alerts: AlertsTable;
  customer_sessions: CustomerSessionsTable;
  orders: OrdersTable;
  designs: DesignsTable;
  session_designs: SessionDesignsTable;
}

export type DeviceRow = Selectable<DevicesTable>;
export type AgentRow = Selectable<AgentsTable>;
export type AuditRow = Selectable<AuditTable>;
export type NewAudit = Insertable<AuditTable>;
export type EnrollmentTokenRow = Selectable<EnrollmentTokensTable>;
export type SessionRow = Selectable<SessionsTable>;
export type TransferRequestRow = Selectable<TransferRequestsTable>;
export type MachineShadowRow = Selectable<MachineShadowsTable>;
export type AlertRow = Selectable<AlertsTable>;
export type LocationRow = Selectable<LocationsTable>;
export type LeaseRow = Selectable<LeasesTable>;
export type PoolEntryRow = Selectable<PoolQueueTable>;
