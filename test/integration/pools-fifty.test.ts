// Fifty agents share ten pool devices at one location, all submitting at once for three rounds
// with random job lengths, while one device is offline throughout and another drops mid-job.
// Sampled all along from the registry: no device has two open leases, and every leased device's
// binding is its open lease's agent. Checked at the end: every job ran exactly once (the dropped
// one ended interrupted and its lease with it), the pool queue was served FIFO, and no agent
// received a message of a device it did not hold when the broker forwarded it: the device's
// messages (as Aedes emits them to subscribers) and the binding map's changes are logged in the
// broker's own order, so each received message is judged against who held the device then.
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import { eventTopic } from '../../protocol/topics';
import type { Database } from '../../broker/store/schema';
import { type Agent, jobSuite } from '../helpers/jobs';
import { JobDevice } from '../helpers/job-device';
import { publish, subscribe } from '../helpers/mqtt';
import { joinLocation, makeLocation, poolDevice } from '../helpers/pools';
import { request } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';

const AGENTS = 50;
const DEVICES = 10;
const ROUNDS = 3;

const { s, env } = jobSuite('pools: fifty agents, ten devices', { jobAckTimeoutMs: 2_000, requestRate: 1000, requestBurst: 1000, agentRequestRate: 1000, agentRequestBurst: 1000, queueCap: 5 });

/** Registry invariants at one instant, read in one transaction. */
async function sampleDb(db: Kysely<Database>): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
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
    return problems;
  });
}

type LogEntry = { k: 'evt'; device: string; n: number } | { k: 'bind'; device: string; agent: string | null };

