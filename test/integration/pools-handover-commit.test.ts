// When a pool job ends and another waits, one commit ends the lease, gives the device to the
// waiting job and, on a single node, starts that job on it (docs/architecture.md, Locations and
// pools): from the device's done to the next cmd there are two commits, the job's end and the
// hand-over, not three. Counted by the registry's WAL syncs, one per commit, with nothing else
// writing meanwhile (no ack timeout in the window, and a device that no longer answers by then).
// A pool submit that finds a free device likewise leases it and starts the job in the commit that
// writes them, shown by its answer and the job's times.
import * as assert from 'uvu/assert';
import { jobIn, jobSuite } from '../helpers/jobs';
import type { JobDevice } from '../helpers/job-device';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { noCommits, walSyncs } from '../helpers/commits';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('pools: the hand-over starts the next job in its commit', { jobAckTimeoutMs: 60_000 });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

const syncs = (): number => walSyncs(env.tb);

/** A pool of one device at a new location with two agents in it, the first agent's job running there. */
async function firstLeaseRunning() {
  const loc = await makeLocation(env.tb);
  const dev = await poolDevice(env.tb, loc, { mode: 'hold' });
  devices.push(dev);
  const [a, b] = [await env.agent(), await env.agent()];
  await joinLocation(env.tb, a.id, [loc]);
  await joinLocation(env.tb, b.id, [loc]);
  const first = await poolSubmit(a, loc);
  assert.ok(first.ok, JSON.stringify(first));
  await waitUntil(() => dev.isRunning(first.result.job), 10_000, "the first agent's job running on the device");
  return { loc, dev, b, first };
}

s("a device's done hands it to the waiting job, which starts in the hand-over's commit", async () => {
  const { loc, dev, b, first } = await firstLeaseRunning();
  const second = await poolSubmit(b, loc);
  assert.ok(second.ok, JSON.stringify(second));
  assert.is(second.result.device, null, 'the second job waits in the pool queue');
  assert.is(second.result.position, 1);
  // The next cmd is recorded but not accepted: an accept would be a commit of its own.
  dev.mode = 'silent';
  await noCommits(env.tb);

  const before = syncs();
  await dev.ack({ job: first.result.job, state: 'done', result: { ok: true } });
  await waitUntil(() => dev.cmds.some((c) => c.job === second.result.job), 10_000, "the second agent's cmd at the device");
  await noCommits(env.tb);
  assert.is(syncs() - before, 2, "the first job's end, then one hand-over commit that also dispatched the next job");
  assert.is(env.tb.ctx.bindings.agentOf(dev.id), b.id, 'the device went straight to the next lessee');
  const job = await jobIn(env.tb, second.result.job, ['dispatched', 'running'], b.token);
  assert.is(job.times.queued, job.times.dispatched, 'put on the device and dispatched in the same instant');
});

s('a pool submit that finds a free device leases it and starts the job in the same commit', async () => {
  // A first lease and its end leave the device's (empty) queue known to the broker.
  const { loc, dev, b, first } = await firstLeaseRunning();
  await dev.ack({ job: first.result.job, state: 'done', result: { ok: true } });
  await waitUntil(() => env.tb.ctx.bindings.agentOf(dev.id) === null, 10_000, 'the first lease ended');
  dev.mode = 'silent';

  // The answer is made right after the submit's commit; a dispatch in a commit of its own follows
  // that commit's disk sync, so it comes after the answer and records a later instant than the
  // job's insert. (Not a count of commits: on a loaded machine a write of the first lease's
  // aftermath can still land in the window.)
  const second = await poolSubmit(b, loc);
  assert.ok(second.ok, JSON.stringify(second));
  assert.is(second.result.device, dev.id);
  assert.is(second.result.state, 'dispatched', 'the answer finds the job already on its way');
  await waitUntil(() => dev.cmds.some((c) => c.job === second.result.job), 10_000, "the second agent's cmd at the device");
  const job = await jobIn(env.tb, second.result.job, ['dispatched', 'running'], b.token);
  assert.is(job.times.queued, job.times.dispatched, 'put on the device and dispatched in the same instant');
});

s.run();
