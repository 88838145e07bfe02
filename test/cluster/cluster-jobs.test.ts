// Jobs across nodes: the job scenarios (test/integration/jobs-*) with the agent and the device on different
// nodes, so every submit, cancel, completion and binding change is made on one node and carried
// out by the node that dispatches the device; and a device that moves between nodes keeps one
// dispatcher.
import * as assert from 'uvu/assert';
import { request } from '../helpers/broker';
import { type TestCluster, clusterSuite } from '../helpers/cluster';
import { JobDevice, type JobDeviceOptions } from '../helpers/job-device';
import { type Agent, type Watch, claim, identify, jobIn, jobsWhen, submit, submitOk, uniq, watchJobs } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import type { TestBroker } from '../helpers/broker';
import { waitUntil } from '../helpers/wait';

const ATTEMPTS = 3;
const heldQr = (device: string) => ({
  device,
  kind: 'qr.show',
  params: { text: 'https://pay.example/i/7', caption: 'Order 7', amount: 7, currency: 'EUR', hold: true },
});

const watches: Watch[] = [];
const agents: Agent[] = [];

/** A device on deviceNode bound to a fresh agent on the other node, watching its queue. */
async function crossWatch(cluster: TestCluster, opts: JobDeviceOptions = {}, deviceNode = 0): Promise<Watch> {
  const dev = await cluster.provision();
  const device = await JobDevice.connect(cluster.members[deviceNode]!.broker.mqttUrl, dev, opts);
  const agent = await cluster.agent(uniq('ag'), { node: 1 - deviceNode });
  await claim(agent, dev.id);
  const w = { agent, device, snapshots: await watchJobs(agent, dev.id) };
  watches.push(w);
  return w;
}

async function agentOn(cluster: TestCluster, node: number): Promise<Agent> {
  const a = await cluster.agent(uniq('ag'), { node });
  agents.push(a);
  return a;
}

const { t, on } = clusterSuite('jobs on a two-node cluster', { jobAckTimeoutMs: 200, jobAttempts: ATTEMPTS, graceMs: 1000 });
t.after.each(async () => {
  for (const w of watches.splice(0)) {
    await w.device.close();
    await end(w.agent.client);
  }
  await end(...agents.splice(0).map((a) => a.client));
});

on('three agents submit 20 jobs each to devices on the other node at once: each runs once, on its own device, in FIFO order', async (cluster) => {
  const ws = await Promise.all([0, 1, 0].map((node) => crossWatch(cluster, { durationMs: 5 }, node)));
  const texts = (w: Watch): string[] => Array.from({ length: 20 }, (_, i) => `${w.agent.id}/${i}`);
  for (const w of ws) w.agent.client.setMaxListeners(50);
  const answers = await Promise.all(
    ws.map((w) => Promise.all(texts(w).map((text) => submit(w.agent, { device: w.device.id, kind: 'qr.show', params: { text, caption: 'order' } })))),
  );
  for (const list of answers) for (const r of list) assert.ok(r.ok, JSON.stringify(r));
  for (const [i, w] of ws.entries()) {
    const ids = answers[i]!.map((r) => r.result.job as string);
    await jobsWhen(cluster, w.device.id, (jobs) => jobs.length === 20 && jobs.every((j) => j.state === 'done'), w.agent.token, 30_000);
    assert.equal(w.device.runs, ids, 'ran once each, in the order submitted');
    const textOf = new Map(w.device.cmds.map((c) => [c.job, (c.params as { text: string }).text]));
    assert.equal(
      w.device.runs.map((id) => textOf.get(id)),
      texts(w),
      "the device saw its own agent's jobs in submit order",
    );
  }
});

on('a device that drops every first cmd runs each job once; one that never acks fails with NO_ACK', async (cluster) => {
  const lossy = await crossWatch(cluster, { dropFirst: true, durationMs: 5 });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await submitOk(lossy.agent, identify(lossy.device.id)));
  for (const id of ids) assert.is((await jobIn(cluster, id, ['done'], lossy.agent.token)).attempt, 2);
  assert.equal(lossy.device.runs, ids);
  const silent = await crossWatch(cluster, { mode: 'silent' }, 1);
  const id = await submitOk(silent.agent, identify(silent.device.id));
  const failed = await jobIn(cluster, id, ['failed'], silent.agent.token);
  assert.is(failed.error.code, 'NO_ACK');
  assert.equal(
    silent.device.cmds.filter((c) => c.job === id).map((c) => c.attempt),
    [1, 2, 3],
  );
});

