// Pool-test plumbing: a location with scripted pool devices and member agents, pool submits, a
// snapshot of everything a refused request must leave unchanged, registry invariants, and the
// agents, devices and checks of the many-agents runs on one node and on a cluster.
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import type { BindingMap } from '../../broker/binding-map';
import type { Database } from '../../broker/store/schema';
import { aedesInternals } from '../../broker/upstream/aedes';
import { eventTopic } from '../../protocol/topics';
import { type Agent, type HasApi, submit, uniq } from './jobs';
import { JobDevice, type JobDeviceOptions } from './job-device';
import { type TestBroker, request } from './broker';
import { publish, subscribe } from './mqtt';
import { waitUntil } from './wait';

export async function ok(r: Promise<{ status: number; body: any }>, status = 200): Promise<any> {
  const res = await r;
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function makeLocation(tb: HasApi, id = uniq('loc')): Promise<string> {
  await ok(tb.api('POST', '/api/locations', { id, name: `Room ${id}` }), 201);
  return id;
}

export async function joinLocation(tb: HasApi, agent: string, locations: string[]): Promise<void> {
  await ok(tb.api('PATCH', `/api/agents/${agent}`, { locations }));
}

/** Provisions and connects a device, then places it in the location's pool. */
export async function poolDevice(tb: TestBroker, location: string, opts: JobDeviceOptions = {}): Promise<JobDevice> {
  const dev = await tb.provision();
  const d = await JobDevice.connect(tb.broker.mqttUrl, dev, opts);
  await ok(tb.api('PATCH', `/api/devices/${dev.id}`, { location, mode: 'pool' }));
  return d;
}

export function poolSubmit(agent: Agent, pool: string, body: Record<string, unknown> = {}): Promise<any> {
  return submit(agent, { pool, kind: 'identify', params: { seconds: 1 }, ...body });
}

/**
 * Everything a refused request must leave as it was at one location: its devices' bindings and
 * modes, its leases and pool queue, those devices' jobs, and the audit rows about them.
 */
export async function stateSnapshot(db: Kysely<Database>, location: string): Promise<string> {
  const devices = await db
    .selectFrom('devices')
    .select(['id', 'agent_id', 'bound_via', 'binding_version', 'mode', 'location', 'reserved_by_job'])
    .where('location', '=', location)
    .orderBy('id')
    .execute();
  const ids = devices.map((d) => d.id);
  const leases = await db.selectFrom('leases').selectAll().where('location', '=', location).orderBy('id').execute();
  const queue = await db.selectFrom('pool_queue').selectAll().where('location', '=', location).orderBy('seq').execute();
  const jobs =
    ids.length === 0
      ? []
      : await (db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'device', 'agent']).where('device', 'in', ids).orderBy('id').execute();
  const audit = ids.length === 0 ? [] : await db.selectFrom('audit').select(['seq', 'action']).where('device', 'in', ids).orderBy('seq').execute();
  const queuedAudit = await db
    .selectFrom('audit')
    .select(['seq'])
    .where('action', '=', 'pool.queued')
    .where('detail', 'like', `%"location":"${location}"%`)
    .execute();
  return JSON.stringify({ devices, leases, queue, jobs, audit, queuedAudit });
}

/**
 * Registry invariants at one instant, read in one snapshot: no device has two open leases, and
 * every leased device's binding is its open lease's agent. PostgreSQL needs repeatable read for
 * that (read committed gives each statement its own snapshot); a SQLite transaction is one.
 *
 * With `maps` (each node's binding map), those are checked against the same snapshot. They are
 * read first, in one synchronous step, and the registry after, so a map may lag the registry but
 * never lead it: no entry newer than the registry's binding, the registry's agent where the
 * versions agree, and every agent a map names one the registry leased the device to at exactly
 * that version. So no map ever shows a device leased to an agent the registry did not lease it to
 * then, and no two maps name two agents at one version.
 */
