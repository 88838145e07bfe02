// The OTA tables as Kysely sees them (migration 0010-ota-releases-rollouts); otaDb() widens a
// registry handle so one transaction can touch devices, jobs and rollouts.
import type { Kysely } from 'kysely';
import type { RolloutDeviceState, RolloutState } from '../../protocol/ota';
import type { Database } from '../store/schema';

export interface ReleasesTable {
  version: string;
  /** JSON array of models. */
  models: string;
  size: number;
  sha256: string;
  min_version: string | null;
  notes: string | null;
  /** The exact signed manifest text. */
  manifest: string;
  /** Base64 Ed25519 signature over `manifest`. */
  sig: string;
  created_at: number;
  created_by: string;
}

export interface RolloutsTable {
  id: string;
  release: string;
  /** JSON of the target as asked for. */
  target: string;
  /** JSON array of cumulative percents, ending at 100. */
  waves: string;
  wave_soak_ms: number;
  max_failure_percent: number;
  state: RolloutState;
  /** Index of the wave being sent. */
  wave: number;
  /** When every device of the current wave reached an end; the soak counts from here. */
  wave_settled_at: number | null;
  /** Why it paused (or was cancelled). */
  reason: string | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  /** The node driving it, and until when its lease holds. */
  driver: string | null;
  lease_until: number | null;
  /** JSON of the daily send window, or null to send at any time (migration 0015). */
  send_window: string | null;
}

export interface RolloutDevicesTable {
  rollout: string;
  device: string;
  /** Place in the rollout's stable random order. */
  position: number;
  wave: number;
  state: RolloutDeviceState;
  /** The id of the `ota` cmd in flight (a new one per try; a resend keeps it). */
  job: string | null;
  /** Tries so far (a busy refusal ends a try). */
  tries: number;
  /** Sends of the current try. */
  sends: number;
  sent_at: number | null;
  progress: number | null;
  error: string | null;
  updated_at: number;
}

export interface OtaDatabase extends Database {
  releases: ReleasesTable;
  rollouts: RolloutsTable;
  rollout_devices: RolloutDevicesTable;
}

export function otaDb(db: Kysely<Database>): Kysely<OtaDatabase> {
  return db as unknown as Kysely<OtaDatabase>;
}

/** The registry's view of an OTA handle, for the shared writers (audit). */
export function registryOf(db: Kysely<OtaDatabase>): Kysely<Database> {
  return db as unknown as Kysely<Database>;
}
