// Job queues: concurrent agents each get exactly their own jobs run once, in FIFO
// order, on their own device; a full queue refuses the 21st job; positions and ETAs fall as jobs
// finish, and once there is history the ETA is within ±50 % of the real remaining time.
import * as assert from 'uvu/assert';
import type { JobsSnapshot } from '../../protocol/messages';
import { type Watch, jobIn, jobSuite, jobsWhen, submit } from '../helpers/jobs';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('jobs: FIFO and ETA');

s('three agents submit 20 jobs each at once: each runs once, on its own device, in FIFO order', async () => {
  const watches = await Promise.all([0, 1, 2].map(() => env.watch({ durationMs: 5 })));
  const texts = (w: Watch): string[] => Array.from({ length: 20 }, (_, i) => `${w.agent.id}/${i}`);
  for (const w of watches) w.agent.client.setMaxListeners(50);
  const submitted = await Promise.all(
    watches.map((w) => Promise.all(texts(w).map((text) => submit(w.agent, { device: w.device.id, kind: 'qr.show', params: { text, caption: 'order' } })))),
  );
  for (const answers of submitted) for (const r of answers) assert.ok(r.ok, JSON.stringify(r));

  for (const [i, w] of watches.entries()) {
    const ids = submitted[i]!.map((r) => r.result.job as string);
    const list = await jobsWhen(env.tb, w.device.id, (jobs) => jobs.length === 20 && jobs.every((j) => j.state === 'done'), w.agent.token, 20_000);
    assert.is(list.length, 20);
    assert.equal(w.device.runs, ids, 'ran once each, in the order submitted');
    // Time-ordered ids keep a job's index entries on the last pages (broker/jobs/store.ts, newJobId).
    assert.equal([...ids].sort(), ids, 'job ids sort in the order the broker took the jobs');
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const textOf = new Map(w.device.cmds.map((c) => [c.job, (c.params as { text: string }).text]));
    assert.equal(
      w.device.runs.map((id) => textOf.get(id)),
      texts(w),
      "the device saw its own agent's jobs in submit order",
    );
    for (const c of w.device.cmds) assert.ok(ids.includes(c.job), `device ${w.device.id} got a job that is not its agent's: ${c.job}`);
    const seen = new Set(w.snapshots.flatMap((x) => [...x.jobs.map((j) => j.job), ...(x.ended ?? []).map((e) => e.job)]));
    for (const id of seen) assert.ok(ids.includes(id), `agent ${w.agent.id} saw a job that is not its own: ${id}`);
    for (const x of w.snapshots) for (const j of x.jobs) assert.is(j.agent, w.agent.id);
  }
});

interface Sighting {
  at: number;
  position: number;
  eta: number;
}

s('a 21st job gets QUEUE_FULL; positions and ETAs fall as jobs finish, and track the real remaining time', async () => {
  const DURATION_MS = 200;
  const w = await env.watch({ mode: 'hold', durationMs: DURATION_MS });
  // A held QR keeps the device busy while the queue fills; the jobs behind it then run at a
  // steady pace. They are serial.send jobs because their params state no duration, so their ETAs
  // come from the history of real durations (docs/architecture.md, Jobs): an identify would be
  // estimated at its stated seconds, which this device does not take.
  const held = await submit(w.agent, { device: w.device.id, kind: 'qr.show', params: { text: 'pay', caption: 'hold the queue' } });
  assert.ok(held.ok, JSON.stringify(held));
  await waitUntil(() => w.device.isRunning(held.result.job), 5000, 'the QR on the device');
  w.device.mode = 'run';
  const ids: string[] = [];
  for (let i = 0; i < 19; i++) {
    const r = await submit(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'UkVBRA==', timeoutMs: 1000 } });
    assert.ok(r.ok, JSON.stringify(r));
    ids.push(r.result.job);
  }
  const full = await submit(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'UkVBRA==', timeoutMs: 1000 } });
  assert.is(full.ok, false);
  assert.is(full.error.code, 'QUEUE_FULL');
  assert.is(full.error.field, 'device');
  await w.device.ack({ job: held.result.job, state: 'done' });

  const last = ids.at(-1)!;
  await jobIn(env.tb, last, ['done'], w.agent.token, 30_000);
  const doneAt = new Map<string, number>();
  for (const id of ids) doneAt.set(id, (await jobIn(env.tb, id, ['done'], w.agent.token)).times.done);

  const sightings = new Map<string, Sighting[]>();
  for (const snap of w.snapshots as JobsSnapshot[]) {
    for (const j of snap.jobs) {
      let list = sightings.get(j.job);
      if (!list) sightings.set(j.job, (list = []));
      list.push({ at: snap.at, position: j.position, eta: j.eta });
    }
  }
  const historyFrom = doneAt.get(ids[4]!)!;
  let falls = 0;
  for (const id of ids) {
    const seen = sightings.get(id) ?? [];
    assert.ok(seen.length > 0, `job ${id} appeared in a snapshot`);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.position <= seen[i - 1]!.position, `position of ${id} rose: ${seen.map((x) => x.position).join(',')}`);
    }
    // Once a few real durations are known, a job that runs slow may nudge an estimate up by a
    // little; two places further on, the ETA has fallen by about two jobs' worth.
    const etaAt = new Map<number, number>();
    for (const x of seen) if (x.at > historyFrom && !etaAt.has(x.position)) etaAt.set(x.position, x.eta);
    for (const [position, eta] of etaAt) {
      const later = etaAt.get(position - 2);
      if (later === undefined) continue;
      assert.ok(later < eta, `eta of ${id} did not fall from position ${position} to ${position - 2}: ${seen.map((x) => `${x.position}:${x.eta}`).join(' ')}`);
      falls++;
    }
  }
  assert.ok(falls >= 20, `only ${falls} falls of an ETA could be checked`);
  // With five real durations behind it, the estimate for each waiting job is checked against when
  // it really finished.
  let checked = 0;
  for (const id of ids) {
    for (const x of sightings.get(id) ?? []) {
      if (x.at <= historyFrom || x.position < 1) continue;
      const real = doneAt.get(id)! - x.at;
      assert.ok(Math.abs(x.eta - real) <= real * 0.5, `job ${id} at position ${x.position}: eta ${x.eta} ms, really ${real} ms`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} ETAs could be checked`);
});

s.run();
