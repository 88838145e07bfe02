// For tests of which index a registry query reads: SQLite's plan of a Kysely query, and a job row
// to fill a device's history with.
import type SQLite from 'better-sqlite3';
import type { Compilable } from 'kysely';
import type { JobRow } from '../../broker/jobs/schema';
import type { JobState } from '../../protocol/jobs';

/** SQLite's EXPLAIN QUERY PLAN of the query with its values, its steps joined by "; ". */
export function plan(raw: SQLite.Database, q: Compilable): string {
  const c = q.compile();
  return (raw.prepare(`EXPLAIN QUERY PLAN ${c.sql}`).all(...(c.parameters as unknown[])) as { detail: string }[]).map((r) => r.detail).join('; ');
}

/** A stored job `<device>-<seq>` in that state, last written at `updatedAt` (its seq by default). */
export function jobRow(device: string, seq: number, state: JobState, updatedAt = seq): JobRow {
  return {
    id: `${device}-${seq}`,
    device,
    agent: 'ag',
    kind: 'identify',
    params: '{}',
    hold: 0,
    seq,
    state,
    attempt: 0,
    ttl_ms: 1000,
    expires_at: 1000,
    idempotency_key: null,
    progress: null,
    result: null,
    error_code: null,
    error: null,
    control: null,
    control_reason: null,
    retries: 0,
    queued_at: seq,
    dispatched_at: null,
    running_at: null,
    done_at: null,
    failed_at: null,
    cancelled_at: null,
    expired_at: null,
    interrupted_at: null,
    updated_at: updatedAt,
  };
}