on(
  'a device that drops mid-job on node 1 and comes back on node 2: the idempotent job runs again there, a non-idempotent one ends interrupted',
  async (cluster) => {
    const w = await crossWatch(cluster, { mode: 'hold' });
    const again = await submitOk(w.agent, identify(w.device.id));
    await waitUntil(() => w.device.isRunning(again), 5000, 'identify running');
    // The device's 'accepted' may still be on its way: a job dropped before the broker marks it running
    // was never started, and goes back to the queue without counting a retry.
    await jobIn(cluster, again, ['running'], w.agent.token);
    await w.device.drop();
    assert.is((await jobIn(cluster, again, ['queued'], w.agent.token)).retries, 1);
    w.device.mode = 'run';
    await w.device.reconnect(true, cluster.members[1]!.broker.mqttUrl);
    await jobIn(cluster, again, ['done'], w.agent.token);
    assert.equal(w.device.runs, [again, again]);

    w.device.mode = 'hold';
    const send = await submitOk(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'aGVsbG8=', timeoutMs: 500 } });
    const next = await submitOk(w.agent, identify(w.device.id));
    await waitUntil(() => w.device.isRunning(send), 5000, 'serial.send running on node 2');
    await jobIn(cluster, send, ['running'], w.agent.token);
    await w.device.drop();
    assert.is((await jobIn(cluster, send, ['interrupted'], w.agent.token)).error.code, 'INTERRUPTED');
    w.device.mode = 'run';
    await w.device.reconnect(true, cluster.members[0]!.broker.mqttUrl);
    await jobIn(cluster, next, ['done'], w.agent.token);
    assert.equal(w.device.runs, [again, again, send, next], 'serial.send was not sent again');
  },
);

on("a transfer made on node 1 for a device dispatched by node 2 cancels the old agent's jobs with UNBOUND; the new agent's job runs next", async (cluster) => {
  const w = await crossWatch(cluster, { mode: 'hold', durationMs: 10 }, 1);
  const a1 = await submitOk(w.agent, identify(w.device.id));
  const a2 = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(a1), 5000, 'the first job running');
  w.device.mode = 'run';
  const b = await agentOn(cluster, 0);
  const moved = await cluster.members[0]!.api('POST', `/api/devices/${w.device.id}/transfer`, { agent: b.id, reason: 'shift change' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  for (const id of [a1, a2]) assert.is((await jobIn(cluster, id, ['cancelled'], w.agent.token)).error.code, 'UNBOUND');
  assert.ok(
    w.device.cmds.some((c) => c.job === a1 && c.cancel === true),
    "node 2 told the device to stop the old agent's job",
  );
  const b1 = await submitOk(b, identify(w.device.id));
  await jobIn(cluster, b1, ['done'], b.token);
  assert.equal(w.device.runs, [a1, b1]);
});

// Found by the cluster model test: the dispatcher's submit handler refuses an agent that does not
// hold the device before its first await, and that throw escaped the node's Redis reader and ended it.
on('a submit forwarded to the dispatching node by an agent that does not hold the device is refused NOT_BOUND, and that node runs on', async (cluster) => {
  const w = await crossWatch(cluster, { durationMs: 10 });
  const other = await agentOn(cluster, 1);
  const r = await submit(other, identify(w.device.id));
  assert.is(r.error?.code, 'NOT_BOUND', JSON.stringify(r));
  const id = await submitOk(w.agent, identify(w.device.id));
  await jobIn(cluster, id, ['done'], w.agent.token);
  assert.equal(w.device.runs, [id]);
});

on('a held QR on a device of node 2: release refused with RESERVED; completed over REST on node 1, the device is told and the job is done', async (cluster) => {
  const w = await crossWatch(cluster, { mode: 'hold' }, 1);
  const qr = await submitOk(w.agent, heldQr(w.device.id));
  await waitUntil(() => w.device.isRunning(qr), 5000, 'the QR on the device');
  const release = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.is(release.error?.code, 'RESERVED');
  const completed = await cluster.members[0]!.api('POST', `/api/jobs/${qr}/complete`, undefined, w.agent.token);
  assert.is(completed.status, 200, JSON.stringify(completed.body));
  assert.equal((await jobIn(cluster, qr, ['done'], w.agent.token)).result, { paid: true });
  assert.ok(
    w.device.cmds.some((c) => c.job === qr && c.complete === true),
    'the device was told the QR is paid',
  );
  const released = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.ok(released.ok, JSON.stringify(released));
});

on('a running job cancelled by its agent on the other node: the device gets the cancel and the job ends cancelled', async (cluster) => {
  const w = await crossWatch(cluster, { mode: 'hold' });
  const id = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(id), 5000, 'the job running');
  const r = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'cancel', job: id });
  assert.ok(r.ok, JSON.stringify(r));
  assert.is(r.result.pending, 'cancel');
  assert.is((await jobIn(cluster, id, ['cancelled'], w.agent.token)).error.code, 'CANCELLED');
  assert.ok(w.device.cmds.some((c) => c.job === id && c.cancel === true));
});

