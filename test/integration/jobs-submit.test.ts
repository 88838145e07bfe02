// Submit, its refusals (nothing queued), idempotency keys, cancel of queued and running jobs, the
// stored lifecycle and the job metrics, against a real broker with mqtt.js agents and devices.
import * as assert from 'uvu/assert';
import { request } from '../helpers/broker';
import type { JobDeviceOptions } from '../helpers/job-device';
import { type Watch, cancel, identify, jobIn, jobSuite, submit, submitOk } from '../helpers/jobs';
import { metric } from '../helpers/metrics';
import { jobsDb } from '../../broker/jobs/schema';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('jobs: submit and cancel', { queueCap: 3, jobAckTimeoutMs: 200, jobAttempts: 3 });
const watch = (opts: JobDeviceOptions = {}): Promise<Watch> => env.watch(opts);

async function openJobs(w: Watch): Promise<any[]> {
  const r = await env.tb.api('GET', `/api/jobs?device=${w.device.id}`);
  return r.body.filter((j: any) => ['queued', 'dispatched', 'running'].includes(j.state));
}

s('a job runs on the device and its lifecycle is stored with a time for each state', async () => {
  const w = await watch({ durationMs: 30 });
  const r = await submit(w.agent, identify(w.device.id));
  assert.ok(r.ok, JSON.stringify(r));
  assert.type(r.result.job, 'string');
  assert.type(r.result.eta, 'number');
  assert.ok(r.result.position === 0 || r.result.position === 1, `position ${r.result.position}`);
  const job = await jobIn(env.tb, r.result.job, ['done'], w.agent.token);
  assert.equal(w.device.runs, [r.result.job]);
  assert.is(w.device.cmds[0]!.kind, 'identify');
  assert.equal(w.device.cmds[0]!.params, { seconds: 1 });
  assert.is(w.device.cmds[0]!.attempt, 1);
  for (const state of ['queued', 'dispatched', 'running', 'done']) assert.type(job.times[state], 'number', state);
  assert.ok(job.times.queued <= job.times.dispatched && job.times.dispatched <= job.times.running && job.times.running <= job.times.done);
  assert.equal(job.result, { ok: true });
  const ended = await waitUntil(() => w.snapshots.flatMap((x) => x.ended ?? []).find((e) => e.job === r.result.job), 5000, 'the done job in a snapshot');
  assert.is(ended.state, 'done');
});

s('refusals name the problem and queue nothing: NOT_BOUND, UNSUPPORTED, BAD_PARAMS, QUEUE_FULL', async () => {
  const w = await watch({ mode: 'hold', caps: ['identify'] });
  const other = await watch();
  const expectRefused = async (body: Record<string, unknown>, code: string, field?: string): Promise<void> => {
    const r = await submit(w.agent, body);
    assert.is(r.ok, false, JSON.stringify(r));
    assert.is(r.error.code, code, JSON.stringify(r.error));
    if (field !== undefined) assert.is(r.error.field, field, JSON.stringify(r.error));
    assert.ok(r.error.message.length > 0);
  };
  await expectRefused(identify(other.device.id), 'NOT_BOUND', 'device');
  await expectRefused(identify('esp32-000000000000'), 'NOT_BOUND', 'device');
  await expectRefused({ device: w.device.id, kind: 'reboot', params: {} }, 'UNSUPPORTED', 'kind');
  // Known kind, but this device announced only identify.
  await expectRefused({ device: w.device.id, kind: 'qr.show', params: { text: 'x', caption: 'y' } }, 'UNSUPPORTED', 'kind');
  await expectRefused({ device: w.device.id, kind: 'identify', params: { seconds: 0 } }, 'BAD_PARAMS', 'seconds');
  await expectRefused({ device: w.device.id, kind: 'identify', params: {} }, 'BAD_PARAMS', 'seconds');
  assert.equal(await openJobs(w), [], 'nothing was queued by the refusals');
  assert.equal(await openJobs(other), []);

  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await submitOk(w.agent, identify(w.device.id)));
  await expectRefused(identify(w.device.id), 'QUEUE_FULL', 'device');
  assert.equal((await openJobs(w)).map((j) => j.job).sort(), [...ids].sort(), 'the cap counts the job on the device too; nothing more was queued');
  const text = (await env.tb.api('GET', '/metrics')).body as string;
  assert.ok(metric(text, 'fleetbind_jobs_submitted_total', { outcome: 'QUEUE_FULL' }) >= 1);
  assert.ok(metric(text, 'fleetbind_jobs_submitted_total', { outcome: 'NOT_BOUND' }) >= 2);
});

s("over-cap submits are refused before any write: the queue's sequence does not move, and the cap still holds after jobs end", async () => {
  const w = await watch({ mode: 'hold', caps: ['identify'] });
  const db = jobsDb(env.tb.broker.ctx.db);
  const nextSeq = async (): Promise<number> =>
    Number((await db.selectFrom('job_queues').select('next_seq').where('device', '=', w.device.id).executeTakeFirstOrThrow()).next_seq);
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await submitOk(w.agent, identify(w.device.id)));
  const seq = await nextSeq();
  for (let i = 0; i < 5; i++) {
    const r = await submit(w.agent, identify(w.device.id));
    assert.is(r.error?.code, 'QUEUE_FULL', JSON.stringify(r));
  }
  assert.is(await nextSeq(), seq, 'refused submits wrote nothing');
  // One ends: exactly one more fits.
  const c = await cancel(w.agent, ids[2]!);
  assert.ok(c.ok, JSON.stringify(c));
  await submitOk(w.agent, identify(w.device.id));
  assert.is((await submit(w.agent, identify(w.device.id))).error?.code, 'QUEUE_FULL');
  assert.is((await openJobs(w)).length, 3);
});

