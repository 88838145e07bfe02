// Jobs of devices that go offline. A running job of an idempotent kind goes back to
// the head of the queue and runs again on reconnect; a non-idempotent one ends `interrupted`;
// queued jobs wait for the device and expire at their TTL. Each drop waits until the broker has the job
// running: one dropped before its 'accepted' arrived was never started and goes back without a retry.
import * as assert from 'uvu/assert';
import { type Watch, identify, jobIn, jobSuite, submit, submitOk, waitNotOnline } from '../helpers/jobs';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('jobs: offline devices', { jobAckTimeoutMs: 200, jobSweepMs: 100 });

const watch = (mode: 'hold' | 'run'): Promise<Watch> => env.watch({ mode, durationMs: 10 });

s('an idempotent job running when its device drops runs again on reconnect', async () => {
  const w = await watch('hold');
  const id = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(id), 5000, 'the job running');
  await jobIn(env.tb, id, ['running'], w.agent.token);
  await w.device.drop();
  const requeued = await jobIn(env.tb, id, ['queued'], w.agent.token);
  assert.type(requeued.times.interrupted, 'number');
  assert.is(requeued.retries, 1);
  assert.is(requeued.position, 1, 'back at the head of the queue');
  w.device.mode = 'run';
  await w.device.reconnect(true);
  const done = await jobIn(env.tb, id, ['done'], w.agent.token);
  assert.equal(w.device.runs, [id, id], 'it ran again after the reconnect');
  assert.equal(
    w.device.cmds.filter((c) => c.job === id).map((c) => c.attempt),
    [1, 2],
  );
  assert.ok(done.times.done > done.times.interrupted);
});

s('a device that reconnects with its job still running is simply told again, and the job finishes once', async () => {
  const w = await watch('hold');
  const id = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(id), 5000, 'the job running');
  await jobIn(env.tb, id, ['running'], w.agent.token);
  await w.device.drop();
  await jobIn(env.tb, id, ['queued'], w.agent.token);
  await w.device.reconnect(false);
  await waitUntil(() => w.device.cmds.filter((c) => c.job === id).length === 2, 5000, 'the cmd sent again');
  await w.device.ack({ job: id, state: 'done' });
  await jobIn(env.tb, id, ['done'], w.agent.token);
  assert.equal(w.device.runs, [id], 'the device deduped the resend');
});

s('a non-idempotent job running when its device drops ends interrupted and is not run again', async () => {
  const w = await watch('hold');
  const send = await submitOk(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'aGVsbG8=', timeoutMs: 500 } });
  const next = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(send), 5000, 'serial.send running');
  await jobIn(env.tb, send, ['running'], w.agent.token);
  await w.device.drop();
  const interrupted = await jobIn(env.tb, send, ['interrupted'], w.agent.token);
  assert.is(interrupted.error.code, 'INTERRUPTED');
  assert.type(interrupted.times.interrupted, 'number');
  w.device.mode = 'run';
  await w.device.reconnect(true);
  await jobIn(env.tb, next, ['done'], w.agent.token);
  assert.equal(w.device.runs, [send, next], 'serial.send was not sent again');
  assert.equal(w.device.cmds.filter((c) => c.job === send).length, 1);
});

s('queued jobs wait while the device is offline, and expire at their TTL', async () => {
  const w = await watch('run');
  await w.device.drop();
  await waitNotOnline(env.tb, w.device.id);
  const short1 = await submitOk(w.agent, identify(w.device.id, { ttl: 1 }));
  const short2 = await submitOk(w.agent, identify(w.device.id, { ttl: 1 }));
  const patient = await submitOk(w.agent, identify(w.device.id, { ttl: 60 }));
  const waiting = await waitUntil(() => w.snapshots.find((x) => x.jobs.length === 3), 5000, 'a snapshot with the three waiting jobs');
  assert.equal(
    waiting.jobs.map((j) => [j.job, j.state, j.position]),
    [
      [short1, 'queued', 1],
      [short2, 'queued', 2],
      [patient, 'queued', 3],
    ],
  );
  for (const id of [short1, short2]) {
    const expired = await jobIn(env.tb, id, ['expired'], w.agent.token);
    assert.ok(
      expired.times.expired - expired.times.queued >= 1000,
      `expired ${expired.times.expired - expired.times.queued} ms after it was queued, before its 1 s TTL`,
    );
  }
  assert.is((await jobIn(env.tb, patient, ['queued'], w.agent.token)).position, 1);
  await w.device.reconnect();
  await jobIn(env.tb, patient, ['done'], w.agent.token);
  assert.equal(w.device.runs, [patient], 'the expired jobs never reached the device');
  assert.ok(w.snapshots.some((x) => x.ended?.some((e) => e.job === short1 && e.state === 'expired')));
});

s('a device that reconnects with nothing queued and nothing ended since its last snapshot gets no new one', async () => {
  const w = await watch('run');
  const id = await submitOk(w.agent, identify(w.device.id));
  await jobIn(env.tb, id, ['done'], w.agent.token);
  /** Drops and reconnects the device; resolves with the snapshots the agent had once its hello's step settled. */
  const reconnect = async (): Promise<number> => {
    const hello = new Promise<void>((resolve) => {
      const on = (device: string): void => {
        if (device !== w.device.id) return;
        env.tb.ctx.events.off('hello', on);
        resolve();
      };
      env.tb.ctx.events.on('hello', on);
    });
    await w.device.drop();
    await w.device.reconnect();
    await hello;
    await env.tb.ctx.jobs.engine.queue(w.device.id).idle();
    // The answer to a request follows every message published to the agent before it.
    assert.is((await submit(w.agent, { device: w.device.id, kind: 'no.such.kind', params: {} })).error.code, 'UNSUPPORTED');
    return w.snapshots.length;
  };
  await waitUntil(() => w.snapshots.some((x) => x.ended?.some((e) => e.job === id)), 5000, 'the snapshot with the job ended');
  const before = w.snapshots.length;
  assert.is(await reconnect(), before + 1, 'the retained snapshot still showed the ended job: a new one replaces it');
  assert.equal(w.snapshots.at(-1)!.jobs, []);
  assert.is(w.snapshots.at(-1)!.ended, undefined);
  assert.is(await reconnect(), before + 1, 'the retained snapshot already shows the empty queue');
  const next = await submitOk(w.agent, identify(w.device.id));
  await jobIn(env.tb, next, ['done'], w.agent.token);
  await waitUntil(() => w.snapshots.some((x) => x.ended?.some((e) => e.job === next)), 5000, 'the next job ending in a snapshot');
});

s.run();