on('data a device on node 1 streams during a job is exported by its owner on node 2, and by nobody else', async (cluster) => {
  const w = await crossWatch(cluster, { mode: 'hold' });
  const id = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(id), 5000, 'the job running');
  await w.device.evt('weight', { grams: 12 });
  await w.device.evt('weight', { grams: 13 });
  await w.device.ack({ job: id, state: 'done' });
  await jobIn(cluster, id, ['done'], w.agent.token);
  const exported = await cluster.members[1]!.api('GET', `/api/jobs/${id}/export?format=json`, undefined, w.agent.token);
  assert.is(exported.status, 200, JSON.stringify(exported.body));
  assert.equal(
    exported.body.data.map((d: any) => JSON.parse(d.payload)),
    [{ grams: 12 }, { grams: 13 }],
  );
  const other = await agentOn(cluster, 1);
  assert.is((await cluster.members[1]!.api('GET', `/api/jobs/${id}/export?format=json`, undefined, other.token)).status, 404);
});

/**
 * Holds back every change of the node's binding map for the device except the dispatcher's own
 * look-up in the registry (JobCore.registryHolds): the binding broadcast arrives late there.
 */
function lateBroadcasts(node: TestBroker, device: string): { held(): number; restore(): void } {
  const map = node.ctx.bindings;
  const apply = map.apply.bind(map);
  let held = 0;
  map.apply = (d, agent, version) => {
    if (d === device && !new Error().stack?.includes('registryHolds')) {
      held++;
      return false;
    }
    return apply(d, agent, version);
  };
  return { held: () => held, restore: () => (map.apply = apply) };
}

// A claim or lease made on the agent's node reaches the device's node by two roads: the job-engine
// call and the binding broadcast. With the broadcast late there, a submit must not be refused
// NOT_BOUND, nor the job cancelled, because that node's map does not show the binding yet.
on("a pool job leased on the agent's node runs on the device's node although the binding broadcast there is late", async (cluster) => {
  const [deviceNode, agentNode] = cluster.members as [TestBroker, TestBroker];
  const loc = await makeLocation(deviceNode);
  const device = await poolDevice(deviceNode, loc, { durationMs: 5 });
  const late = lateBroadcasts(deviceNode, device.id);
  try {
    const agent = await agentOn(cluster, 1);
    await joinLocation(agentNode, agent.id, [loc]);
    const r = await poolSubmit(agent, loc);
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(r.result.device, device.id);
    const job = await jobIn(cluster, r.result.job as string, ['done', 'cancelled', 'failed'], agent.token);
    assert.is(job.state, 'done', JSON.stringify(job));
    assert.equal(device.runs, [r.result.job]);
    assert.ok(late.held() > 0, 'the broadcast to the device node was held back');
  } finally {
    late.restore();
    await device.close();
  }
});

on("a device claimed on the agent's node takes the agent's job although the binding broadcast at the device's node is late", async (cluster) => {
  const dev = await cluster.provision();
  const device = await JobDevice.connect(cluster.members[0]!.broker.mqttUrl, dev, { durationMs: 5 });
  const late = lateBroadcasts(cluster.members[0]!, dev.id);
  try {
    const agent = await agentOn(cluster, 1);
    await claim(agent, dev.id);
    const id = await submitOk(agent, identify(dev.id));
    assert.is((await jobIn(cluster, id, ['done'], agent.token)).state, 'done');
    assert.equal(device.runs, [id]);
    assert.ok(late.held() > 0, 'the broadcast to the device node was held back');
    const other = await agentOn(cluster, 1);
    const refused = await submit(other, identify(dev.id));
    assert.is(refused.error?.code, 'NOT_BOUND', `an agent the registry does not name is still refused: ${JSON.stringify(refused)}`);
  } finally {
    late.restore();
    await device.close();
  }
});

t.run();
