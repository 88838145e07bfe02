// What is checked after every step of the model test: the registry (bindings, leases, the pool
// queue, jobs), every node's in-memory binding map, what each device was sent, what each agent
// received (and was entitled to at delivery time), the agents' own view of their devices, and the
// binding map as the per-message path reads it (a marker each device publishes reaches exactly the
// agents that hold it, by claim or by lease, and subscribed to it).
import { agentTopic, parseTopic } from '../../protocol/topics';
import { waitUntil } from '../helpers/wait';
import { type Model, OPEN_STATES, matches } from './model';
import { type RegistryRows, type System, WAIT_MS } from './system';

/** Differences between the registry (and what the devices were sent) and the model; empty when they agree. */
function registryDiff(m: Model, s: System, rows: RegistryRows): string[] {
  const out: string[] = [];
  const ids = s.devices.map((d) => d.dev.id);
  for (const [i, d] of m.devices.entries()) {
    const row = rows.devices.find((r) => r.id === ids[i]);
    const want = d.holder === null ? null : s.agents[d.holder]!.id;
    if (!row) out.push(`device ${i} missing from the registry`);
    else if (row.agent_id !== want) out.push(`device ${i} held by ${row.agent_id} in the registry, model says ${want}`);
    // A pool device is never claimed for keeps, and an owned one never leased.
    else if (want !== null && (row.bound_via === 'lease') !== (d.pool !== null))
      out.push(`device ${i} (${d.pool ? 'pool' : 'owned'}) is bound by ${row.bound_via}`);
  }
  for (const j of rows.jobs) {
    const mj = m.jobs.get(j.id);
    if (!mj) out.push(`job ${j.id} (${j.state}) in the registry, not in the model`);
    else if (mj.device === null) out.push(`job ${mj.seq} (${mj.kind}) is on ${j.device} in the registry, model says it is in the pool queue (${mj.state})`);
    else if (ids[mj.device] !== j.device) out.push(`job ${mj.seq} (${mj.kind}) is on ${j.device} in the registry, model says device ${mj.device}`);
    else if (mj.state !== j.state) out.push(`job ${mj.seq} of device ${mj.device} (${mj.kind}) is ${j.state} in the registry, model says ${mj.state}`);
  }
  for (const mj of m.jobs.values()) if (mj.device !== null && !rows.jobs.some((j) => j.id === mj.id)) out.push(`job ${mj.seq} missing from the registry`);
  out.push(...poolDiff(m, s, rows));
  for (const [i, d] of s.devices.entries()) {
    const want = m.devices[i]!.dispatches;
    const seqs = (l: string[]): string => l.map((id) => m.jobs.get(id)?.seq ?? id).join(', ');
    if (d.cmds.length !== want.length || d.cmds.some((c, k) => c !== want[k]))
      out.push(`device ${i} was sent jobs [${seqs(d.cmds)}] to run, model says [${seqs(want)}]`);
  }
  return out;
}

/**
 * The run's pool queue and leases against the model: the waiting jobs in FIFO order, each entry's
 * fate, and one open lease per leased device, to its holder, for its unfinished job (no orphan).
 */
function poolDiff(m: Model, s: System, rows: RegistryRows): string[] {
  const out: string[] = [];
  const seqOf = (id: string): string => String(m.jobs.get(id)?.seq ?? id);
  const { queue, leases } = rows;
  const waiting = queue.filter((e) => e.state === 'waiting').map((e) => e.id);
  const want = m.waiting().map((j) => j.id);
  if (waiting.join() !== want.join()) out.push(`the pool queue holds jobs [${waiting.map(seqOf).join(', ')}], model says [${want.map(seqOf).join(', ')}]`);
  for (const mj of m.jobs.values()) {
    if (!mj.pool) continue;
    const row = queue.find((e) => e.id === mj.id);
    const fate = !mj.waited ? undefined : mj.device !== null ? 'assigned' : mj.state === 'queued' ? 'waiting' : mj.state;
    if (row?.state !== fate) out.push(`pool job ${mj.seq} (${mj.kind}) is ${row?.state ?? 'not'} in the pool queue, model says ${fate ?? 'not'}`);
  }
  const ids = s.devices.map((d) => d.dev.id);
  for (const [i, d] of m.devices.entries()) {
    if (d.pool === null) continue;
    const open = leases.filter((l) => l.device === ids[i]);
    const holder = d.holder === null ? null : s.agents[d.holder]!.id;
    const job = open.length === 1 ? m.jobs.get(open[0]!.job) : undefined;
    if (open.length > 1) out.push(`device ${i} has ${open.length} open leases: ${open.map((l) => l.agent).join(', ')}`);
    else if ((open[0]?.agent ?? null) !== holder) out.push(`device ${i}'s open lease is ${open[0]?.agent ?? 'none'}, model says ${holder ?? 'none'}`);
    else if (open.length === 1 && (job?.device !== i || !OPEN_STATES.includes(job.state)))
      out.push(`device ${i}'s open lease is for job ${seqOf(open[0]!.job)}, which is ${job?.state ?? 'unknown'} (an orphaned lease)`);
  }
  return out;
}

