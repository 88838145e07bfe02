// The job system on the PostgreSQL registry (one node, no Redis): the same queries must hold on
// the database cluster mode uses. Submit and run, idempotency keys, cancel, a held QR's
// reservation and completion, export, and recovery after a restart on the same database.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { TestBroker, request } from '../helpers/broker';
import { type Watch, boundDevice, cancel, identify, jobIn, jobsWhen, submit, submitOk } from '../helpers/jobs';
import { JobDevice } from '../helpers/job-device';
import { end } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const t = suite<{ backends?: Backends | Error }>('jobs on PostgreSQL');
let tb: TestBroker | null = null;
const open: Watch[] = [];

t.before(async (c) => {
  c.backends = await freshBackends();
});
t.after.each(async () => {
  for (const w of open.splice(0)) {
    await w.device.close();
    await end(w.agent.client);
  }
  await tb?.stop();
  tb = null;
});
t.after(async (c) => {
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

function on(name: string, fn: (b: Backends) => Promise<void>): void {
  t(name, async (c) => {
    requireBackends(c.backends);
    await fn(c.backends);
  });
}

const start = (b: Backends): Promise<TestBroker> => TestBroker.start({ databaseUrl: b.databaseUrl, jobAckTimeoutMs: 200, queueCap: 5 });

on('jobs run, keys repeat, caps refuse and cancels land', async (b) => {
  tb = await start(b);
  const w = await boundDevice(tb, { durationMs: 10 });
  open.push(w);
  const first = await submit(w.agent, identify(w.device.id, { idempotencyKey: 'pg-1' }));
  const again = await submit(w.agent, identify(w.device.id, { idempotencyKey: 'pg-1' }));
  assert.ok(first.ok && again.ok, JSON.stringify([first, again]));
  assert.is(again.result.job, first.result.job);
  const done = await jobIn(tb, first.result.job, ['done'], w.agent.token);
  assert.equal(Object.keys(done.times).sort(), ['dispatched', 'done', 'queued', 'running']);
  for (const v of Object.values(done.times)) assert.type(v, 'number', 'times are numbers, not bigint strings');

  w.device.mode = 'hold';
  const held = await submitOk(w.agent, identify(w.device.id));
  const queued = [];
  for (let i = 0; i < 4; i++) queued.push(await submitOk(w.agent, identify(w.device.id)));
  const full = await submit(w.agent, identify(w.device.id));
  assert.is(full.error.code, 'QUEUE_FULL');
  assert.is((await cancel(w.agent, queued[0]!)).result.state, 'cancelled');
  await waitUntil(() => w.device.isRunning(held), 5000, 'the held job running');
  assert.is((await cancel(w.agent, held)).result.pending, 'cancel');
  await jobIn(tb, held, ['cancelled'], w.agent.token);
  await jobIn(tb, queued[1]!, ['running'], w.agent.token);
});

on('a held QR reserves the device until completed; its export carries its data', async (b) => {
  tb = await start(b);
  const w = await boundDevice(tb, { mode: 'hold' });
  open.push(w);
  const qr = await submitOk(w.agent, {
    device: w.device.id,
    kind: 'qr.show',
    params: { text: 'pay', caption: 'Order 9', amount: 3, currency: 'EUR', hold: true },
  });
  await jobIn(tb, qr, ['running'], w.agent.token);
  await w.device.evt('scan', { opened: true });
  const refused = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.is(refused.error.code, 'RESERVED');
  assert.is((await tb.api('POST', `/api/jobs/${qr}/complete`, undefined, w.agent.token)).status, 200);
  await jobIn(tb, qr, ['done'], w.agent.token);
  const released = await request(w.agent.client, { kind: 'agent', id: w.agent.id }, { op: 'release', device: w.device.id });
  assert.ok(released.ok, JSON.stringify(released));
  const exported = await tb.api('GET', `/api/jobs/${qr}/export?format=json`, undefined, w.agent.token);
  assert.equal(
    exported.body.data.map((d: any) => [d.stream, d.payload]),
    [['scan', JSON.stringify({ opened: true })]],
  );
});

on('after a restart on the same database, queues are intact and the running job follows the interrupted rule', async (b) => {
  tb = await start(b);
  const w = await boundDevice(tb, { mode: 'hold' });
  const running = await submitOk(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'QQ==', timeoutMs: 100 } });
  const queued = [await submitOk(w.agent, identify(w.device.id)), await submitOk(w.agent, identify(w.device.id))];
  await jobIn(tb, running, ['running'], w.agent.token);
  await w.device.close();
  await end(w.agent.client);
  await tb.stop();

  tb = await start(b);
  assert.is((await jobIn(tb, running, ['interrupted'])).error.code, 'INTERRUPTED');
  const open1 = (await jobsWhen(tb, w.device.id, () => true)).filter((j) => j.state === 'queued').sort((x, y) => x.position - y.position);
  assert.equal(
    open1.map((j) => [j.job, j.position]),
    [
      [queued[0], 1],
      [queued[1], 2],
    ],
  );
  const device = await JobDevice.connect(tb.broker.mqttUrl, w.device.dev, { durationMs: 5 });
  for (const id of queued) await jobIn(tb, id, ['done']);
  assert.equal(device.runs, queued);
  await device.close();
});

t.run();
