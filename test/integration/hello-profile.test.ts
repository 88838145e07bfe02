// The capabilities, concurrency and screen a device's hello announces are what the job engine
// checks from then on, taken from the hello itself (docs/architecture.md, Jobs); a malformed
// hello records nothing, and the registry's profile stays. A pool device's hello that announces
// a capability lets the pool's waiting jobs that need it start on it.
import * as assert from 'uvu/assert';
import { deviceTopic } from '../../protocol/topics';
import { JobDevice } from '../helpers/job-device';
import { jobIn, jobSuite, submit } from '../helpers/jobs';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { publish, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

// The sweeps that drain every pool are slowed, so that only the hello can start the waiting job.
const { s, env } = jobSuite('jobs: the profile a hello announces', { jobSweepMs: 600_000 });

const qr = (device: string) => ({ device, kind: 'qr.show', params: { text: 'fleetbind:pay?order=17', caption: 'Order 17' } });

s('new capabilities take effect from the hello that announces them, and a malformed hello keeps them', async () => {
  const w = await env.watch({ caps: ['identify'] });
  const refused = await submit(w.agent, qr(w.device.id));
  assert.is(refused.error?.code, 'UNSUPPORTED', JSON.stringify(refused));

  await w.device.drop();
  const upgraded = await JobDevice.connect(env.tb.broker.mqttUrl, w.device.dev, { caps: ['identify', 'qr.show'] });
  try {
    // The engine took the hello once the device's queue holds what it announced (an empty queue's
    // snapshot does not go out again, so the agent hears nothing).
    await waitUntil(() => env.tb.ctx.jobs.engine.queue(w.device.id).profile?.caps.includes('qr.show'), 5000, "the hello's profile taken");
    const taken = await submit(w.agent, qr(w.device.id));
    assert.ok(taken.ok, JSON.stringify(taken));
    await jobIn(env.tb, taken.result.job, ['done'], w.agent.token);
    assert.is(upgraded.cmds.at(-1)?.kind, 'qr.show');

    // A malformed hello is answered with an error in its config and changes nothing.
    const config = waitFor(upgraded.client, (t, json) => t === deviceTopic(w.device.id, 'config') && json?.error !== undefined, 5000, 'the refusing config');
    await publish(upgraded.client, deviceTopic(w.device.id, 'hello'), { fw: 42 });
    await config;
    const again = await submit(w.agent, qr(w.device.id));
    assert.ok(again.ok, JSON.stringify(again));
    await jobIn(env.tb, again.result.job, ['done'], w.agent.token);
  } finally {
    await upgraded.close();
  }
});

s('a pool job waiting for a capability goes to the pool device whose hello announces it', async () => {
  const loc = await makeLocation(env.tb);
  const capable = await poolDevice(env.tb, loc, { mode: 'hold', caps: ['identify', 'qr.show'] });
  const plain = await poolDevice(env.tb, loc, { caps: ['identify'] });
  const [a, b] = [await env.agent(), await env.agent()];
  for (const agent of [a, b]) await joinLocation(env.tb, agent.id, [loc]);
  const pay = { kind: 'qr.show', params: { text: 'fleetbind:pay?order=18', caption: 'Order 18' } };
  const held = await poolSubmit(a, loc, pay);
  assert.is(held.result?.device, capable.id, JSON.stringify(held));
  const waiting = await poolSubmit(b, loc, pay);
  assert.ok(waiting.ok, JSON.stringify(waiting));
  assert.is(waiting.result.device, null, 'no free device can show it: the job waits');

  await plain.drop();
  const upgraded = await JobDevice.connect(env.tb.broker.mqttUrl, plain.dev, { caps: ['identify', 'qr.show'] });
  try {
    await waitUntil(() => upgraded.cmds.some((c) => c.job === waiting.result.job), 5000, 'the waiting job at the device that now shows QR codes');
    assert.is(upgraded.cmds.find((c) => c.job === waiting.result.job)?.kind, 'qr.show');
  } finally {
    await Promise.all([upgraded.close(), capable.close()]);
  }
});

s.run();
