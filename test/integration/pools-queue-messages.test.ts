// The pool.queue messages an agent hears while its job waits (docs/architecture.md, Locations and
// pools): where its job stands after each change, at most one message per location each
// --pool-queue-every-ms however fast the queue moves, and always the last state once it settles;
// a job that leaves through pool.assigned needs no `jobs: []` after it, one cancelled by its agent gets one.
import * as assert from 'uvu/assert';
import { cancel, jobSuite } from '../helpers/jobs';
import type { JobDevice } from '../helpers/job-device';
import { recorder } from '../helpers/mqtt';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { waitUntil } from '../helpers/wait';

const EVERY_MS = 400;
const { s, env } = jobSuite('pools: pool.queue messages', { poolQueueEveryMs: EVERY_MS });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

s('a waiting agent hears its place after each change, one message per interval at most, and the last place once the queue settles', async () => {
  const loc = await makeLocation(env.tb);
  const dev = await poolDevice(env.tb, loc, { mode: 'hold' });
  devices.push(dev);
  const ags = [];
  for (let i = 0; i < 4; i++) {
    const a = await env.agent();
    await joinLocation(env.tb, a.id, [loc]);
    ags.push(a);
  }
  const last = ags[3]!;
  const heard = recorder(last.client);
  const places = (): { at: number; jobs: { job: string; position: number }[] }[] =>
    heard.map((m) => m.json as any).filter((b) => b?.event === 'pool.queue' && b.location === loc);

  const jobs: string[] = [];
  for (const a of ags) {
    const r = await poolSubmit(a, loc);
    assert.ok(r.ok, JSON.stringify(r));
    jobs.push(r.result.job);
  }
  const mine = jobs[3]!;
  await waitUntil(() => places().some((p) => p.jobs[0]?.job === mine && p.jobs[0].position === 3), 10_000, 'the last agent to hear it is third');

  // The device finishes two jobs back to back: the queue moves twice within the interval.
  for (const job of jobs.slice(0, 2)) {
    await waitUntil(() => dev.isRunning(job), 10_000, `job ${job} on the device`);
    await dev.ack({ job, state: 'done', result: {} });
  }
  await waitUntil(() => places().at(-1)?.jobs[0]?.position === 1, 10_000, 'the last agent to hear it is next');

  const heardPlaces = places();
  assert.ok(heardPlaces.length >= 2, `it heard its place more than once (${JSON.stringify(heardPlaces)})`);
  for (const p of heardPlaces)
    assert.equal(
      p.jobs.map((j) => j.job),
      [mine],
      'an agent hears of its own jobs only',
    );
  for (let i = 1; i < heardPlaces.length; i++) {
    const gap = heardPlaces[i]!.at - heardPlaces[i - 1]!.at;
    // `at` is in whole milliseconds.
    assert.ok(gap >= EVERY_MS - 1, `messages ${i - 1} and ${i} are ${gap} ms apart, under the ${EVERY_MS} ms interval`);
  }
  const positions = heardPlaces.map((p) => p.jobs[0]!.position);
  assert.equal([...positions].sort().reverse(), positions, `its place only moves forward (${positions})`);

  await waitUntil(() => dev.isRunning(jobs[2]!), 10_000, 'the third job on the device');
  await dev.ack({ job: jobs[2]!, state: 'done', result: {} });
  await waitUntil(() => dev.isRunning(mine), 10_000, "the last agent's job on the device");
  const assignedAt = (): number => heard.findIndex((m) => (m.json as any)?.event === 'pool.assigned' && (m.json as any).job === mine);
  await waitUntil(() => assignedAt() >= 0, 10_000, 'the last agent to hear that a device took its job');
  // pool.assigned said the job left the queue: no `jobs: []` follows it, even once the interval has passed.
  await new Promise((r) => setTimeout(r, 3 * EVERY_MS));
  const after = heard.slice(assignedAt()).filter((m) => (m.json as any)?.event === 'pool.queue');
  assert.equal(after, [], 'no pool.queue after pool.assigned');
  await dev.ack({ job: mine, state: 'done', result: {} });
});

s('an agent that cancels its waiting job hears its place in the queue go empty', async () => {
  const loc = await makeLocation(env.tb);
  const dev = await poolDevice(env.tb, loc, { mode: 'hold' });
  devices.push(dev);
  const [holder, waiter] = [await env.agent(), await env.agent()];
  for (const a of [holder, waiter]) await joinLocation(env.tb, a.id, [loc]);
  const heard = recorder(waiter.client);
  const places = (): { jobs: { job: string }[] }[] => heard.map((m) => m.json as any).filter((b) => b?.event === 'pool.queue' && b.location === loc);
  const held = await poolSubmit(holder, loc);
  assert.ok(held.ok, JSON.stringify(held));
  const waiting = await poolSubmit(waiter, loc);
  assert.is(waiting.result.state, 'queued', JSON.stringify(waiting));
  await waitUntil(() => places().some((p) => p.jobs[0]?.job === waiting.result.job), 10_000, 'the waiting agent to hear its place');
  const r = await cancel(waiter, waiting.result.job);
  assert.ok(r.ok, JSON.stringify(r));
  await waitUntil(() => places().at(-1)?.jobs.length === 0, 10_000, 'the waiting agent to hear that its job left the queue');
  await dev.ack({ job: held.result.job, state: 'done', result: {} });
});

s.run();
