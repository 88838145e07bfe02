// A job submitted to a free device is written and dispatched in one commit, so it waits for one
// disk sync, not two, before its cmd goes out (docs/architecture.md, Jobs). Behind a busy slot it
// is only queued, and goes out when the slot frees. A device's accepted and its final word sent
// together share one commit too. Counted by the registry's WAL syncs, one per commit, with nothing
// else writing meanwhile (a silent device and no ack timeout in the window). A closed device's
// presence changes are written too: with a short grace the previous test's device is offline
// before a test starts counting, rather than going offline (and committing) inside its window.
import * as assert from 'uvu/assert';
import { identify, jobIn, jobSuite, submit } from '../helpers/jobs';
import { noCommits, walSyncs } from '../helpers/commits';
import { deviceTopic } from '../../protocol/topics';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('jobs: dispatch in the submit commit', { jobAckTimeoutMs: 60_000, graceMs: 50 });

const syncs = (): number => walSyncs(env.tb);

s('a submit to a free device commits once and the cmd goes out; a submit behind it only queues', async () => {
  const w = await env.watch({ mode: 'silent' });
  await noCommits(env.tb);
  const before = syncs();
  const first = await submit(w.agent, identify(w.device.id));
  assert.ok(first.ok, JSON.stringify(first));
  assert.is(first.result.state, 'dispatched');
  assert.is(syncs() - before, 1, 'the insert and the dispatch shared one commit');
  await waitUntil(() => w.device.cmds.length === 1, 5000, 'the cmd at the device');
  assert.is(w.device.cmds[0]!.job, first.result.job);

  const middle = syncs();
  const second = await submit(w.agent, identify(w.device.id));
  assert.ok(second.ok, JSON.stringify(second));
  assert.is(second.result.state, 'queued');
  assert.is(second.result.position, 1);
  assert.is(syncs() - middle, 1);
  const job = await jobIn(env.tb, first.result.job, ['dispatched'], w.agent.token);
  assert.is(job.times.queued, job.times.dispatched, 'queued and dispatched in the same instant');
  assert.is(w.device.cmds.length, 1, 'the second job waits for the slot');
});

s('accepted and done sent together are written in one commit, and the snapshot shows the job done', async () => {
  const w = await env.watch({ mode: 'silent' });
  const job = (await submit(w.agent, identify(w.device.id))).result.job as string;
  await waitUntil(() => w.device.cmds.length === 1, 5000, 'the cmd at the device');
  await noCommits(env.tb);
  const before = syncs();
  // One TCP write, at QoS 0 as a board sends them, as a device that finishes at once does.
  const { client } = w.device;
  client.stream.cork();
  for (const state of ['accepted', 'done']) client.publish(deviceTopic(w.device.id, 'ack'), JSON.stringify({ job, state }), { qos: 0 });
  process.nextTick(() => client.stream.uncork());
  await waitUntil(() => w.snapshots.some((snap) => snap.ended?.some((e) => e.job === job && e.state === 'done')), 5000, 'a snapshot with the job done');
  await noCommits(env.tb);
  assert.is(syncs() - before, 1, 'running and done shared one commit');
  const view = await jobIn(env.tb, job, ['done'], w.agent.token);
  assert.ok(view.times.running !== undefined && view.times.done !== undefined, JSON.stringify(view.times));
});

s.run();
