// Job delivery over QoS 0. A device that loses every first cmd still runs each
// job exactly once (resend with attempt+1, device-side dedupe); a device that never answers fails
// the job with NO_ACK after the configured number of attempts, and the queue moves on.
import * as assert from 'uvu/assert';
import { identify, jobIn, jobSuite, submitOk } from '../helpers/jobs';
import { metric } from '../helpers/metrics';

const ATTEMPTS = 3;
const { s, env } = jobSuite('jobs: delivery', { jobAckTimeoutMs: 100, jobAttempts: ATTEMPTS });

s('a device that drops every first cmd still runs each job once', async () => {
  const w = await env.watch({ dropFirst: true, durationMs: 5 });
  const retriesBefore = metric((await env.tb.api('GET', '/metrics')).body, 'fleetbind_job_ack_retries_total');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await submitOk(w.agent, identify(w.device.id)));
  for (const id of ids) {
    const job = await jobIn(env.tb, id, ['done'], w.agent.token);
    assert.is(job.attempt, 2, 'the second send was accepted');
  }
  assert.equal(w.device.runs, ids, 'each job ran once, in order');
  for (const id of ids) {
    assert.equal(
      w.device.cmds.filter((c) => c.job === id).map((c) => c.attempt),
      [1, 2],
      `sends of ${id}`,
    );
  }
  const retries = metric((await env.tb.api('GET', '/metrics')).body, 'fleetbind_job_ack_retries_total') - retriesBefore;
  assert.is(retries, 5, 'one resend per job');
});

s('a device that never acks fails the job with NO_ACK after the configured attempts', async () => {
  const w = await env.watch({ mode: 'silent' });
  const first = await submitOk(w.agent, identify(w.device.id));
  const second = await submitOk(w.agent, identify(w.device.id));
  const failed = await jobIn(env.tb, first, ['failed'], w.agent.token);
  assert.is(failed.error.code, 'NO_ACK');
  assert.is(failed.attempt, ATTEMPTS);
  assert.equal(
    w.device.cmds.filter((c) => c.job === first).map((c) => c.attempt),
    [1, 2, 3],
  );
  // The queue moves on to the next job, which meets the same silence.
  const next = await jobIn(env.tb, second, ['failed'], w.agent.token);
  assert.is(next.error.code, 'NO_ACK');
  assert.ok(next.times.dispatched >= failed.times.failed, 'the second job left the queue after the first one failed');
  const history = await env.tb.api('GET', `/api/jobs/${first}/export?format=json`, undefined, w.agent.token);
  assert.equal(
    history.body.history.map((h: any) => h.event),
    ['queued', 'dispatched', 'resent', 'resent', 'failed'],
  );
});

s.run();
