// Pools in a two-node cluster on PostgreSQL and Redis, and the death of a node mid-lease
// (docs/architecture.md, Locations and pools). Four pool devices, two on each node; agents on both
// nodes submit pool jobs until every device is leased and two more wait in the pool queue. Node 1
// is SIGKILLed while its devices run leased jobs; they and its agents come back on node 2. Sampled
// from PostgreSQL all along: never two open leases on a device, and every leased device bound to
// its open lease's agent. After the kill: no lease is orphaned, the waiting jobs kept their ids
// and places, the leases of node 1's devices ended or stayed with their jobs by the interrupted
// rule, and the waiting jobs then got devices in FIFO order.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { openPostgres } from '../../broker/store/postgres';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { connectAgent, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { type Agent, jobIn } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { leaseProblems, noOrphanedLeases, ok } from '../helpers/pools';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const ADMIN = randomBytes(24).toString('hex');
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

const t = suite<{ backends?: Backends | Error; nodes: BrokerProcess[]; dirs: string[]; devices: JobDevice[]; agents: Agent[] }>(
  'pools in a two-node cluster, a node killed mid-lease',
  { nodes: [], dirs: [], devices: [], agents: [] },
);
t.before(async (c) => {
  c.backends = await freshBackends();
  if (c.backends instanceof Error) return;
  const flags = [
    '--database-url',
    c.backends.databaseUrl,
    '--redis-url',
    c.backends.redisUrl,
    '--redis-prefix',
    c.backends.redisPrefix,
    '--grace-ms',
    '3000',
    '--job-ack-timeout-ms',
    '500',
  ];
  for (let i = 0; i < 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbind-node-'));
    c.dirs.push(dir);
    c.nodes.push(await BrokerProcess.start(dir, ADMIN, flags));
  }
});
t.after(async (c) => {
  for (const d of c.devices) await d.close();
  await end(...c.agents.map((a) => a.client));
  for (const n of c.nodes) await n.kill();
  for (const d of c.dirs) rmSync(d, { recursive: true, force: true });
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

t('no device is ever leased twice, no lease is orphaned and waiting jobs keep their place when a node dies mid-lease', async (c) => {
  requireBackends(c.backends);
  const [n1, n2] = c.nodes as [BrokerProcess, BrokerProcess];
  const reg = await openPostgres(c.backends.databaseUrl, { max: 2 });
  const problems: string[] = [];
  let sampling = true;
  let samples = 0;
  const sampler = (async () => {
    while (sampling) {
      problems.push(...(await leaseProblems(reg.db)));
      samples++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    await ok(n1.api('POST', '/api/locations', { id: 'hall', name: 'Hall' }), 201);
    const login = async (node: BrokerProcess, id: string): Promise<Agent> => {
      const token = (await ok(node.api('POST', '/api/login', { id, password: PASSWORD }, undefined))).token as string;
      const a = { client: await connectAgent(node.mqttUrl, id, token), id, token };
      c.agents.push(a);
      return a;
    };
    const ids = ['a1', 'a2', 'a3', 'a4', 'a5'];
    for (const id of ids) {
      await ok(n1.api('POST', '/api/agents', { id, name: id, password: PASSWORD }), 201);
      await ok(n2.api('PATCH', `/api/agents/${id}`, { locations: ['hall'] }));
    }
    // Two devices on each node, placed in the pool through the other node.
    const devOn = new Map<string, BrokerProcess>();
    for (const node of [n1, n1, n2, n2]) {
      const mac = randomMac();
      const r = await ok(node.api('POST', '/api/devices', { mac, model: 'test-board' }), 201);
      const d = await JobDevice.connect(node.mqttUrl, { id: r.id, secret: r.secret, mac }, { mode: 'hold' });
      c.devices.push(d);
      devOn.set(d.id, node);
      await ok((node === n1 ? n2 : n1).api('PATCH', `/api/devices/${r.id}`, { location: 'hall', mode: 'pool' }));
    }
    // Agents a1, a2 and a5 on node 1; a3 and a4 on node 2.
    const [a1, a2, a3, a4, a5] = [await login(n1, 'a1'), await login(n1, 'a2'), await login(n2, 'a3'), await login(n2, 'a4'), await login(n1, 'a5')];
    const submit = async (a: Agent, kind: 'identify' | 'serial.send') => {
      const params = kind === 'identify' ? { seconds: 1 } : { data: 'aGk=', timeoutMs: 1000 };
      const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'submit', pool: 'hall', kind, params });
      assert.ok(r.ok, JSON.stringify(r));
      return r.result as { job: string; device: string | null; position: number | null };
    };
    // Four agents at once (two per node) lease the four devices; two more jobs wait.
    const leased = await Promise.all([submit(a1, 'serial.send'), submit(a2, 'identify'), submit(a3, 'serial.send'), submit(a4, 'identify')]);
    const held = leased.map((r) => r.device);
    assert.ok(
      held.every((d) => d !== null),
      JSON.stringify(leased),
    );
    assert.is(new Set(held).size, 4, 'four agents, four different devices');
    const w1 = await submit(a5, 'identify');
    const w2 = await submit(a3, 'identify');
    assert.equal([w1.device, w1.position, w2.device, w2.position], [null, 1, null, 2]);
    for (const r of leased) await jobIn(n2, r.job, ['running']);
    await noOrphanedLeases(n1);

    // Node 1 dies while its two devices run leased jobs.
    assert.is((await n1.stop('SIGKILL')).signal, 'SIGKILL');
    const orphaned = c.devices.filter((d) => devOn.get(d.id) === n1);
    for (const d of orphaned) d.client.end(true);
    for (const a of [a1, a2, a5]) a.client.end(true);

    // Node 2 still has the waiting jobs, with their ids and places.
    const hall = await ok(n2.api('GET', '/api/locations/hall'));
    assert.equal(
      hall.queue.map((q: any) => [q.job, q.position]),
      [
        [w1.job, 1],
        [w2.job, 2],
      ],
      'waiting jobs keep their places',
    );
    const w1view = await ok(n2.api('GET', `/api/jobs/${w1.job}`));
    assert.equal([w1view.state, w1view.device, w1view.position], ['queued', null, 1]);

    // Node 1's devices come back on node 2: a job not safe to repeat ended interrupted and its
    // lease with it (its device takes the first waiting job); an idempotent one runs again, leased.
    for (const d of orphaned) await d.reconnect(true, n2.mqttUrl);
    const byJob = new Map(leased.map((r) => [r.job, r.device!]));
    const deviceOf = (job: string): JobDevice => c.devices.find((d) => d.id === byJob.get(job))!;
    const onDead = leased.filter((r) => orphaned.some((d) => d.id === r.device));
    const interrupted = new Set<string>();
    for (const r of onDead) {
      if (r === leased[0] || r === leased[2]) {
        await jobIn(n2, r.job, ['interrupted'], undefined, 20_000);
        interrupted.add(r.job);
        // An interrupted job's lease ends with it (after the device's last snapshot went out).
        await waitUntil(
          async () => (await ok(n2.api('GET', '/api/leases'))).every((l: any) => l.job !== r.job),
          20_000,
          `the lease of interrupted job ${r.job} to end`,
        );
      } else {
        // The registry still says 'running' from before the kill until node 2 settles the job
        // (after node 1 fails to answer, or is found dead) and dispatches it again. The rebooted
        // device forgot it, so the device running it is what says it runs again.
        await waitUntil(() => deviceOf(r.job).isRunning(r.job), 20_000, `idempotent job ${r.job} to run again on its device`);
        await jobIn(n2, r.job, ['running'], undefined, 20_000);
      }
    }

    // Every job still on a device finishes; the waiting jobs get devices, oldest first.
    const finish = async (job: string) => {
      await deviceOf(job).ack({ job, state: 'done', result: {} });
      await jobIn(n2, job, ['done'], undefined, 20_000);
    };
    for (const r of leased) if (!interrupted.has(r.job)) await finish(r.job);
    for (const w of [w1, w2]) {
      const placed = await waitUntil(
        async () => {
          const v = await ok(n2.api('GET', `/api/jobs/${w.job}`));
          return v.device !== null && v.state === 'running' ? v : undefined;
        },
        20_000,
        `waiting job ${w.job} placed and running`,
      );
      byJob.set(w.job, placed.device);
    }
    // A waiting job becomes a device job when a device takes it, so its queued time is that moment.
    const placedAt = async (job: string) => Number((await ok(n2.api('GET', `/api/jobs/${job}`))).times.queued);
    assert.ok((await placedAt(w1.job)) <= (await placedAt(w2.job)), 'the older waiting job got a device first');
    // Once the finished jobs' leases have ended, only the two placed jobs hold leases: a still
    // moment, when REST reads of leases and devices must agree.
    let lastLeases: unknown[] = [];
    await waitUntil(
      async () => (lastLeases = await ok(n2.api('GET', '/api/leases'))).length === 2,
      20_000,
      () => `only the placed jobs to hold leases; leases: ${JSON.stringify(lastLeases)}`,
    );
    await noOrphanedLeases(n2);
    for (const w of [w1, w2]) await finish(w.job);
    await waitUntil(async () => (await ok(n2.api('GET', '/api/leases'))).length === 0, 20_000, 'every lease to end');
    await noOrphanedLeases(n2);

    // Each job ran on one device only (an idempotent job interrupted by the node's death ran
    // again on the same device); no device took a job twice otherwise.
    for (const d of c.devices) {
      const again = d.runs.filter((j, i) => d.runs.indexOf(j) !== i);
      for (const j of again)
        assert.ok(
          onDead.some((r) => r.job === j && byJob.get(j) === d.id),
          `job ${j} ran twice on ${d.id}`,
        );
    }
    const ranOn = new Map<string, Set<string>>();
    for (const d of c.devices) for (const j of d.runs) ranOn.set(j, new Set([...(ranOn.get(j) ?? []), d.id]));
    for (const [j, on] of ranOn) assert.is(on.size, 1, `job ${j} ran on ${[...on].join(', ')}`);
  } finally {
    sampling = false;
    await sampler;
    await reg.close();
  }
  assert.ok(samples > 20, `the registry was sampled (${samples} times)`);
  assert.equal(problems, [], 'never two open leases on a device, never a lease binding without its lease row');
});

t.run();
