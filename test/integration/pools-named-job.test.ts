// A job that names a leased pool device by its id keeps the lease while it is unfinished and ends
// it when it ends, as a pool job does. On a single node the broker knows from memory which devices
// are in pool mode (only those can be leased), so a job on an owned device ends with no read; that
// knowledge must follow a device switched to pool mode after it was first read. The pool sweep,
// which would end such a lease anyway, is slowed down here so that it cannot hide a miss.
import * as assert from 'uvu/assert';
import { type Agent, claim, jobIn, jobSuite, submitOk } from '../helpers/jobs';
import { JobDevice } from '../helpers/job-device';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('pools: a job that names a leased device', { jobSweepMs: 600_000 });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

const leaseOf = (device: string): string | null => env.tb.ctx.bindings.agentOf(device);

async function ownedJobDone(a: Agent): Promise<void> {
  const dev = await env.tb.provision();
  const d = await JobDevice.connect(env.tb.broker.mqttUrl, dev, { durationMs: 10 });
  devices.push(d);
  await claim(a, dev.id);
  const job = await submitOk(a, { device: dev.id, kind: 'identify', params: { seconds: 1 } });
  await jobIn(env.tb, job, ['done'], a.token);
  assert.is(leaseOf(dev.id), a.id, 'a job on an owned device leaves its claim alone');
}

s('a named job on a device switched to pool mode after the broker read the pool devices ends the lease when it ends', async () => {
  const a = await env.agent();
  // The first named job that ends has the broker read which devices are in pool mode.
  await ownedJobDone(a);

  const loc = await makeLocation(env.tb);
  const dev = await poolDevice(env.tb, loc, { mode: 'hold' });
  devices.push(dev);
  await joinLocation(env.tb, a.id, [loc]);
  const pooled = await poolSubmit(a, loc);
  assert.ok(pooled.ok, JSON.stringify(pooled));
  assert.is(pooled.result.device, dev.id);
  assert.is(leaseOf(dev.id), a.id);

  // While leased, the device is the agent's: a job may name it, and it keeps the lease.
  const named = await submitOk(a, { device: dev.id, kind: 'identify', params: { seconds: 1 } });
  await waitUntil(() => dev.isRunning(pooled.result.job), 10_000, 'the pool job on the device');
  await dev.ack({ job: pooled.result.job, state: 'done', result: { ok: true } });
  await waitUntil(() => dev.isRunning(named), 10_000, 'the named job on the device');
  assert.is(leaseOf(dev.id), a.id, 'the lease holds while the named job is unfinished');

  await dev.ack({ job: named, state: 'done', result: { ok: true } });
  await jobIn(env.tb, named, ['done'], a.token);
  await waitUntil(() => leaseOf(dev.id) === null, 10_000, 'the lease to end with the named job');
  const leases = await env.tb.api('GET', `/api/leases?location=${loc}&ended=true`);
  assert.equal(
    leases.body.map((l: any) => [l.device, l.agent, l.endReason]),
    [[dev.id, a.id, 'job-ended']],
  );
});

s.run();
