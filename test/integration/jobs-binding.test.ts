// Jobs and binding changes: a transfer cancels the previous agent's jobs with UNBOUND and the
// new agent's first job runs next; a held payment QR reserves the device (release and transfer
// refused with RESERVED) until it is completed, and an admin may force, audited.
import * as assert from 'uvu/assert';
import type { BindingChange } from '../../broker/store/bindings';
import { request } from '../helpers/broker';
import { type Agent, type Watch, identify, jobIn, jobSuite, submitOk, watchJobs } from '../helpers/jobs';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('jobs: binding changes and reservations', { jobAckTimeoutMs: 200 });
const agent = (): Promise<Agent> => env.agent();
const watch = (): Promise<Watch> => env.watch({ mode: 'hold', durationMs: 10 });

const heldQr = (device: string) => ({
  device,
  kind: 'qr.show',
  params: { text: 'https://pay.example/i/123', caption: 'Order 123', amount: 12.5, currency: 'EUR', hold: true },
});

s("a transfer during queued work cancels the old agent's jobs with UNBOUND; the new agent's first job runs next", async () => {
  const w = await watch();
  const a1 = await submitOk(w.agent, identify(w.device.id));
  const a2 = await submitOk(w.agent, identify(w.device.id));
  const a3 = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(a1), 5000, 'the first job running');
  w.device.mode = 'run';
  const b = await agent();
  const moved = await env.tb.api('POST', `/api/devices/${w.device.id}/transfer`, { agent: b.id, reason: 'shift change' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));

  for (const id of [a2, a3]) {
    const j = await jobIn(env.tb, id, ['cancelled'], w.agent.token);
    assert.is(j.error.code, 'UNBOUND');
  }
  const running = await jobIn(env.tb, a1, ['cancelled'], w.agent.token);
  assert.is(running.error.code, 'UNBOUND');
  assert.ok(
    w.device.cmds.some((c) => c.job === a1 && c.cancel === true),
    "the device was told to stop the old agent's job",
  );

  const bSnapshots = await watchJobs(b, w.device.id);
  const b1 = await submitOk(b, identify(w.device.id));
  await jobIn(env.tb, b1, ['done'], b.token);
  assert.equal(w.device.runs, [a1, b1], "after the old agent's job was stopped, the new agent's job ran next");
  assert.not.ok(
    w.device.cmds.some((c) => c.job === a2 || c.job === a3),
    "the old agent's queued jobs never reached the device",
  );
  for (const x of bSnapshots) {
    for (const j of x.jobs) assert.is(j.agent, b.id);
    for (const e of x.ended ?? []) assert.ok(![a1, a2, a3].includes(e.job), "the new agent never sees the old agent's jobs");
  }
  const seenByOld = w.snapshots.flatMap((x) => [...x.jobs.map((j) => j.job), ...(x.ended ?? []).map((e) => e.job)]);
  assert.not.ok(seenByOld.includes(b1), "the old agent no longer receives the device's queue");
  const theirs = await request(b.client, { kind: 'agent', id: b.id }, { op: 'cancel', job: a2 });
  assert.is(theirs.error.code, 'NOT_FOUND');
  const oldView = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'jobs', device: w.device.id });
  assert.equal(
    oldView.result.jobs.map((j: any) => [j.job, j.state]).sort(),
    [
      [a1, 'cancelled'],
      [a2, 'cancelled'],
      [a3, 'cancelled'],
    ].sort(),
    'the old agent can still see how its jobs ended',
  );
});

s("a new holder that subscribes before the device's queue has caught up with the transfer gets an empty snapshot, never the old agent's jobs", async () => {
  const w = await watch();
  const old = [await submitOk(w.agent, identify(w.device.id)), await submitOk(w.agent, identify(w.device.id))];
  await waitUntil(() => w.snapshots.some((x) => x.jobs.length === 2), 5000, "the old agent's two jobs in the retained snapshot");
  // A slow step (a loaded disk) ahead of the transfer's step in the device's order: the queue
  // cannot publish its new snapshot until the new holder has subscribed.
  const { engine } = env.tb.ctx.jobs;
  let release = (): void => {};
  const slow = new Promise<void>((resolve) => (release = resolve));
  const holdQueue = (change: BindingChange): void => {
    if (change.device !== w.device.id) return;
    env.tb.ctx.events.off('binding', holdQueue);
    engine.run(engine.queue(w.device.id), () => slow).catch((err: unknown) => assert.unreachable(String(err)));
  };
  env.tb.ctx.events.prependListener('binding', holdQueue);
  const b = await agent();
  try {
    const moved = await env.tb.api('POST', `/api/devices/${w.device.id}/transfer`, { agent: b.id, reason: 'shift change' });
    assert.is(moved.status, 200, JSON.stringify(moved.body));
    const seen = await watchJobs(b, w.device.id);
    await waitUntil(() => seen.length > 0, 5000, 'the retained snapshot for the new holder');
    assert.equal(seen[0]!.jobs, [], "the retained snapshot the new holder got first lists none of the old agent's jobs");
  } finally {
    release();
  }
  for (const id of old) assert.is((await jobIn(env.tb, id, ['cancelled'], w.agent.token)).error.code, 'UNBOUND');
});