export async function leaseProblems(db: Kysely<Database>, maps: BindingMap[] = []): Promise<string[]> {
  const held = maps.map((m) => [...m.entries()].filter(([, b]) => b.agent !== null));
  const devices = [...new Set(held.flatMap((entries) => entries.map(([d]) => d)))];
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const problems: string[] = [];
      const open = await trx.selectFrom('leases').select(['device', 'agent']).where('ended_at', 'is', null).execute();
      const byDevice = new Map<string, string[]>();
      for (const l of open) byDevice.set(l.device, [...(byDevice.get(l.device) ?? []), l.agent]);
      for (const [d, agents] of byDevice) if (agents.length > 1) problems.push(`device ${d} has ${agents.length} open leases: ${agents.join(', ')}`);
      const leased = await trx.selectFrom('devices').select(['id', 'agent_id']).where('bound_via', '=', 'lease').execute();
      for (const d of leased) {
        const l = byDevice.get(d.id);
        if (!l || l[0] !== d.agent_id) problems.push(`device ${d.id} is bound to ${d.agent_id} by lease, but its open lease is ${JSON.stringify(l ?? null)}`);
      }
      if (devices.length === 0) return problems;
      const rows = new Map(
        (await trx.selectFrom('devices').select(['id', 'agent_id', 'binding_version']).where('id', 'in', devices).execute()).map((r) => [r.id, r]),
      );
      const leases = new Set(
        (await trx.selectFrom('leases').select(['device', 'agent', 'version']).where('device', 'in', devices).execute()).map(
          (l) => `${l.device}/${l.agent}/${Number(l.version)}`,
        ),
      );
      held.forEach((entries, node) => {
        for (const [device, b] of entries) {
          const row = rows.get(device);
          const version = Number(row?.binding_version);
          if (!row || b.version > version)
            problems.push(`node ${node} maps ${device} to ${b.agent} at version ${b.version}, ahead of the registry's ${version}`);
          else if (b.version === version && b.agent !== row.agent_id)
            problems.push(`node ${node} maps ${device} to ${b.agent} at version ${version}; the registry says ${row.agent_id}`);
          else if (!leases.has(`${device}/${b.agent}/${b.version}`))
            problems.push(`node ${node} maps ${device} to ${b.agent} at version ${b.version}, which was no lease`);
        }
      });
      return problems;
    });
}

/** Over REST: every open lease has an unfinished job on its device, and every leased device has its open lease. */
export async function noOrphanedLeases(node: HasApi): Promise<void> {
  const leases = await ok(node.api('GET', '/api/leases'));
  for (const l of leases) {
    const jobs = await ok(node.api('GET', `/api/jobs?device=${l.device}&limit=100`));
    assert.ok(
      jobs.some((j: any) => ['queued', 'dispatched', 'running'].includes(j.state)),
      `lease of ${l.device} to ${l.agent} has no unfinished job`,
    );
  }
  const leased = (await ok(node.api('GET', '/api/devices'))).filter((d: any) => d.boundVia === 'lease');
  assert.equal(leased.map((d: any) => [d.id, d.agent]).sort(), leases.map((l: any) => [l.device, l.agent]).sort());
}

// ---- many agents sharing one pool at once (pools-fifty on one node, cluster-pools-fifty on two)

/** A device's numbered noise or a binding-map change, in the order one broker node handled them. */
export type OrderEntry = { k: 'evt'; device: string; n: number } | { k: 'bind'; device: string; agent: string | null; version: number };

type BrokerContext = TestBroker['ctx'];

/**
 * Logs a node's device noise and binding-map changes in the node's own order. A listener on
 * Aedes' own emitter runs in the same synchronous step as every local client's forward decision
 * for the message, so no binding change can fall between its entry and those decisions. In a
 * cluster the emitter is the node's end of Redis, so another node's message is logged as it
 * arrives, and so are the binding changes the other nodes send. Resolves once listening.
 */
export async function recordOrder(ctx: BrokerContext): Promise<OrderEntry[]> {
  const log: OrderEntry[] = [];
  const mq = aedesInternals(ctx.aedes).mq as {
    on(topic: string, fn: (packet: { topic: string; payload: Buffer }, cb: () => void) => void, done: () => void): void;
  };
  await new Promise<void>((resolve) =>
    mq.on(
      'fb/v1/d/+/evt/noise',
      (packet, cb) => {
        log.push({ k: 'evt', device: packet.topic.split('/')[3]!, n: (JSON.parse(packet.payload.toString('utf8')) as { n: number }).n });
        cb();
      },
      resolve,
    ),
  );
  const bindings = ctx.bindings;
  const apply = bindings.apply.bind(bindings);
  bindings.apply = (device, agent, version) => {
    const applied = apply(device, agent, version);
    if (applied) log.push({ k: 'bind', device, agent, version });
    return applied;
  };
  return log;
}

/**
 * Pool devices as busy hardware: each job takes 10-70 ms (drawn per job), each job's first event
 * names it, and every device publishes numbered noise every 40 ms. `onJob` sees each job as it
 * arrives. Returns the function that stops the noise.
 */
