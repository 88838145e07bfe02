// Fifty agents share ten pool devices at one location in a two-node cluster on PostgreSQL and
// Redis (docs/architecture.md, Locations and pools): the run of test/integration/pools-fifty.test.ts
// with agents and devices spread over both nodes, so leases start and end on one node while the
// device, or the agent, is on the other. All submit at once for a bounded number of rounds with
// random job lengths. Sampled all along from PostgreSQL and from both nodes' binding maps: no
// device has two open leases, every leased device's binding is its open lease's agent, and no
// node's map names an agent the registry did not lease the device to at that version. Checked at
// the end: every job ran exactly once, the pool queue was served FIFO, and no agent received a
// message of a device it did not hold when its own node forwarded it (each node logs device
// messages and binding changes in the order it handles them, its own and those from Redis).
// The nodes run in this process, so their binding maps and their order can be read directly.
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import { openPostgres } from '../../broker/store/postgres';
import { clusterSuite } from '../helpers/cluster';
import type { JobDevice } from '../helpers/job-device';
import { uniq } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import {
  JobEnds,
  PoolAgent,
  busyDevices,
  expectEntitledMessages,
  expectFifo,
  expectRanOnce,
  joinLocation,
  leaseProblems,
  makeLocation,
  poolDevice,
  recordOrder,
  sampleAll,
} from '../helpers/pools';
import { waitUntil } from '../helpers/wait';

const AGENTS = 50;
const DEVICES = 10;
const ROUNDS = 3;

const { t, on } = clusterSuite('pools in a two-node cluster: fifty agents, ten devices', {
  jobAckTimeoutMs: 2_000,
  requestRate: 1000,
  requestBurst: 1000,
  agentRequestRate: 1000,
  agentRequestBurst: 1000,
  queueCap: 5,
});

on('every job runs once, FIFO, never two agents on one device, no message to an agent that did not hold the device', async (cluster, backends) => {
  const nodes = cluster.members;
  const devices: JobDevice[] = [];
  const agents: PoolAgent[] = [];
  const reg = await openPostgres(backends.databaseUrl, { max: 3 });
  try {
    const loc = await makeLocation(nodes[0]!);
    // Device i on node i mod 2; placed in the pool through the same node.
    for (let i = 0; i < DEVICES; i++) devices.push(await poolDevice(nodes[i % 2]!, loc, { durationMs: 20 }));
    const orders = await Promise.all(nodes.map((n) => recordOrder(n.ctx)));
    const stopNoise = busyDevices(devices);
    const ends = new JobEnds(reg.db);
    // Agent i on node i mod 2, made a member of the location through the other node.
    for (let i = 0; i < AGENTS; i++) {
      agents.push(new PoolAgent(await nodes[i % 2]!.agent(uniq('ag')), orders[i % 2]!, ends));
      await joinLocation(nodes[(i + 1) % 2]!, agents[i]!.id, [loc]);
    }

    const maps = nodes.map((n) => n.ctx.bindings);
    const sampler = sampleAll(() => leaseProblems(reg.db, maps));
    let sampled: { problems: string[]; samples: number };
    try {
      await Promise.all(agents.map((a) => a.run(loc, ROUNDS)));
    } finally {
      sampled = await sampler.stop();
      stopNoise();
      ends.stop();
    }
    const { problems, samples } = sampled;
    assert.ok(samples > 20, `the registry and the maps were sampled (${samples} times)`);
    assert.equal(problems, [], 'registry and binding-map invariants held at every sample');

    const all = agents.flatMap((a) => a.jobs);
    assert.is(all.length, AGENTS * ROUNDS);
    const rows = await (reg.db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'agent', 'pool', 'route']).where('id', 'in', all).execute();
    assert.is(rows.length, all.length);
    for (const r of rows) assert.is(r.state, 'done', `job ${r.id}`);
    assert.ok(rows.every((r: any) => r.pool === loc && r.route === 'pool'));
    expectRanOnce(devices, all);

    // Every lease ended, and both nodes' maps show every device free.
    await waitUntil(
      async () => (await reg.db.selectFrom('leases').select('id').where('ended_at', 'is', null).execute()).length === 0,
      10_000,
      'every lease to end',
    );
    await cluster.flush();
    for (const d of devices) assert.equal(cluster.aclAgentOf(d.id), [null, null], `${d.id} is free in both binding maps`);

    await expectFifo(reg.db, loc);
    const { tagged, noisy } = expectEntitledMessages(agents, new Map(rows.map((r: any) => [r.id as string, r.agent as string])));
    assert.ok(tagged > 0 && noisy > 0, `agents received device messages while they held them (${tagged} job events, ${noisy} noise)`);
  } finally {
    for (const d of devices) await d.close();
    await end(...agents.map((a) => a.agent.client));
    await reg.close();
  }
});

t.run();
