// Fifty agents share ten pool devices at one location, all submitting at once for three rounds
// with random job lengths, while one device is offline throughout and another drops mid-job.
// Sampled all along from the registry and the binding map: no device has two open leases, every
// leased device's binding is its open lease's agent, and the map never names an agent the
// registry did not lease the device to. Checked at the end: every job ran exactly once (the
// dropped one ended interrupted and its lease with it), the pool queue was served FIFO, and no
// agent received a message of a device it did not hold when the broker forwarded it: the device's
// messages (as Aedes emits them to subscribers) and the binding map's changes are logged in the
// broker's own order, so each received message is judged against who held the device then.
// test/cluster/cluster-pools-fifty.test.ts runs the same on two nodes.
import * as assert from 'uvu/assert';
import type { Kysely } from 'kysely';
import { jobIn, jobSuite } from '../helpers/jobs';
import type { JobDevice } from '../helpers/job-device';
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

const { s, env } = jobSuite('pools: fifty agents, ten devices', {
  jobAckTimeoutMs: 2_000,
  requestRate: 1000,
  requestBurst: 1000,
  agentRequestRate: 1000,
  agentRequestBurst: 1000,
  queueCap: 5,
});

s('every job runs once, FIFO, never two agents on one device, no message to an agent that did not hold the device', async () => {
  const tb = env.tb;
  const loc = await makeLocation(tb);
  const devices: JobDevice[] = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await poolDevice(tb, loc, { durationMs: 20 }));
  const [offline, dropper] = [devices[0]!, devices[1]!];
  await offline.drop();
  await waitUntil(() => !tb.ctx.presence.isOnline(offline.id), 10_000, 'the offline device seen offline');

  const order = await recordOrder(tb.ctx);
  // The dropper holds its first job until it drops: in hold mode from the start, since the device
  // starts a job before this listener hears of it, so a mode set here would come too late for it.
  let dropped: string | null = null;
  dropper.mode = 'hold';
  const stopNoise = busyDevices(devices.slice(1), (d, job) => {
    if (d === dropper && dropped === null) dropped = job;
  });

  const ends = new JobEnds(tb.ctx.db);
  const agents: PoolAgent[] = [];
  for (let i = 0; i < AGENTS; i++) agents.push(new PoolAgent(await env.agent(), order, ends));
  for (const a of agents) await joinLocation(tb, a.id, [loc]);

  const sampler = sampleAll(() => leaseProblems(tb.ctx.db, [tb.ctx.bindings]));
  const dropping = (async () => {
    await waitUntil(() => dropped !== null && dropper.isRunning(dropped), 60_000, 'a job running on the device that will drop', 20);
    await jobIn(tb, dropped!, ['running']);
    await dropper.drop();
  })();
  let problems: string[];
  try {
    await Promise.all([...agents.map((a) => a.run(loc, ROUNDS)), dropping]);
  } finally {
    ({ problems } = await sampler.stop());
    stopNoise();
    ends.stop();
  }

  assert.equal(problems, [], 'registry and binding-map invariants held at every sample');
  const all = agents.flatMap((a) => a.jobs);
  assert.is(all.length, AGENTS * ROUNDS);
  const rows = await (tb.ctx.db as Kysely<any>).selectFrom('jobs').select(['id', 'state', 'device', 'agent', 'pool', 'route']).where('id', 'in', all).execute();
  const states = new Map(rows.map((r: any) => [r.id, r.state]));
  assert.is(states.get(dropped!), 'interrupted', 'the job on the dropped device was interrupted (serial.send is not safe to repeat)');
  for (const job of all) if (job !== dropped) assert.is(states.get(job), 'done', `job ${job}`);
  expectRanOnce(devices, all);
  assert.is(offline.runs.length, 0, 'the offline device was skipped');
  assert.ok(rows.every((r: any) => r.pool === loc && r.route === 'pool'));

  // Leases: the dropped device's lease ended with its interrupted job; none is open at the end.
  await waitUntil(
    async () => (await tb.ctx.db.selectFrom('leases').select('id').where('ended_at', 'is', null).execute()).length === 0,
    10_000,
    'every lease to end',
  );
  const droppedLease = await tb.ctx.db.selectFrom('leases').selectAll().where('job', '=', dropped!).executeTakeFirstOrThrow();
  assert.is(droppedLease.end_reason, 'job-ended');
  for (const d of devices) assert.is(tb.ctx.bindings.agentOf(d.id), null, `${d.id} is free in the binding map`);

  await expectFifo(tb.ctx.db, loc);
  const { tagged, noisy } = expectEntitledMessages(agents, new Map(rows.map((r: any) => [r.id as string, r.agent as string])));
  assert.ok(tagged > 0 && noisy > 0, `agents received device messages while they held them (${tagged} job events, ${noisy} noise)`);
  await dropper.reconnect();
});

s.run();