/** Every node's binding map gives each of the run's devices the model's holder (or none). */
async function bindingMapDiff(m: Model, s: System): Promise<string[]> {
  const out: string[] = [];
  for (const [k, map] of (await s.bindingMaps()).entries()) {
    for (const [i, d] of s.devices.entries()) {
      const got = map.entries.find((e) => e.device === d.dev.id)?.agent ?? null;
      const holder = m.devices[i]!.holder;
      const want = holder === null ? null : s.agents[holder]!.id;
      if (got !== want) out.push(`node ${k}'s binding map${map.suspended ? ' (suspended)' : ''} has device ${i} held by ${got}, model says ${want}`);
    }
  }
  return out;
}

/** Each job reached at most one final state: its history has one final event at most. */
const finalOnce = (rows: RegistryRows): string[] => rows.finals.map((r) => `job ${r.job} reached ${r.n} final states`);

/**
 * Waits until the registry, every node's binding map and the devices' cmds agree with the model
 * (the broker works asynchronously, and the nodes of a cluster hear of each other's changes over
 * Redis); returns the registry as it then was.
 */
async function converge(m: Model, s: System): Promise<RegistryRows> {
  let last: string[] = [];
  let rows: RegistryRows | undefined;
  const ids = s.devices.map((d) => d.dev.id);
  try {
    await waitUntil(
      async () => {
        rows = await s.registry(ids);
        last = registryDiff(m, s, rows);
        if (last.length === 0) last = await bindingMapDiff(m, s);
        return last.length === 0;
      },
      WAIT_MS,
      'registry and binding maps to match the model',
      20,
    );
  } catch {
    throw new Error(`after step ${s.step} the system differs from the model:\n  ${last.join('\n  ')}`);
  }
  return rows!;
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
  // A release cuts the agent off at its answer: what the broker authorised before the binding
  // changed was written before the answer, so anything of the device after it was let through
  // after the change (a retained copy on a subscription made just before, or a live message).
  for (const cut of m.cuts) {
    const a = s.agents[cut.agent]!;
    const device = s.devices[cut.device]!.dev.id;
    const step = a.seen.filter((msg) => msg.step === s.step);
    const at = step.findIndex((msg) => msg.topic === agentTopic(a.id, 'res') && (JSON.parse(msg.text) as { id?: string }).id === cut.answer);
    if (at < 0) {
      out.push(`agent ${cut.agent} has no answer ${cut.answer} to its release of device ${cut.device} among this step's messages`);
      continue;
    }
    for (const msg of step.slice(at + 1)) {
      const t = parseTopic(msg.topic);
      if (t?.kind === 'device' && t.device === device)
        out.push(
          `agent ${cut.agent} received ${msg.topic}${msg.retain ? ' (retained)' : ''} ${msg.text.slice(0, 100)} after the answer to its release of device ${cut.device}`,
        );
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
      if (got !== want)
        out.push(
          `agent ${i} ${got ? 'received' : 'did not receive'} device ${d}'s marker (holder ${m.devices[d]!.holder}, its filters ${[...m.agents[i]!.subs].join(' ')})`,
        );
    }
  }
  return out;
}

/** Each agent's `list` shows exactly the run's devices the model says it holds, leases marked: no device under two agents. */
function lists(m: Model, s: System, got: Map<number, string[]>): string[] {
  const out: string[] = [];
  const ids = s.devices.map((d) => d.dev.id);
  for (const [i, devices] of got) {
    const mine = devices.filter((id) => ids.includes(id.split(' ')[0]!)).sort();
    const want = m.devices.flatMap((d, k) => (d.holder === i ? [d.pool === null ? ids[k]! : `${ids[k]!} (lease)`] : [])).sort();
    if (mine.join() !== want.join()) out.push(`agent ${i} lists [${mine.join(', ')}], model says [${want.join(', ')}]`);
  }
  return out;
}

/** Runs after every step; throws with everything that differs. */
export async function verify(m: Model, s: System): Promise<void> {
  const rows = await converge(m, s);
  const b = await s.barrier();
  const problems = [...finalOnce(rows), ...entitlement(m, s), ...markers(m, s, b.marks), ...lists(m, s, b.lists)];
  if (problems.length > 0) throw new Error(`after step ${s.step}:\n  ${problems.join('\n  ')}`);
}