export function busyDevices(devices: JobDevice[], onJob: (d: JobDevice, job: string) => void = () => undefined): () => void {
  const noise = new Map<string, number>(devices.map((d) => [d.id, 0]));
  for (const d of devices) {
    d.client.on('message', (topic, payload) => {
      const cmd = JSON.parse(payload.toString('utf8'));
      if (topic !== `fb/v1/d/${d.id}/cmd` || cmd.cancel || cmd.complete) return;
      d.durationMs = 10 + Math.floor(Math.random() * 60);
      void publish(d.client, eventTopic(d.id, 'job'), { job: cmd.job });
      onJob(d, cmd.job);
    });
  }
  const timer = setInterval(() => {
    for (const d of devices) {
      if (!d.client.connected) continue;
      const n = noise.get(d.id)! + 1;
      noise.set(d.id, n);
      void publish(d.client, eventTopic(d.id, 'noise'), { n }).catch(() => undefined);
    }
  }, 40);
  return () => clearInterval(timer);
}

const FINAL = ['done', 'failed', 'interrupted', 'cancelled', 'expired'];

/** A device message an agent received. */
export interface DeviceMessage {
  device: string;
  stream: string;
  body: any;
}

/**
 * Resolves as pool jobs end with their leases, reading the registry every 100 ms for every job
 * waited on at once: fifty agents each polling REST would load the broker more than the run
 * itself does. The lease too: an agent's next submit while its ended job's lease still stands
 * goes to that device as a lingering lease would, past the pool queue.
 */
export class JobEnds {
  private readonly waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(readonly db: Kysely<Database>) {
    this.timer = setInterval(() => void this.poll(), 100);
  }

  /** Rejects when the job has not ended within `timeoutMs`, saying how the job and its lease stand. */
  of(job: string, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(job);
        const db = this.db as Kysely<any>;
        Promise.all([
          db.selectFrom('jobs').selectAll().where('id', '=', job).executeTakeFirst(),
          db.selectFrom('leases').selectAll().where('job', '=', job).execute(),
          db.selectFrom('job_events').selectAll().where('job', '=', job).execute(),
        ])
          .then(([row, leases, events]) => JSON.stringify({ job: row, leases, events }))
          .catch((err: unknown) => `(reading it failed: ${(err as Error).message})`)
          .then((seen) => reject(new Error(`job ${job} and its lease did not end within ${timeoutMs} ms: ${seen}`)));
      }, timeoutMs);
      const done = (): void => clearTimeout(t);
      this.waiting.set(job, { resolve: () => (done(), resolve()), reject: (err) => (done(), reject(err)) });
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.waiting.size === 0) return;
    this.polling = true;
    try {
      const rows = await (this.db as Kysely<any>)
        .selectFrom('jobs')
        .select('id')
        .where('id', 'in', [...this.waiting.keys()])
        .where('state', 'in', FINAL)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('leases').select('leases.id').whereRef('leases.job', '=', 'jobs.id').where('leases.ended_at', 'is', null))),
        )
        .execute();
      for (const r of rows) {
        this.waiting.get(r.id)?.resolve();
        this.waiting.delete(r.id);
      }
    } catch (err) {
      for (const w of this.waiting.values()) w.reject(err as Error);
      this.waiting.clear();
    } finally {
      this.polling = false;
    }
  }
}

/** One agent submitting pool jobs round after round, and what it received meanwhile. */
export class PoolAgent {
  readonly received: DeviceMessage[] = [];
  readonly jobs: string[] = [];
  private readonly assigned = new Map<string, string>();
  private readonly subscribed = new Set<string>();

  /** `order` is the log of the node the agent is connected to: it judges what the agent received. */
  constructor(
    readonly agent: Agent,
    readonly order: OrderEntry[],
    private readonly ends: JobEnds,
  ) {
    agent.client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString('utf8'));
      const m = /^fb\/v1\/d\/([^/]+)\/evt\/(.+)$/.exec(topic);
      if (m) this.received.push({ device: m[1]!, stream: m[2]!, body });
      else if (body.event === 'pool.assigned') this.assigned.set(body.job, body.device);
    });
  }

  get id(): string {
    return this.agent.id;
  }

  /** Submits a serial.send to the pool, follows the device's events while it holds it, waits for the job and its lease to end; `rounds` times. */
  async run(pool: string, rounds: number): Promise<void> {
    const a = this.agent;
    for (let round = 0; round < rounds; round++) {
      const r = await request(
        a.client,
        { kind: 'agent', id: a.id },
        { op: 'submit', pool, kind: 'serial.send', params: { data: 'aGk=', timeoutMs: 1000 } },
        30_000,
      ).catch(async (err: Error) => {
        const queued = await (this.ends.db as Kysely<any>)
          .selectFrom('pool_queue')
          .selectAll()
          .where('agent', '=', a.id)
          .orderBy('seq', 'desc')
          .limit(1)
          .execute();
        const jobs = await (this.ends.db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'device', 'queued_at']).where('agent', '=', a.id).execute();
        throw new Error(`${err.message} (round ${round} of ${a.id}; its last pool-queue entry: ${JSON.stringify(queued)}; its jobs: ${JSON.stringify(jobs)})`);
      });
      if (!r.ok) throw new Error(`submit by ${a.id}: ${JSON.stringify(r.error)}`);
      const job = r.result.job as string;
      this.jobs.push(job);
      const device = r.result.device ?? (await waitUntil(() => this.assigned.get(job), 60_000, `a device for ${job}`, 20));
      if (!this.subscribed.has(device)) {
        // Refused (128) when the lease already ended; the next lease of that device tries again.
        const granted = await subscribe(a.client, eventTopic(device, '+')).catch(() => [128]);
        if (granted[0] !== 128) this.subscribed.add(device);
      }
      await this.ends.of(job);
    }
  }
}