s('the same idempotencyKey from the same agent returns the same job; another agent gets its own', async () => {
  const w = await watch({ mode: 'hold' });
  const first = await submit(w.agent, identify(w.device.id, { idempotencyKey: 'order-17' }));
  const again = await submit(w.agent, identify(w.device.id, { idempotencyKey: 'order-17' }));
  assert.ok(first.ok && again.ok);
  assert.is(again.result.job, first.result.job);
  assert.is((await openJobs(w)).length, 1);
  const clash = await submit(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'AA==', timeoutMs: 100 }, idempotencyKey: 'order-17' });
  assert.is(clash.ok, false);
  assert.is(clash.error.code, 'CONFLICT');
  assert.is(clash.error.field, 'idempotencyKey');

  const other = await watch({ mode: 'hold' });
  const theirs = await submit(other.agent, identify(other.device.id, { idempotencyKey: 'order-17' }));
  assert.ok(theirs.ok);
  assert.is.not(theirs.result.job, first.result.job);
});

s('cancel: a queued job leaves the queue and positions shift; a running one is cancelled on the device', async () => {
  const w = await watch({ mode: 'hold' });
  const a = await submitOk(w.agent, identify(w.device.id));
  const b = await submitOk(w.agent, identify(w.device.id));
  const c = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(a), 5000, 'the first job running');
  const before = await waitUntil(
    () => {
      const last = w.snapshots.at(-1);
      return last && last.jobs.length === 3 && last.jobs.find((j) => j.job === a)?.state === 'running' ? last : undefined;
    },
    5000,
    'a snapshot with three jobs',
  );
  assert.equal(
    before.jobs.map((j) => [j.job, j.position]),
    [
      [a, 0],
      [b, 1],
      [c, 2],
    ],
  );

  const rb = await cancel(w.agent, b);
  assert.ok(rb.ok, JSON.stringify(rb));
  assert.is(rb.result.state, 'cancelled');
  const after = await waitUntil(
    () => {
      const last = w.snapshots.at(-1);
      return last && last.jobs.length === 2 ? last : undefined;
    },
    5000,
    'a snapshot without the cancelled job',
  );
  assert.equal(
    after.jobs.map((j) => [j.job, j.position]),
    [
      [a, 0],
      [c, 1],
    ],
  );
  assert.ok(after.ended?.some((e) => e.job === b && e.state === 'cancelled'));

  const ra = await cancel(w.agent, a);
  assert.ok(ra.ok);
  assert.is(ra.result.pending, 'cancel');
  const cancelled = await jobIn(env.tb, a, ['cancelled'], w.agent.token);
  assert.is(cancelled.error.code, 'CANCELLED');
  assert.ok(
    w.device.cmds.some((cmd) => cmd.job === a && cmd.cancel === true),
    'the device got a cancel cmd',
  );
  assert.not.ok(w.device.isRunning(a));
  await waitUntil(() => w.device.isRunning(c), 5000, 'the next job running after the cancel');
  assert.not.ok(w.device.runs.includes(b), 'the cancelled queued job never reached the device');

  const stranger = await watch();
  const notTheirs = await cancel(stranger.agent, c);
  assert.is(notTheirs.error.code, 'NOT_FOUND');
  const again = await cancel(w.agent, b);
  assert.ok(again.ok, 'cancelling a cancelled job again is harmless');
  const late = await cancel(w.agent, 'no-such-job');
  assert.is(late.error.code, 'NOT_FOUND');
});

s("jobs op lists the caller's jobs on a device with positions", async () => {
  const w = await watch({ mode: 'hold' });
  const a = await submitOk(w.agent, identify(w.device.id));
  const b = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(a), 5000, 'the first job running');
  const r = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'jobs', device: w.device.id });
  assert.ok(r.ok);
  const byId = new Map(r.result.jobs.map((j: any) => [j.job, j]));
  assert.is((byId.get(a) as any).position, 0);
  assert.is((byId.get(b) as any).position, 1);
  assert.ok((byId.get(b) as any).eta > (byId.get(a) as any).eta);
});

s('metrics: jobs by final state, dispatch latency, ack retries and queue depth', async () => {
  const w = await watch({ durationMs: 5, dropFirst: true });
  const id = await submitOk(w.agent, identify(w.device.id));
  await jobIn(env.tb, id, ['done']);
  const text = (await env.tb.api('GET', '/metrics')).body as string;
  assert.ok(metric(text, 'fleetbind_jobs_finished_total', { state: 'done' }) >= 1);
  assert.ok(metric(text, 'fleetbind_job_ack_retries_total') >= 1);
  assert.ok(metric(text, 'fleetbind_job_dispatch_latency_seconds_count') >= 1);
  assert.ok(metric(text, 'fleetbind_job_queue_depth_count') >= 1);
});

s.run();