s('every job runs once, FIFO, never two agents on one device, no message to an agent that did not hold the device', async () => {
  const tb = env.tb;
  const loc = await makeLocation(tb);
  const devices: JobDevice[] = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await poolDevice(tb, loc, { durationMs: 20 }));
  const [offline, dropper] = [devices[0]!, devices[1]!];
  await offline.drop();
  await waitUntil(() => !tb.ctx.presence.isOnline(offline.id), 10_000, 'the offline device seen offline');

  // The broker's own order of device messages and binding-map changes. A listener on Aedes' own
  // emitter runs in the same synchronous step as every client's forward decision for the message,
  // so no binding change can fall between this entry and those decisions.
  const log: LogEntry[] = [];
  const mq = (tb.ctx.aedes as unknown as { mq: { on(topic: string, fn: (packet: { topic: string; payload: Buffer }, cb: () => void) => void): void } }).mq;
  mq.on('fb/v1/d/+/evt/noise', (packet, cb) => {
    const device = packet.topic.split('/')[3]!;
    log.push({ k: 'evt', device, n: (JSON.parse(packet.payload.toString('utf8')) as { n: number }).n });
    cb();
  });
  const bindings = tb.ctx.bindings;
  const apply = bindings.apply.bind(bindings);
  bindings.apply = (device, agent, version) => {
    const applied = apply(device, agent, version);
    if (applied) log.push({ k: 'bind', device, agent });
    return applied;
  };

  // Random job lengths; each device tags an event with the job it runs, and publishes numbered noise.
  let dropped: string | null = null;
  const noise = new Map<string, number>();
  for (const d of devices.slice(1)) {
    noise.set(d.id, 0);
    d.client.on('message', (topic, payload) => {
      const cmd = JSON.parse(payload.toString('utf8'));
      if (topic !== `fb/v1/d/${d.id}/cmd` || cmd.cancel || cmd.complete) return;
      d.durationMs = 10 + Math.floor(Math.random() * 60);
      void publish(d.client, eventTopic(d.id, 'job'), { job: cmd.job });
      if (d === dropper && dropped === null) {
        dropped = cmd.job;
        d.mode = 'hold';
      }
    });
  }
  const noiseTimer = setInterval(() => {
    for (const d of devices.slice(1)) {
      if (!d.client.connected) continue;
      const n = noise.get(d.id)! + 1;
      noise.set(d.id, n);
      void publish(d.client, eventTopic(d.id, 'noise'), { n }).catch(() => undefined);
    }
  }, 40);

  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) agents.push(await env.agent());
  for (const a of agents) await joinLocation(tb, a.id, [loc]);
  const received = new Map<string, { device: string; stream: string; body: any }[]>(agents.map((a) => [a.id, []]));
  const assigned = new Map<string, string>();
  for (const a of agents) {
    a.client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString('utf8'));
      const m = /^fb\/v1\/d\/([^/]+)\/evt\/(.+)$/.exec(topic);
      if (m) received.get(a.id)!.push({ device: m[1]!, stream: m[2]!, body });
      else if (body.event === 'pool.assigned') assigned.set(body.job, body.device);
    });
  }

  const problems: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      problems.push(...(await sampleDb(tb.ctx.db)));
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  const jobsOf = new Map<string, string[]>(agents.map((a) => [a.id, []]));
  const subscribed = new Map<string, Set<string>>(agents.map((a) => [a.id, new Set()]));
  const ended = async (job: string): Promise<string> =>
    waitUntil(async () => {
      const r = await tb.api('GET', `/api/jobs/${job}`);
      return r.status === 200 && ['done', 'failed', 'interrupted', 'cancelled', 'expired'].includes(r.body.state) ? (r.body.state as string) : undefined;
    }, 60_000, `job ${job} to end`, 100);

  const runAgent = async (a: Agent): Promise<void> => {
    for (let round = 0; round < ROUNDS; round++) {
      const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'submit', pool: loc, kind: 'serial.send', params: { data: 'aGk=', timeoutMs: 1000 } }, 30_000);
      if (!r.ok) throw new Error(`submit by ${a.id}: ${JSON.stringify(r.error)}`);
      const job = r.result.job as string;
      jobsOf.get(a.id)!.push(job);
      const device = r.result.device ?? (await waitUntil(() => assigned.get(job), 60_000, `a device for ${job}`, 20));
      if (!subscribed.get(a.id)!.has(device)) {
        // Refused (128) when the lease already ended; the next lease of that device tries again.
        const granted = await subscribe(a.client, eventTopic(device, '+')).catch(() => [128]);
        if (granted[0] !== 128) subscribed.get(a.id)!.add(device);
      }
      await ended(job);
    }
  };
  const dropping = (async () => {
    await waitUntil(() => dropped !== null && dropper.isRunning(dropped), 60_000, 'a job running on the device that will drop', 20);
    await dropper.drop();
  })();
  await Promise.all([...agents.map(runAgent), dropping]);
  sampling = false;
  await sampler;
  clearInterval(noiseTimer);

  assert.equal(problems, [], 'registry invariants held at every sample');
  const all = [...jobsOf.values()].flat();
  assert.is(all.length, AGENTS * ROUNDS);
  const rows = await (tb.ctx.db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'device', 'agent', 'pool', 'route']).where('id', 'in', all).execute();
  const states = new Map(rows.map((r: any) => [r.id, r.state]));
  assert.is(states.get(dropped!), 'interrupted', 'the job on the dropped device was interrupted (serial.send is not safe to repeat)');
  for (const job of all) if (job !== dropped) assert.is(states.get(job), 'done', `job ${job}`);
  const runs = devices.flatMap((d) => d.runs);
  assert.equal([...runs].sort(), [...all].sort(), 'every job ran exactly once, on one device');
  assert.is(offline.runs.length, 0, 'the offline device was skipped');
  assert.ok(rows.every((r: any) => r.pool === loc && r.route === 'pool'));

  // Leases: the dropped device's lease ended with its interrupted job; none is open at the end.
  await waitUntil(async () => (await tb.ctx.db.selectFrom('leases').select('id').where('ended_at', 'is', null).execute()).length === 0, 10_000, 'every lease to end');
  const droppedLease = await tb.ctx.db.selectFrom('leases').selectAll().where('job', '=', dropped!).executeTakeFirstOrThrow();
  assert.is(droppedLease.end_reason, 'job-ended');
  for (const d of devices) assert.is(tb.ctx.bindings.agentOf(d.id), null, `${d.id} is free in the binding map`);

  // FIFO: the waiting jobs got their devices in the order they were queued.
  const queue = await tb.ctx.db.selectFrom('pool_queue').select(['seq', 'decided_at', 'state']).where('location', '=', loc).orderBy('seq').execute();
  assert.ok(queue.length > 0, 'some jobs waited in the pool queue');
  assert.ok(queue.every((e) => e.state === 'assigned'));
  for (let i = 1; i < queue.length; i++) assert.ok(Number(queue[i]!.decided_at) >= Number(queue[i - 1]!.decided_at), `entry ${queue[i]!.seq} was served before an older one`);

  // Messages: a job's event reaches only that job's agent; noise only whoever held the device when it was forwarded.
  const owner = new Map(rows.map((r: any) => [r.id as string, r.agent as string]));
  let tagged = 0;
  let noisy = 0;
  const at = new Map<string, number>();
  log.forEach((e, i) => {
    if (e.k === 'evt') at.set(`${e.device}:${e.n}`, i);
  });
  /** Who held the device when the broker forwarded its message n: the last binding change before it. */
  const holderAt = (device: string, n: number): Set<string | null> => {
    const idx = at.get(`${device}:${n}`);
    if (idx === undefined) return new Set();
    for (let j = idx - 1; j >= 0; j--) {
      const e = log[j]!;
      if (e.device === device && e.k === 'bind') return new Set([e.agent]);
    }
    return new Set([null]);
  };
  for (const a of agents) {
    for (const m of received.get(a.id)!) {
      if (m.stream === 'job') {
        tagged++;
        assert.is(owner.get(m.body.job), a.id, `${a.id} received the event of job ${m.body.job}`);
      } else {
        noisy++;
        const holders = holderAt(m.device, m.body.n);
        if (!holders.has(a.id)) {
          const idx = at.get(`${m.device}:${m.body.n}`) ?? -1;
          const around = log.slice(Math.max(0, idx - 400), idx + 50).filter((e) => e.device === m.device);
          assert.unreachable(`${a.id} received noise ${m.body.n} of ${m.device} without holding it; holders then: ${JSON.stringify([...holders])}; the device's log around it: ${JSON.stringify(around)}`);
        }
      }
    }
  }
  assert.ok(tagged > 0 && noisy > 0, `agents received device messages while they held them (${tagged} job events, ${noisy} noise)`);
  await dropper.reconnect();
});

s.run();
