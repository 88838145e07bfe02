// The job tables as Kysely sees them (migration 0002-jobs). They live beside the core registry
// schema; jobsDb() widens a registry handle so one transaction can touch devices and jobs.
import type { Generated, Kysely } from 'kysely';
import type { JobState } from '../../protocol/jobs';
import type { Database } from '../store/schema';

export interface JobsTable {
  id: string;
  device: string;
  agent: string;
  kind: string;
  /** JSON text, already validated against the kind's schema. */
  params: string;
  /** 1 for a held qr.show (reserves the device until it completes). */
  hold: number;
  /** FIFO order within the device's queue. */
  seq: number;
  state: JobState;
  /** cmd sends so far, over the job's whole life (the device sees it as `attempt`). */
  attempt: number;
  ttl_ms: number;
  /** A queued job still waiting at this time expires. */
  expires_at: number;
  idempotency_key: string | null;
  progress: number | null;
  result: string | null;
  error_code: string | null;
  error: string | null;
  /** A cancel or completion sent to the device and not yet acknowledged. */
  control: 'cancel' | 'complete' | null;
  control_reason: string | null;
  /** Times the job went back to the queue after its device dropped (idempotent kinds). */
  retries: number;
  queued_at: number;
  dispatched_at: number | null;
  running_at: number | null;
  done_at: number | null;
  failed_at: number | null;
  cancelled_at: number | null;
  expired_at: number | null;
  interrupted_at: number | null;
  updated_at: number;
  /** The location whose pool the job came through (docs/architecture.md, Locations and pools); null when it named its device. */
  pool?: string | null;
  /** How the job found its device: 'pool', 'primary', 'primary-offline', 'primary-busy'; null when it named its device. */
  route?: string | null;
}

export interface JobEventsTable {
  seq: Generated<number>;
  job: string;
  at: number;
  event: string;
  detail: string;
}

export interface JobDataTable {
  seq: Generated<number>;
  job: string;
  at: number;
  stream: string;
  payload: string;
  encoding: 'utf8' | 'base64';
}

export interface JobQueuesTable {
  device: string;
  next_seq: number;
}

export interface JobDurationsTable {
  device: string;
  kind: string;
  ewma_ms: number;
  samples: number;
}

// A type alias, not an interface: withTables() needs an implicit index signature.
export type JobTables = {
  jobs: JobsTable;
  job_events: JobEventsTable;
  job_data: JobDataTable;
  job_queues: JobQueuesTable;
  job_durations: JobDurationsTable;
};

export type JobsDatabase = Database & JobTables;
export type JobsDb = Kysely<JobsDatabase>;
export type JobRow = JobsTable;

export function jobsDb(db: Kysely<Database>): JobsDb {
  return db.withTables<JobTables>() as JobsDb;
}

/** The same handle seen as the core registry, for core store functions (appendAudit) in a job transaction. */
export function asRegistry(db: Kysely<JobsDatabase>): Kysely<Database> {
  return db as unknown as Kysely<Database>;
}
