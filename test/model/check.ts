// What is checked after every step of the model test: the registry on disk, what each device was
// sent, what each agent received (and was entitled to at delivery time), the agents' own view of
// their devices, and the binding map as the per-message path reads it (a marker each device
// publishes reaches exactly the agents that hold it and subscribed to it).
import { FINAL_JOB_STATES } from '../../protocol/jobs';
import { parseTopic } from '../../protocol/topics';
import { waitUntil } from '../helpers/wait';
import { type Model, matches } from './model';
import { type System, WAIT_MS } from './system';

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(',');

/** Differences between the registry (and what the devices were sent) and the model; empty when they agree. */
function registryDiff(m: Model, s: System): string[] {
  const out: string[] = [];
  const db = s.registry();
  const ids = s.devices.map((d) => d.dev.id);
  const rows = db.prepare(`SELECT id, agent_id FROM devices WHERE id IN (${placeholders(ids.length)})`).all(...ids) as { id: string; agent_id: string | null }[];
  for (const [i, d] of m.devices.entries()) {
    const row = rows.find((r) => r.id === ids[i]);
    const want = d.holder === null ? null : s.agents[d.holder]!.id;
    if (!row) out.push(`device ${i} missing from the registry`);
    else if (row.agent_id !== want) out.push(`device ${i} held by ${row.agent_id} in the registry, model says ${want}`);
  }
  const jobs = db.prepare(`SELECT id, state FROM jobs WHERE device IN (${placeholders(ids.length)})`).all(...ids) as { id: string; state: string }[];
  for (const j of jobs) {
    const mj = m.jobs.get(j.id);
    if (!mj) out.push(`job ${j.id} (${j.state}) in the registry, not in the model`);
    else if (mj.state !== j.state) out.push(`job ${mj.seq} of device ${mj.device} (${mj.kind}) is ${j.state} in the registry, model says ${mj.state}`);
  }
  for (const mj of m.jobs.values()) if (!jobs.some((j) => j.id === mj.id)) out.push(`job ${mj.seq} missing from the registry`);
  for (const [i, d] of s.devices.entries()) {
    const want = m.devices[i]!.dispatches;
    const seqs = (l: string[]): string => l.map((id) => m.jobs.get(id)?.seq ?? id).join(', ');
    if (d.cmds.length !== want.length || d.cmds.some((c, k) => c !== want[k])) out.push(`device ${i} was sent jobs [${seqs(d.cmds)}] to run, model says [${seqs(want)}]`);
  }
  return out;
}

/** Each job reached at most one final state: its history has one final event at most. */
function finalOnce(s: System): string[] {
  const ids = s.devices.map((d) => d.dev.id);
  const rows = s
    .registry()
    .prepare(`SELECT e.job AS job, count(*) AS n FROM job_events e JOIN jobs j ON j.id = e.job WHERE j.device IN (${placeholders(ids.length)}) AND e.event IN (${placeholders(FINAL_JOB_STATES.length)}) GROUP BY e.job HAVING count(*) > 1`)
    .all(...ids, ...FINAL_JOB_STATES) as { job: string; n: number }[];
  return rows.map((r) => `job ${r.job} reached ${r.n} final states`);
}

/** Waits until the registry and the devices' cmds agree with the model (the broker works asynchronously). */
async function converge(m: Model, s: System): Promise<void> {
  let last: string[] = [];
  try {
    await waitUntil(() => (last = registryDiff(m, s)).length === 0, WAIT_MS, 'registry to match the model', 20);
  } catch {
    throw new Error(`after step ${s.step} the system differs from the model:\n  ${last.join('\n  ')}`);
  }
}

/** Every message received in this step was one its receiver was entitled to when it was sent. */
function entitlement(m: Model, s: System): string[] {
  const out: string[] = [];
  const devIndex = new Map(s.devices.map((d, i) => [d.dev.id, i]));
  for (const [i, a] of s.agents.entries()) {
    for (const msg of a.seen) {
      if (msg.step !== s.step) continue;
      const t = parseTopic(msg.topic);
      if (t?.kind === 'agent' && t.agent === a.id && t.leaf !== 'req') continue;
      const d = t?.kind === 'device' ? devIndex.get(t.device) : undefined;
      if (t?.kind === 'device' && d !== undefined && ['status', 'jobs', 'evt'].includes(t.leaf) && m.entitled(i, d)) continue;
      out.push(`agent ${i} received ${msg.topic} ${msg.text.slice(0, 100)} without holding the device before or after the step`);
    }
  }
  for (const [i, d] of s.devices.entries()) {
    for (const msg of d.seen) {
      if (msg.step !== s.step) continue;
      const t = parseTopic(msg.topic);
      if (t?.kind === 'device' && t.device === d.dev.id && (t.leaf === 'config' || t.leaf === 'cmd')) continue;
      out.push(`device ${i} received ${msg.topic}`);
    }
  }
  return out;
}

/** The step's markers reached exactly the agents that hold the device and subscribed to it. */
function markers(m: Model, s: System, marks: Map<number, string>): string[] {
  const out: string[] = [];
  for (const [d, mark] of marks) {
    const topic = `fb/v1/d/${s.devices[d]!.dev.id}/evt/mark`;
    for (const [i, a] of s.agents.entries()) {
      const got = a.seen.some((msg) => msg.topic === topic && msg.text.includes(mark));
      const want = a.client !== null && m.devices[d]!.holder === i && [...m.agents[i]!.subs].some((f) => matches(f, topic));
      if (got !== want) out.push(`agent ${i} ${got ? 'received' : 'did not receive'} device ${d}'s marker (holder ${m.devices[d]!.holder}, its filters ${[...m.agents[i]!.subs].join(' ')})`);
    }
  }
  return out;
}

/** Each agent's `list` shows exactly the run's devices the model says it holds: no device under two agents. */
function lists(m: Model, s: System, got: Map<number, string[]>): string[] {
  const out: string[] = [];
  const ids = s.devices.map((d) => d.dev.id);
  for (const [i, devices] of got) {
    const mine = devices.filter((id) => ids.includes(id)).sort();
    const want = m.devices.flatMap((d, k) => (d.holder === i ? [ids[k]!] : [])).sort();
    if (mine.join() !== want.join()) out.push(`agent ${i} lists [${mine.join(', ')}], model says [${want.join(', ')}]`);
  }
  return out;
}

/** Runs after every step; throws with everything that differs. */
export async function verify(m: Model, s: System): Promise<void> {
  await converge(m, s);
  const b = await s.barrier();
  const problems = [...finalOnce(s), ...entitlement(m, s), ...markers(m, s, b.marks), ...lists(m, s, b.lists)];
  if (problems.length > 0) throw new Error(`after step ${s.step}:\n  ${problems.join('\n  ')}`);
}
