// What must hold in any registry the broker wrote, read from the database itself (the SQLite file,
// or PostgreSQL): open jobs belong to the device's holder, no job reached two final states, every
// binding has its audit row. Used on restored backups and sampled during soak runs.
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { FINAL_JOB_STATES } from '../../protocol/jobs';

// The final states are the protocol's own constants, so they go in as literals.
const FINALS = FINAL_JOB_STATES.map((st) => `'${st}'`).join(',');
const CHECKS: { sql: string; says: (id: string) => string }[] = [
  {
    sql: "SELECT j.id AS id FROM jobs j JOIN devices d ON d.id = j.device WHERE j.state IN ('queued', 'dispatched', 'running') AND (d.agent_id IS NULL OR d.agent_id <> j.agent)",
    says: (id) => `open job ${id} is not its device holder's`,
  },
  { sql: `SELECT job AS id FROM job_events WHERE event IN (${FINALS}) GROUP BY job HAVING count(*) > 1`, says: (id) => `job ${id} reached two final states` },
  {
    sql: 'SELECT d.id AS id FROM devices d WHERE d.agent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.device = d.id AND a.agent = d.agent_id)',
    says: (id) => `binding of ${id} has no audit row`,
  },
];

export function registryViolations(file: string): string[] {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    return CHECKS.flatMap((c) => (db.prepare(c.sql).all() as { id: string }[]).map((r) => c.says(r.id)));
  } finally {
    db.close();
  }
}

export async function registryViolationsPg(databaseUrl: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const out: string[] = [];
    for (const check of CHECKS) out.push(...(await c.query<{ id: string }>(check.sql)).rows.map((r) => check.says(r.id)));
    return out;
  } finally {
    await c.end();
  }
}
