// The shadow follows a lease (docs/architecture.md, Machine state): the agent leasing a pool
// device receives its shadow and sees it over REST while the lease lasts; once the lease ends
// the next report reaches it no more and REST answers NOT_FOUND.
import * as assert from 'uvu/assert';
import { deviceTopic } from '../../protocol/topics';
import { barrier } from '../helpers/barrier';
import { jobIn, jobSuite } from '../helpers/jobs';
import type { JobDevice } from '../helpers/job-device';
import { publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { joinLocation, makeLocation, poolDevice, poolSubmit } from '../helpers/pools';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('machines: the shadow follows a lease', { jobAckTimeoutMs: 300 });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

s('the lessee gets the shadow during the lease and nothing after it ends', async () => {
  const loc = await makeLocation(env.tb);
  const dev = await poolDevice(env.tb, loc, { mode: 'hold' });
  devices.push(dev);
  const a = await env.agent();
  await joinLocation(env.tb, a.id, [loc]);
  const r = await poolSubmit(a, loc);
  assert.ok(r.ok, JSON.stringify(r));
  assert.is(r.result.device, dev.id);
  assert.equal(await subscribe(a.client, deviceTopic(dev.id, 'shadow')), [0]);
  const got = recorder(a.client);
  const first = waitFor<any>(
    a.client,
    (t, j) => t === deviceTopic(dev.id, 'shadow') && j.reported?.consumables?.paper?.level === 70,
    15_000,
    'the shadow during the lease',
  );
  await publish(dev.client, deviceTopic(dev.id, 'state'), { machine: { status: 'busy' }, consumables: { paper: { level: 70 } } });
  await first;
  assert.is((await env.tb.api('GET', `/api/machines/${dev.id}`, undefined, a.token)).status, 200);

  await waitUntil(() => dev.isRunning(r.result.job), 10_000, 'the job on the leased device');
  await dev.ack({ job: r.result.job, state: 'done', result: { ok: true } });
  await jobIn(env.tb, r.result.job, ['done'], a.token);
  await waitUntil(() => env.tb.ctx.bindings.agentOf(dev.id) === null, 10_000, 'the lease to end');
  const before = got.length;
  await publish(dev.client, deviceTopic(dev.id, 'state'), { machine: { status: 'idle' }, consumables: { paper: { level: 60 } } });
  await waitUntil(
    async () => (await env.tb.api('GET', `/api/machines/${dev.id}`)).body.shadow?.reported?.consumables?.paper?.level === 60 || undefined,
    15_000,
    'the report merged',
  );
  await barrier(env.tb, [{ device: { client: dev.client, dev: dev.dev } }], [{ agent: a }]);
  assert.equal(
    got.slice(before).filter((m) => m.topic === deviceTopic(dev.id, 'shadow')),
    [],
    'no shadow after the lease ended',
  );
  assert.is((await env.tb.api('GET', `/api/machines/${dev.id}`, undefined, a.token)).status, 404);
});

s.run();