s('a held qr.show reserves the device: release and transfer are refused with RESERVED until it is completed', async () => {
  const w = await watch();
  const qr = await submitOk(w.agent, heldQr(w.device.id));
  await waitUntil(() => w.device.isRunning(qr), 5000, 'the QR on the device');
  assert.is((await env.tb.api('GET', `/api/devices/${w.device.id}`)).body.reservedByJob, qr);

  const release = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.is(release.ok, false);
  assert.is(release.error.code, 'RESERVED');
  const b = await agent();
  const transfer = await env.tb.api('POST', `/api/devices/${w.device.id}/transfer`, { agent: b.id, reason: 'try' });
  assert.is(transfer.status, 409);
  assert.is(transfer.body.error.code, 'RESERVED');
  assert.is(env.tb.ctx.bindings.agentOf(w.device.id), w.agent.id);

  const stranger = await agent();
  assert.is((await env.tb.api('POST', `/api/jobs/${qr}/complete`, undefined, stranger.token)).status, 404);
  const completed = await env.tb.api('POST', `/api/jobs/${qr}/complete`, undefined, w.agent.token);
  assert.is(completed.status, 200, JSON.stringify(completed.body));
  const done = await jobIn(env.tb, qr, ['done'], w.agent.token);
  assert.equal(done.result, { paid: true });
  assert.ok(
    w.device.cmds.some((c) => c.job === qr && c.complete === true),
    'the device was told the QR is paid',
  );
  assert.is((await env.tb.api('GET', `/api/devices/${w.device.id}`)).body.reservedByJob, null);
  const again = await env.tb.api('POST', `/api/jobs/${qr}/complete`, undefined, w.agent.token);
  assert.is(again.status, 200, 'a payment backend repeating its confirmation is harmless');

  const moved = await env.tb.api('POST', `/api/devices/${w.device.id}/transfer`, { agent: b.id, reason: 'paid, hand over' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  const released = await request(b.client, { kind: 'agent', id: b.id }, { op: 'release', device: w.device.id });
  assert.ok(released.ok, JSON.stringify(released));
  const audit = await env.tb.api('GET', `/api/audit?device=${w.device.id}`);
  const completion = audit.body.find((e: any) => e.action === 'job.complete');
  assert.ok(completion, 'completion is audited');
  assert.is(completion.actor, `agent:${w.agent.id}`);
  assert.equal(completion.detail, { job: qr });
});

s('a service (admin) token completes a held job; completing anything else is refused', async () => {
  const w = await watch();
  const plain = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(plain), 5000, 'identify running');
  const refused = await env.tb.api('POST', `/api/jobs/${plain}/complete`);
  assert.is(refused.status, 409);
  assert.is(refused.body.error.code, 'CONFLICT');
  await w.device.ack({ job: plain, state: 'done' });
  const qr = await submitOk(w.agent, heldQr(w.device.id));
  await waitUntil(() => w.device.isRunning(qr), 5000, 'the QR on the device');
  const completed = await env.tb.api('POST', `/api/jobs/${qr}/complete`);
  assert.is(completed.status, 200, JSON.stringify(completed.body));
  await jobIn(env.tb, qr, ['done']);
});

s('an admin may force a release of a reserved device: audited, and the held job is cancelled', async () => {
  const w = await watch();
  const qr = await submitOk(w.agent, heldQr(w.device.id));
  await waitUntil(() => w.device.isRunning(qr), 5000, 'the QR on the device');
  const forced = await env.tb.api('POST', `/api/devices/${w.device.id}/release`, { reason: 'customer left', force: true });
  assert.is(forced.status, 200, JSON.stringify(forced.body));
  const job = await jobIn(env.tb, qr, ['cancelled'], w.agent.token);
  assert.is(job.error.code, 'UNBOUND');
  assert.ok(w.device.cmds.some((c) => c.job === qr && c.cancel === true));
  const audit = await env.tb.api('GET', `/api/audit?device=${w.device.id}`);
  const release = audit.body.find((e: any) => e.action === 'release');
  assert.is(release.detail.forced, true);
  assert.is(release.actor, 'admin:token');
  assert.is((await env.tb.api('GET', `/api/devices/${w.device.id}`)).body.reservedByJob, null);
});

s.run();
