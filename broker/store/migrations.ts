// Schema migrations, run at start-up on SQLite and PostgreSQL alike. Append only: never edit a
// migration that has shipped; add a new one.
import { type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function initial(dialect: Dialect): Migration {
  // bigint keeps ms timestamps exact on PostgreSQL; SQLite integers are 64-bit already.
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('mac', 'text', (c) => c.notNull().unique())
        .addColumn('machine_code', 'text', (c) => c.unique())
        .addColumn('model', 'text')
        .addColumn('fw', 'text')
        .addColumn('caps', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('concurrency', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('location', 'text')
        .addColumn('agent_id', 'text')
        .addColumn('bound_at', time)
        .addColumn('bound_via', 'text')
        .addColumn('reserved_by_job', 'text')
        .addColumn('binding_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reprovision_allowed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('last_seen', time)
        .execute();
      await db.schema.createIndex('devices_agent').on('devices').column('agent_id').execute();
      await db.schema
        .createTable('agents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('device_limit', 'integer')
        .addColumn('claim_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('admins')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('last_used_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('enrollment_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('uses_total', 'integer', (c) => c.notNull())
        .addColumn('uses_left', 'integer', (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', time)
        .execute();
      await db.schema
        .createTable('audit')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('device', 'text')
        .addColumn('agent', 'text')
        .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.createIndex('audit_device').on('audit').columns(['device', 'seq']).execute();
      await db.schema.createIndex('audit_agent').on('audit').columns(['agent', 'seq']).execute();
      await db.schema
        .createTable('kv')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      // The audit log is append-only: the database itself refuses edits.
      if (dialect === 'sqlite') {
        await sql`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END`.execute(db);
        await sql`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END`.execute(db);
      } else {
        await sql`CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$`.execute(db);
        await sql`CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()`.execute(db);
      }
    },
  };
}

function jobs(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('hold', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('ttl_ms', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('idempotency_key', 'text')
        .addColumn('progress', 'integer')
        .addColumn('result', 'text')
        .addColumn('error_code', 'text')
        .addColumn('error', 'text')
        .addColumn('control', 'text')
        .addColumn('control_reason', 'text')
        .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('queued_at', time, (c) => c.notNull())
        .addColumn('dispatched_at', time)
        .addColumn('running_at', time)
        .addColumn('done_at', time)
        .addColumn('failed_at', time)
        .addColumn('cancelled_at', time)
        .addColumn('expired_at', time)
        .addColumn('interrupted_at', time)
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_device_seq').on('jobs').columns(['device', 'seq']).unique().execute();
      await db.schema.createIndex('jobs_device_state').on('jobs').columns(['device', 'state', 'seq']).execute();
      await db.schema.createIndex('jobs_state_expiry').on('jobs').columns(['state', 'expires_at']).execute();
      await db.schema.createIndex('jobs_agent').on('jobs').columns(['agent', 'device', 'seq']).execute();
      // NULL keys are distinct on both SQLite and PostgreSQL, so jobs without a key never collide.
      await db.schema.createIndex('jobs_idempotency').on('jobs').columns(['agent', 'idempotency_key']).unique().execute();
      await db.schema
        .createTable('job_events')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', serial)
        .addColumn('job', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.createIndex('job_events_job').on('job_events').columns(['job', 'seq']).execute();
      await db.schema
        .createTable('job_data')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', serial)
        .addColumn('job', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('encoding', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('job_data_job').on('job_data').columns(['job', 'seq']).execute();
      await db.schema
        .createTable('job_queues')
        .addColumn('device', 'text', (c) => c.primaryKey())
        .addColumn('next_seq', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('job_durations')
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ewma_ms', 'integer', (c) => c.notNull())
        .addColumn('samples', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_durations_pk', ['device', 'kind'])
        .execute();
    },
  };
}

/** How a device was registered: an enrolled device that never connected may enroll again. */
const registeredVia: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('devices')
      .addColumn('registered_via', 'text', (c) => c.notNull().defaultTo('admin'))
      .execute();
  },
};

/**
 * The device's unfinished jobs, whatever its history: the open-jobs queries read a handful of
 * rows instead of every job the device ever ran. Both SQLite and PostgreSQL take the partial
 * index only when the query spells the same literal states (OPEN_STATES_SQL in jobs/store.ts).
 */
const openJobsIndex: Migration = {
  async up(db: Kysely<any>) {
    await sql`CREATE INDEX jobs_open ON jobs (device, seq) WHERE state IN ('queued', 'dispatched', 'running')`.execute(db);
  },
};

/** Webhook endpoints, the outbox of events and its deliveries (docs/architecture.md, "Webhooks"). */
function webhooks(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());
  const seq = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('failing_since', time)
        .addColumn('disabled_at', time)
        .addColumn('disabled_reason', 'text')
        .execute();
      await db.schema
        .createTable('webhook_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('seq', seq, serial)
        .addColumn('webhook', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', time, (c) => c.notNull())
        .addColumn('locked_until', time)
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('delivered_at', time)
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_at']).execute();
      await db.schema.createIndex('webhook_deliveries_webhook').on('webhook_deliveries').columns(['webhook', 'seq']).execute();
      await db.schema
        .createTable('webhook_attempts')
        .addColumn('seq', seq, serial)
        .addColumn('delivery', 'bigint', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhook_attempts_delivery').on('webhook_attempts').columns(['delivery', 'seq']).execute();
    },
  };
}

/** Agents' requests for a machine another agent holds (docs/architecture.md, "Transfer requests"). */
function transferRequests(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('transfer_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('holder', 'text')
        .addColumn('note', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('decided_at', time)
        .addColumn('decided_by', 'text')
        .addColumn('reason', 'text')
        .execute();
      // One open request per machine and agent, held by the database against concurrent asks.
      await sql`create unique index transfer_requests_open on transfer_requests (device, agent) where state = 'open'`.execute(db);
      await db.schema.createIndex('transfer_requests_state').on('transfer_requests').columns(['state', 'created_at']).execute();
    },
  };
}

/**
 * Content-addressed blobs in the database (docs/architecture.md, "Blobs"). Used when the registry
 * is on PostgreSQL; a SQLite node keeps its blobs as files and leaves these tables empty.
 */
function blobs(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('blobs')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('size', time, (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('blob_chunks')
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('blob_chunks_pk', ['content', 'idx'])
        .execute();
    },
  };
}

/** Machine shadows, their sampled history and alerts (docs/architecture.md, "Machine state"). */
function machines(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('machine_shadows')
        .addColumn('device', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('desired_version', 'integer', (c) => c.notNull())
        .addColumn('reported', 'text', (c) => c.notNull())
        .addColumn('desired', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('agent_editable', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('machine_history')
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('field', 'text', (c) => c.notNull())
        .addColumn('at', time, (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('machine_history_series').on('machine_history').columns(['device', 'field', 'at']).execute();
      await db.schema.createIndex('machine_history_at').on('machine_history').column('at').execute();
      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('agent', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('raised_at', time, (c) => c.notNull())
        .addColumn('cleared_at', time)
        .addColumn('acked_at', time)
        .addColumn('acked_by', 'text')
        .execute();
      // One open alert per machine, kind and subject, held by the database against concurrent raises.
      await sql`create unique index alerts_open on alerts (device, kind, subject) where state = 'open'`.execute(db);
      await db.schema.createIndex('alerts_device').on('alerts').columns(['device', 'raised_at']).execute();
      await db.schema.createIndex('alerts_state').on('alerts').columns(['state', 'raised_at']).execute();
    },
  };
}

/**
 * Walk-up orders (docs/architecture.md, "Walk-up orders"): which machines take orders, anonymous
 * customer sessions bound to one machine (the token stored only as its hash), and each order's
 * design, owned by its session. An order's id is its print job's id.
 */
function orders(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('devices')
        .addColumn('orders_enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('devices')
        .addColumn('orders_maintenance', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('customer_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('last_used_at', time, (c) => c.notNull())
        .addColumn('idle_ms', time, (c) => c.notNull())
        .addColumn('ends_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session', 'text', (c) => c.notNull())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('design', 'text', (c) => c.notNull())
        .addColumn('thumb', 'text', (c) => c.notNull())
        .addColumn('copies', 'integer', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('orders_session').on('orders').columns(['session', 'created_at']).execute();
      await db.schema.createIndex('orders_device').on('orders').columns(['device', 'created_at']).execute();
      await db.schema
        .createTable('designs')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('thumb', 'text', (c) => c.notNull())
        .addColumn('size', time, (c) => c.notNull())
        .addColumn('width', 'integer', (c) => c.notNull())
        .addColumn('height', 'integer', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('session_designs')
        .addColumn('session', 'text', (c) => c.notNull())
        .addColumn('design', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('session_designs_pk', ['session', 'design'])
        .execute();
    },
  };
}

/**
 * Machine codes announced by devices (docs/architecture.md, Identities: machine codes): an
 * enrollment token may allow the devices it enrolls to announce one, and the device keeps that
 * allowance. Who allowed a re-provisioning is kept so its audit row can name them.
 */
const machineAnnouncements: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('enrollment_tokens')
      .addColumn('allow_machine_codes', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('devices')
      .addColumn('may_announce_machine', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('devices').addColumn('reprovision_allowed_by', 'text').execute();
  },
};

/** A pool submit's idempotency key, kept while the job waits for a device (docs/architecture.md, Locations and pools). */
const poolIdempotency: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('pool_queue').addColumn('idempotency_key', 'text').execute();
    await db.schema.createIndex('pool_queue_idempotency').on('pool_queue').columns(['agent', 'idempotency_key']).unique().execute();
  },
};

/** A rollout's daily send window (docs/architecture.md, Over-the-air updates); null sends at any time. */
const rolloutWindow: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('rollouts').addColumn('send_window', 'text').execute();
  },
};

/** Firmware releases and staged rollouts (docs/architecture.md, Over-the-air updates). */
function otaRollouts(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('releases')
        .addColumn('version', 'text', (c) => c.primaryKey())
        .addColumn('models', 'text', (c) => c.notNull())
        .addColumn('size', time, (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('min_version', 'text')
        .addColumn('notes', 'text')
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('sig', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('release', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('waves', 'text', (c) => c.notNull())
        .addColumn('wave_soak_ms', time, (c) => c.notNull())
        .addColumn('max_failure_percent', 'real', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('wave', 'integer', (c) => c.notNull())
        .addColumn('wave_settled_at', time)
        .addColumn('reason', 'text')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addColumn('driver', 'text')
        .addColumn('lease_until', time)
        .execute();
      await db.schema
        .createTable('rollout_devices')
        .addColumn('rollout', 'text', (c) => c.notNull())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('wave', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('job', 'text')
        .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('sent_at', time)
        .addColumn('progress', 'integer')
        .addColumn('error', 'text')
        .addColumn('updated_at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('rollout_devices_pk', ['rollout', 'device'])
        .execute();
      await db.schema.createIndex('rollout_devices_job').on('rollout_devices').column('job').execute();
      await db.schema.createIndex('rollout_devices_wave').on('rollout_devices').columns(['rollout', 'wave', 'state']).execute();
    },
  };
}

/**
 * Locations, pool devices and their leases, the pool queue (docs/architecture.md, Locations and
 * pools). A lease is also the device's binding (devices.agent_id, bound_via 'lease'); its row
 * here keeps the history, and the partial unique index holds "one open lease per device".
 */
function pools(dialect: Dialect): Migration {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());
  const seq = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('locations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('agent_locations')
        .addColumn('agent_id', 'text', (c) => c.notNull())
        .addColumn('location_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('agent_locations_pk', ['agent_id', 'location_id'])
        .execute();
      await db.schema
        .createTable('agent_pool_settings')
        .addColumn('agent_id', 'text', (c) => c.primaryKey())
        .addColumn('primary_device', 'text')
        .addColumn('fallback', 'text')
        .execute();
      await db.schema
        .alterTable('devices')
        .addColumn('mode', 'text', (c) => c.notNull().defaultTo('owned'))
        .execute();
      await db.schema.createIndex('devices_location').on('devices').columns(['location', 'mode']).execute();
      await db.schema.alterTable('jobs').addColumn('pool', 'text').execute();
      await db.schema.alterTable('jobs').addColumn('route', 'text').execute();
      await db.schema
        .createTable('leases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('location', 'text', (c) => c.notNull())
        .addColumn('job', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('started_at', time, (c) => c.notNull())
        .addColumn('ended_at', time)
        .addColumn('end_reason', 'text')
        .execute();
      await sql`create unique index leases_open on leases (device) where ended_at is null`.execute(db);
      await db.schema.createIndex('leases_location').on('leases').columns(['location', 'started_at']).execute();
      await db.schema
        .createTable('pool_queue')
        .addColumn('seq', seq, serial)
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('location', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('hold', 'integer', (c) => c.notNull())
        .addColumn('ttl_ms', time, (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('device', 'text')
        .addColumn('queued_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('decided_at', time)
        .execute();
      await sql`create index pool_queue_waiting on pool_queue (location, seq) where state = 'waiting'`.execute(db);
    },
  };
}

/**
 * Fewer index entries to rewrite per job. Every state change rewrote its entries in
 * jobs_device_state and jobs_state_expiry, and every job without an idempotency key still got an
 * entry in jobs_idempotency: at a steady job rate each of those is a page written to the WAL at
 * each commit. Queued jobs now have their own partial index (the dispatcher's next job, the expiry
 * sweep) that a job leaves once, at dispatch; the open jobs keep jobs_open; only keyed jobs are in
 * jobs_idempotency. A query takes a partial index only when it spells the index's own condition
 * (state = 'queued' literally, as the queries in jobs/store.ts do).
 */
const leanerJobIndexes: Migration = {
  async up(db: Kysely<any>) {
    await sql`DROP INDEX jobs_device_state`.execute(db);
    await sql`DROP INDEX jobs_state_expiry`.execute(db);
    await sql`CREATE INDEX jobs_queued ON jobs (device, seq) WHERE state = 'queued'`.execute(db);
    await sql`DROP INDEX jobs_idempotency`.execute(db);
    await sql`CREATE UNIQUE INDEX jobs_idempotency ON jobs (agent, idempotency_key) WHERE idempotency_key IS NOT NULL`.execute(db);
  },
};

/**
 * A device's screen (what its last hello announced) moves from the key-value table into its row,
 * so the hello's own UPDATE records it: one statement less per hello, which a fleet's reboot runs
 * once per device, and no read of its own when a qr.show is checked against it.
 */
const deviceScreenColumn: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('devices').addColumn('screen', 'text').execute();
    await sql`UPDATE devices SET screen = (SELECT value FROM kv WHERE kv.key = 'screen:' || devices.id)`.execute(db);
    await sql`DELETE FROM kv WHERE key LIKE 'screen:%'`.execute(db);
  },
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: async () => ({
      '0001-initial': initial(dialect),
      '0002-jobs': jobs(dialect),
      '0003-registered-via': registeredVia,
      '0004-perf-open-jobs-index': openJobsIndex,
      '0005-idp-webhooks': webhooks(dialect),
      '0006-xfer-transfer-requests': transferRequests(dialect),
      '0007-pools-locations-leases': pools(dialect),
      '0008-machines-shadows': machines(dialect),
      '0009-orders-blobs': blobs(dialect),
      '0009-orders-sessions': orders(dialect),
      '0010-ota-releases-rollouts': otaRollouts(dialect),
      '0011-security-machine-announcements': machineAnnouncements,
      '0012-pools-idempotency': poolIdempotency,
      '0015-ota-rollout-window': rolloutWindow,
      '0016-perf-leaner-job-indexes': leanerJobIndexes,
      '0017-perf-device-screen-column': deviceScreenColumn,
    }),
  };
}
