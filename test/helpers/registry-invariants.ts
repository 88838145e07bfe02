// What must hold in any registry the broker wrote, read from the SQLite file itself: open jobs
// belong to the device's holder, no job reached two final states, every binding has its audit
// row. Used on restored backups and sampled during soak runs.
import SQLite from 'better-sqlite3';
import { FINAL_JOB_STATES } from '../../protocol/jobs';

export function registryViolations(file: string): string[] {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const out: string[] = [];
    const strays = db.prepare("SELECT j.id FROM jobs j JOIN devices d ON d.id = j.device WHERE j.state IN ('queued', 'dispatched', 'running') AND (d.agent_id IS NULL OR d.agent_id <> j.agent)").all() as { id: string }[];
    out.push(...strays.map((r) => `open job ${r.id} is not its device holder's`));
    const finals = FINAL_JOB_STATES.map(() => '?').join(',');
    const twice = db.prepare(`SELECT job FROM job_events WHERE event IN (${finals}) GROUP BY job HAVING count(*) > 1`).all(...FINAL_JOB_STATES) as { job: string }[];
    out.push(...twice.map((r) => `job ${r.job} reached two final states`));
    const unaudited = db.prepare('SELECT d.id FROM devices d WHERE d.agent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.device = d.id AND a.agent = d.agent_id)').all() as { id: string }[];
    out.push(...unaudited.map((r) => `binding of ${r.id} has no audit row`));
    return out;
  } finally {
    db.close();
  }
}
