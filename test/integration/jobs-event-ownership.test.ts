// Device events belong to at most one job (docs/architecture.md, Jobs): the running job the event
// names, or else the only running job, and only the current holder's. A binding change cancels
// the previous holder's running job at the broker at once (UNBOUND): what the device publishes
// afterwards, and its late ack, never reach that job. Over TCP and WebSocket.
import * as assert from 'uvu/assert';
import { JobDevice } from '../helpers/job-device';
import { claim, identify, jobIn, jobSuite, submitOk } from '../helpers/jobs';
import { waitUntil } from '../helpers/wait';
import type { Transport } from '../scenarios/fleet';

const { s, env } = jobSuite('jobs: device events and binding changes', { jobAckTimeoutMs: 200 });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

async function dataOf(job: string, token: string): Promise<unknown[]> {
  const r = await env.tb.api('GET', `/api/jobs/${job}/export?format=json`, undefined, token);
  assert.is(r.status, 200, JSON.stringify(r.body));
  return (r.body.data as { payload: string }[]).map((d) => JSON.parse(d.payload));
}

for (const transport of ['tcp', 'ws'] as Transport[]) {
  s(`${transport}: a transfer cancels the old holder's running job at once (UNBOUND); later events and its late ack never reach it`, async () => {
    const a = await env.agent();
    const b = await env.agent();
    const dev = await env.tb.provision();
    const device = await JobDevice.connect(env.tb.urlFor({ transport }), dev, { mode: 'hold' });
    devices.push(device);
    await claim(a, dev.id);
    const a1 = await submitOk(a, identify(dev.id));
    await waitUntil(() => device.isRunning(a1), 5000, "a's job running on the device");
    await jobIn(env.tb, a1, ['running']);
    await device.evt('telemetry', { t: 'for a' });
    // Its progress follows the event on the same connection: once the broker shows it, the event was handled.
    await device.ack({ job: a1, state: 'progress', progress: 10 });
    await waitUntil(async () => (await env.tb.api('GET', `/api/jobs/${a1}`, undefined, a.token)).body.progress === 10, 5000, 'the progress of a1');
    // The device does not answer the cancel: the broker must not wait for it.
    device.mode = 'silent';
    const moved = await env.tb.api('POST', `/api/devices/${dev.id}/transfer`, { agent: b.id, reason: 'shift change' });
    assert.is(moved.status, 200, JSON.stringify(moved.body));
    const cancelled = await jobIn(env.tb, a1, ['cancelled'], a.token, 1000);
    assert.is(cancelled.error.code, 'UNBOUND');
    await device.evt('telemetry', { t: 'after the transfer, before any job of b' });
    // The device never heard the cancel, so a1 runs on there until it ends by itself: the firmware
    // runs one job at a time and would refuse b1 BUSY meanwhile. Its done is a late ack.
    device.mode = 'hold';
    await device.ack({ job: a1, state: 'done', result: { late: true } });
    const b1 = await submitOk(b, identify(dev.id));
    await waitUntil(() => device.isRunning(b1), 5000, "b's job running on the device");
    await jobIn(env.tb, b1, ['running'], b.token);
    await device.evt('telemetry', { t: 'for b' });
    await device.evt('telemetry', { job: a1, t: "naming a's old job" });
    await device.ack({ job: a1, state: 'done', result: { again: true } });
    // The ack of b's job follows those messages on the same connection: once b1 is done the
    // broker has handled them all.
    await device.ack({ job: b1, state: 'done', result: { ok: true } });
    await jobIn(env.tb, b1, ['done'], b.token);
    const after = await jobIn(env.tb, a1, ['cancelled'], a.token);
    assert.equal([after.state, after.error.code], ['cancelled', 'UNBOUND'], 'the late ack changed nothing');
    assert.equal(await dataOf(a1, a.token), [{ t: 'for a' }], "a's export holds only what came before the transfer");
    assert.equal(await dataOf(b1, b.token), [{ t: 'for b' }], "b's export holds only its own job's data");
  });
}

s('an event naming another job than the running one is filed under no job', async () => {
  const w = await env.watch({ mode: 'hold' });
  const j = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(j), 5000, 'the job running');
  await jobIn(env.tb, j, ['running']);
  await w.device.evt('telemetry', { job: 'j-not-this-one', t: 1 });
  await w.device.evt('telemetry', { job: j, t: 2 });
  await w.device.evt('telemetry', { t: 3 });
  await w.device.ack({ job: j, state: 'done', result: { ok: true } });
  await jobIn(env.tb, j, ['done']);
  assert.equal(await dataOf(j, w.agent.token), [{ job: j, t: 2 }, { t: 3 }]);
});

s("data the device sends right after accepting a job is the job's, though it arrives before the broker has the job running", async () => {
  const w = await env.watch({ mode: 'silent' });
  const j = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.cmds.some((c) => c.job === j), 5000, 'the cmd at the device');
  // As the firmware does: the accepted ack and the first reading leave in one burst.
  await Promise.all([w.device.ack({ job: j, state: 'accepted' }), w.device.evt('telemetry', { t: 1 })]);
  await w.device.ack({ job: j, state: 'done', result: { ok: true } });
  await jobIn(env.tb, j, ['done']);
  assert.equal(await dataOf(j, w.agent.token), [{ t: 1 }]);
});

s.run();