/** Runs `check` every 25 ms until stopped; resolves with every problem it found and how often it ran. */
export function sampleAll(check: () => Promise<string[]>): { stop(): Promise<{ problems: string[]; samples: number }> } {
  const problems: string[] = [];
  let sampling = true;
  let samples = 0;
  const loop = (async () => {
    while (sampling) {
      problems.push(...(await check()));
      samples++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      return { problems, samples };
    },
  };
}

/** Every job ran exactly once, on one device. */
export function expectRanOnce(devices: JobDevice[], jobs: string[]): void {
  const runs = devices.flatMap((d) => d.runs);
  assert.equal([...runs].sort(), [...jobs].sort(), 'every job ran exactly once, on one device');
}

/** The location's waiting jobs got their devices in the order they were queued (and some waited). */
export async function expectFifo(db: Kysely<Database>, location: string): Promise<void> {
  const queue = await db
    .selectFrom('pool_queue')
    .select(['seq', 'decided_at', 'state', 'queued_at', 'device', 'agent'])
    .where('location', '=', location)
    .orderBy('seq')
    .execute();
  assert.ok(queue.length > 0, 'some jobs waited in the pool queue');
  assert.ok(queue.every((e) => e.state === 'assigned'));
  for (let i = 1; i < queue.length; i++)
    assert.ok(
      Number(queue[i]!.decided_at) >= Number(queue[i - 1]!.decided_at),
      `entry ${queue[i]!.seq} was served before an older one: ${JSON.stringify(queue.slice(Math.max(0, i - 3), i + 2))}`,
    );
}

/**
 * Each agent's received device messages: a job's event only from its own job (`owner` maps jobs
 * to agents), noise only while the agent held the device when its node forwarded it, by the
 * node's own order (the last binding change before the message). Returns how many of each there were.
 */
export function expectEntitledMessages(agents: PoolAgent[], owner: Map<string, string>): { tagged: number; noisy: number } {
  let tagged = 0;
  let noisy = 0;
  const index = new Map<OrderEntry[], Map<string, number>>();
  const positions = (log: OrderEntry[]): Map<string, number> => {
    let at = index.get(log);
    if (!at) {
      at = new Map();
      for (const [i, e] of log.entries()) if (e.k === 'evt') at.set(`${e.device}:${e.n}`, i);
      index.set(log, at);
    }
    return at;
  };
  for (const a of agents) {
    const log = a.order;
    const at = positions(log);
    for (const m of a.received) {
      if (m.stream === 'job') {
        tagged++;
        assert.is(owner.get(m.body.job), a.id, `${a.id} received the event of job ${m.body.job}`);
        continue;
      }
      noisy++;
      const idx = at.get(`${m.device}:${m.body.n}`);
      let holder: string | null | undefined;
      if (idx !== undefined) {
        holder = null;
        for (let j = idx - 1; j >= 0; j--) {
          const e = log[j]!;
          if (e.device === m.device && e.k === 'bind') {
            holder = e.agent;
            break;
          }
        }
      }
      if (holder !== a.id) {
        const around = log.slice(Math.max(0, (idx ?? 0) - 400), (idx ?? 0) + 50).filter((e) => e.device === m.device);
        assert.unreachable(
          `${a.id} received noise ${m.body.n} of ${m.device} without holding it; holder then: ${JSON.stringify(holder ?? 'not in the log')}; the device's log around it: ${JSON.stringify(around)}`,
        );
      }
    }
  }
  return { tagged, noisy };
}
