// Locations and pools on one broker: a pool submit leases a free device and names it; the agent
// sees that device's traffic for the lease only; the lease ends with the job (or with a held QR's
// payment); the pool queue is FIFO with positions; hybrid primary with reasons; errors that name
// what is wrong and change nothing; mode switches refused while leased; pool devices are never
// claimed; a forged location label is refused.
import * as assert from 'uvu/assert';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import type { BindingChange } from '../../broker/store/bindings';
import { request } from '../helpers/broker';
import { type Agent, claim, jobIn, jobSuite, submit } from '../helpers/jobs';
import { JobDevice } from '../helpers/job-device';
import { recorder, subscribe } from '../helpers/mqtt';
import { joinLocation, makeLocation, ok, poolDevice, poolSubmit, stateSnapshot } from '../helpers/pools';
import { barrier } from '../helpers/barrier';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('pools: leases, queue, hybrid and errors', { jobAckTimeoutMs: 300 });
const devices: JobDevice[] = [];
s.after.each(async () => {
  for (const d of devices.splice(0)) await d.close();
});

async function setup(n: number, agents = 2, opts: Parameters<typeof poolDevice>[2] = {}): Promise<{ loc: string; devs: JobDevice[]; ags: Agent[] }> {
  const loc = await makeLocation(env.tb);
  const devs: JobDevice[] = [];
  for (let i = 0; i < n; i++) devs.push(await poolDevice(env.tb, loc, opts));
  devices.push(...devs);
  const ags: Agent[] = [];
  for (let i = 0; i < agents; i++) {
    const a = await env.agent();
    await joinLocation(env.tb, a.id, [loc]);
    ags.push(a);
  }
  return { loc, devs, ags };
}

const leaseOf = (device: string) => env.tb.ctx.bindings.agentOf(device);

s('a pool submit leases a free device, names it, and the lease ends with the job, cutting the agent off', async () => {
  const { loc, devs, ags } = await setup(2, 1, { mode: 'hold' });
  const a = ags[0]!;
  const r = await poolSubmit(a, loc);
  assert.ok(r.ok, JSON.stringify(r));
  const dev = devs.find((d) => d.id === r.result.device)!;
  assert.ok(dev, 'the answer names one of the pool devices');
  assert.is(r.result.pool, loc);
  assert.is(r.result.route, 'pool');
  assert.is(leaseOf(dev.id), a.id, 'the binding map shows the lessee');
  const leases = await ok(env.tb.api('GET', `/api/leases?location=${loc}`));
  assert.equal(
    leases.map((l: any) => [l.device, l.agent, l.job]),
    [[dev.id, a.id, r.result.job]],
  );

  // The agent sees the leased device like one of its own.
  const got = recorder(a.client);
  await subscribe(a.client, [deviceTopic(dev.id, 'status'), eventTopic(dev.id, '+')]);
  await waitUntil(() => dev.isRunning(r.result.job), 10_000, 'the job on the leased device');
  await dev.evt('t', { job: r.result.job, v: 1 });
  await waitUntil(() => got.some((m) => m.topic === eventTopic(dev.id, 't')), 10_000, 'the event reaches the lessee');

  // The job ends: the lease ends, and the next event of the device no longer reaches the agent.
  await dev.ack({ job: r.result.job, state: 'done', result: { ok: true } });
  await jobIn(env.tb, r.result.job, ['done'], a.token);
  await waitUntil(() => leaseOf(dev.id) === null, 10_000, 'the lease to end');
  const job = await jobIn(env.tb, r.result.job, ['done'], a.token);
  assert.is(job.pool, loc);
  assert.is(job.route, 'pool');
  const before = got.length;
  await dev.evt('t', { v: 2 });
  await barrier(env.tb, [{ device: { client: dev.client, dev: dev.dev } }], [{ agent: a }]);
  assert.is(got.slice(before).filter((m) => m.topic === eventTopic(dev.id, 't')).length, 0, 'no message of the device after the lease ended');
  const ended = await ok(env.tb.api('GET', `/api/leases?location=${loc}&ended=true`));
  assert.is(ended[0].endReason, 'job-ended');
  const audit = await ok(env.tb.api('GET', `/api/audit?device=${dev.id}`));
  assert.ok(audit.some((x: any) => x.action === 'lease.start') && audit.some((x: any) => x.action === 'lease.end'), 'lease start and end are audited');
});

s("a lease that ends without a handover leaves the next lessee's job alone when the device queue reaches that binding change late", async () => {
  const { loc, devs, ags } = await setup(1, 2, { mode: 'hold' });
  const [a, b] = [ags[0]!, ags[1]!];
  const dev = devs[0]!;
  const r1 = await poolSubmit(a, loc);
  assert.ok(r1.ok, JSON.stringify(r1));
  await waitUntil(() => dev.isRunning(r1.result.job), 10_000, "the first lessee's job on the device");

  // A slow step (a loaded disk, a long snapshot) ahead of the lease end's binding step in the
  // device's order: it is held until the next lessee's pool job has been committed to the device.
  const { engine } = env.tb.ctx.jobs;
  let release = (): void => {};
  const slow = new Promise<void>((resolve) => (release = resolve));
  const holdQueue = (change: BindingChange): void => {
    if (change.device !== dev.id || change.to !== null) return;
    env.tb.ctx.events.off('binding', holdQueue);
    engine.run(engine.queue(dev.id), () => slow).catch((err: unknown) => assert.unreachable(String(err)));
  };
  env.tb.ctx.events.prependListener('binding', holdQueue);

  dev.mode = 'run';
  await dev.ack({ job: r1.result.job, state: 'done', result: { ok: true } });
  await waitUntil(() => leaseOf(dev.id) === null, 10_000, 'the lease to end with no one waiting');
  const r2 = await poolSubmit(b, loc);
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.is(r2.result.device, dev.id, "the freed device takes the next lessee's job");
  assert.is(leaseOf(dev.id), b.id);
  release();

  const j = await jobIn(env.tb, r2.result.job, ['done', 'cancelled', 'failed', 'expired', 'interrupted'], b.token);
  assert.is(j.state, 'done', `the next lessee's job ran (it ended ${j.state}: ${JSON.stringify(j.error)})`);
  assert.is((await jobIn(env.tb, r1.result.job, ['done'], a.token)).state, 'done');
});

s('a held qr.show keeps its lease until it is paid', async () => {
  const { loc, ags } = await setup(1, 1, { mode: 'hold' });
  const a = ags[0]!;
  const r = await poolSubmit(a, loc, {
    kind: 'qr.show',
    params: { text: 'https://pay.example/i/1', caption: 'Order 1', amount: 3, currency: 'EUR', hold: true },
  });
  assert.ok(r.ok, JSON.stringify(r));
  const d = r.result.device;
  await jobIn(env.tb, r.result.job, ['running'], a.token);
  assert.is(leaseOf(d), a.id);
  await ok(env.tb.api('POST', `/api/jobs/${r.result.job}/complete`, undefined, a.token));
  await jobIn(env.tb, r.result.job, ['done'], a.token);
  await waitUntil(() => leaseOf(d) === null, 10_000, 'the lease to end once paid');
});

s('when every device is busy, jobs wait in the pool queue FIFO across agents with positions, and each runs once', async () => {
  const { loc, devs, ags } = await setup(2, 3, { mode: 'hold' });
  const first = await Promise.all([poolSubmit(ags[0]!, loc), poolSubmit(ags[1]!, loc)]);
  for (const r of first) assert.ok(r.ok && r.result.device !== null, JSON.stringify(r));
  assert.is.not(first[0].result.device, first[1].result.device, 'two agents get two different devices');
  const queued: any[] = [];
  for (const a of [ags[2]!, ags[0]!, ags[1]!]) {
    const r = await poolSubmit(a, loc);
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(r.result.device, null);
    assert.is(r.result.state, 'queued');
    queued.push(r.result);
  }
  assert.equal(
    queued.map((q) => q.position),
    [1, 2, 3],
  );
  assert.ok(queued.every((q) => typeof q.eta === 'number' && q.eta > 0));
  const detail = await ok(env.tb.api('GET', `/api/locations/${loc}`, undefined, ags[2]!.token));
  assert.equal(
    detail.queue.map((x: any) => x.position),
    [1, 2, 3],
  );
  assert.is(detail.queue[0].agent, ags[2]!.id, 'an agent sees its own queued job');
  assert.not.ok('agent' in detail.queue[1], 'an agent does not see who else waits');

  // Finish jobs one at a time: the waiting ones get devices in the order they were queued.
  const order: string[] = [];
  const running = new Map(first.map((r) => [r.result.job as string, r.result.device as string]));
  for (let i = 0; i < 3; i++) {
    const [job, device] = [...running.entries()][0]!;
    running.delete(job);
    const dev = devs.find((d) => d.id === device)!;
    await dev.ack({ job, state: 'done', result: {} });
    const next = await waitUntil(
      async () => {
        for (const q of queued) {
          if (order.includes(q.job)) continue;
          const r = await env.tb.api('GET', `/api/jobs/${q.job}`, undefined, env.tb.adminToken);
          if (r.status === 200 && r.body.device !== null) return r.body;
        }
        return undefined;
      },
      10_000,
      'a waiting job to get a device',
    );
    order.push(next.job);
    await waitUntil(() => devs.some((d) => d.isRunning(next.job)), 10_000, 'the job on its device');
    running.set(next.job, next.device);
  }
  assert.equal(
    order,
    queued.map((q) => q.job),
    'FIFO across agents',
  );
  for (const [job, device] of running) await devs.find((d) => d.id === device)!.ack({ job, state: 'done', result: {} });
  const all = [...first.map((r) => r.result.job), ...queued.map((q) => q.job)];
  for (const job of all) await jobIn(env.tb, job, ['done']);
  const runs = devs.flatMap((d) => d.runs);
  assert.equal([...runs].sort(), [...all].sort(), 'every job ran exactly once');
  await waitUntil(() => devs.every((d) => leaseOf(d.id) === null), 10_000, 'every lease ended');
});

s('a waiting job can be cancelled and leaves the queue', async () => {
  const { loc, ags } = await setup(1, 2, { mode: 'hold' });
  const r1 = await poolSubmit(ags[0]!, loc);
  const r2 = await poolSubmit(ags[1]!, loc);
  assert.is(r2.result.position, 1);
  const c = await request(ags[1]!.client, { kind: 'agent', id: ags[1]!.id }, { op: 'cancel', job: r2.result.job });
  assert.ok(c.ok, JSON.stringify(c));
  assert.is(c.result.state, 'cancelled');
  const detail = await ok(env.tb.api('GET', `/api/locations/${loc}`));
  assert.is(detail.queue.length, 0);
  assert.ok(r1.ok);
});

s(
  'a waiting pool job is a job at GET /api/jobs/<id> with its pool place; an idempotencyKey answers the same job waiting and placed; an admin cancels one waiting',
  async () => {
    const { loc, devs, ags } = await setup(1, 3, { mode: 'hold' });
    const [a, b, c] = ags as [Agent, Agent, Agent];
    const busy = await poolSubmit(a, loc);
    assert.ok(busy.ok && busy.result.device === devs[0]!.id, JSON.stringify(busy));
    const first = await poolSubmit(b, loc, { idempotencyKey: 'k-1' });
    assert.ok(first.ok && first.result.device === null, JSON.stringify(first));
    const view = await ok(env.tb.api('GET', `/api/jobs/${first.result.job}`, undefined, b.token));
    assert.equal(
      [view.job, view.device, view.agent, view.state, view.pool, view.route, view.position, view.idempotencyKey],
      [first.result.job, null, b.id, 'queued', loc, 'pool', 1, 'k-1'],
    );
    assert.ok(view.eta > 0 && view.times.queued > 0, JSON.stringify(view));
    assert.is((await env.tb.api('GET', `/api/jobs/${first.result.job}`, undefined, a.token)).status, 404, 'another agent does not see it');

    // The same key again while it waits: the same job, nothing new queued.
    const queuedBefore = await stateSnapshot(env.tb.ctx.db, loc);
    const again = await poolSubmit(b, loc, { idempotencyKey: 'k-1' });
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal([again.result.job, again.result.device, again.result.state, again.result.position], [first.result.job, null, 'queued', 1]);
    assert.is(await stateSnapshot(env.tb.ctx.db, loc), queuedBefore, 'a repeated key changes nothing');
    const clash = await poolSubmit(b, loc, { idempotencyKey: 'k-1', kind: 'serial.send', params: { data: 'x' } });
    assert.is(clash.ok, false);
    assert.is(clash.error.code, 'CONFLICT');

    // An admin cancels another waiting job over REST; it reads as cancelled from then on.
    const doomed = await poolSubmit(c, loc);
    assert.is(doomed.result.position, 2);
    const cancelled = await ok(env.tb.api('POST', `/api/jobs/${doomed.result.job}/cancel`, undefined, env.tb.adminToken));
    assert.equal([cancelled.state, cancelled.device, cancelled.error.code], ['cancelled', null, 'CANCELLED']);
    assert.is((await ok(env.tb.api('GET', `/api/jobs/${doomed.result.job}`, undefined, c.token))).state, 'cancelled');

    // The device frees up: the waiting job is placed, and the key still answers with it.
    await devs[0]!.ack({ job: busy.result.job, state: 'done', result: {} });
    const placed = await waitUntil(
      async () => {
        const r = await ok(env.tb.api('GET', `/api/jobs/${first.result.job}`, undefined, b.token));
        return r.device !== null ? r : undefined;
      },
      10_000,
      'the waiting job to get the device',
    );
    assert.equal([placed.device, placed.pool, placed.idempotencyKey], [devs[0]!.id, loc, 'k-1']);
    const third = await poolSubmit(b, loc, { idempotencyKey: 'k-1' });
    assert.ok(third.ok, JSON.stringify(third));
    assert.equal([third.result.job, third.result.device, third.result.pool], [first.result.job, devs[0]!.id, loc]);
    await waitUntil(() => devs[0]!.isRunning(first.result.job), 10_000, 'the job on its device');
    await devs[0]!.ack({ job: first.result.job, state: 'done', result: {} });
    await jobIn(env.tb, first.result.job, ['done'], b.token);
    assert.equal(devs[0]!.runs, [busy.result.job, first.result.job], 'each ran once; the cancelled job never ran');
  },
);

s('hybrid: the primary takes jobs while healthy; offline or busy it falls back to the pool, saying why; back online it takes them again', async () => {
  const { loc, devs, ags } = await setup(1, 1);
  const a = ags[0]!;
  const primaryDev = await env.tb.provision();
  let primary = await JobDevice.connect(env.tb.broker.mqttUrl, primaryDev, { mode: 'hold' });
  devices.push(primary);
  await claim(a, primaryDev.id);
  await ok(env.tb.api('PATCH', `/api/devices/${primaryDev.id}`, { location: loc }));
  await ok(env.tb.api('PATCH', `/api/agents/${a.id}`, { primary: primaryDev.id, fallback: 'pool' }));

  const r1 = await submit(a, { primary: true, kind: 'identify', params: { seconds: 1 } });
  assert.ok(r1.ok, JSON.stringify(r1));
  assert.is(r1.result.device, primaryDev.id);
  assert.is(r1.result.route, 'primary');
  assert.is((await jobIn(env.tb, r1.result.job, ['running'], a.token)).route, 'primary');

  const r2 = await submit(a, { device: primaryDev.id, fallback: 'pool', kind: 'identify', params: { seconds: 1 } });
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.is(r2.result.route, 'primary-busy');
  assert.is(r2.result.device, devs[0]!.id);
  await primary.ack({ job: r1.result.job, state: 'done', result: {} });
  await jobIn(env.tb, r1.result.job, ['done'], a.token);
  await jobIn(env.tb, r2.result.job, ['done'], a.token);

  await primary.drop();
  await waitUntil(() => !env.tb.ctx.presence.isOnline(primaryDev.id), 10_000, 'the primary to be seen offline');
  const r3 = await submit(a, { primary: true, kind: 'identify', params: { seconds: 1 } });
  assert.ok(r3.ok, JSON.stringify(r3));
  assert.is(r3.result.route, 'primary-offline');
  assert.is(r3.result.device, devs[0]!.id);
  assert.is((await jobIn(env.tb, r3.result.job, ['done'], a.token)).route, 'primary-offline');

  primary = await JobDevice.connect(env.tb.broker.mqttUrl, primaryDev, { mode: 'run', durationMs: 10 });
  devices.push(primary);
  await waitUntil(() => env.tb.ctx.presence.isOnline(primaryDev.id), 10_000, 'the primary back online');
  const r4 = await submit(a, { primary: true, kind: 'identify', params: { seconds: 1 } });
  assert.is(r4.result.route, 'primary');
  assert.is(r4.result.device, primaryDev.id);
});

s('errors name what is wrong and change nothing: FORBIDDEN, UNSUPPORTED, NO_DEVICE_AVAILABLE with counts, BAD_TARGET', async () => {
  const { loc, devs, ags } = await setup(2, 1, { caps: ['identify'] });
  const a = ags[0]!;
  const outsider = await env.agent();
  const db = env.tb.ctx.db;
  const before = await stateSnapshot(db, loc);

  const forbidden = await poolSubmit(outsider, loc);
  assert.is(forbidden.error.code, 'FORBIDDEN');
  const nowhere = await poolSubmit(outsider, 'no-such-place');
  assert.is(nowhere.error.code, 'FORBIDDEN', 'a location one does not belong to looks the same whether or not it exists');
  const unsupported = await poolSubmit(a, loc, { kind: 'serial.send', params: { data: 'x', timeoutMs: 100 } });
  assert.is(unsupported.error.code, 'UNSUPPORTED');
  assert.match(unsupported.error.message, /identify/);
  const missing = await submit(a, { kind: 'identify', params: { seconds: 1 } });
  assert.is(missing.error.code, 'BAD_TARGET');
  assert.equal(missing.error.options, { devices: [], pools: [loc], primary: null });
  const ambiguous = await submit(a, { device: devs[0]!.id, pool: loc, kind: 'identify', params: { seconds: 1 } });
  assert.is(ambiguous.error.code, 'BAD_TARGET');
  const noPrimary = await submit(a, { primary: true, kind: 'identify', params: { seconds: 1 } });
  assert.is(noPrimary.error.code, 'BAD_TARGET');
  assert.is(await stateSnapshot(db, loc), before, 'nothing changed');

  for (const d of devs) await d.drop();
  await waitUntil(() => devs.every((d) => !env.tb.ctx.presence.isOnline(d.id)), 10_000, 'the devices seen offline');
  const before2 = await stateSnapshot(db, loc);
  const none = await poolSubmit(a, loc);
  assert.is(none.error.code, 'NO_DEVICE_AVAILABLE');
  assert.equal(none.error.counts, { location: loc, online: 0, busy: 0, offline: 2 });
  assert.is(await stateSnapshot(db, loc), before2, 'nothing changed');
  const metrics = await fetch(`${env.tb.broker.httpUrl}/metrics`).then((r) => r.text());
  assert.match(metrics, new RegExp(`fleetbind_pool_no_device_total\\{location="${loc}"\\} 1`));
});

s('pool devices: a mode switch is refused while leased, a claim is refused, a free device is skipped while offline', async () => {
  const { loc, devs, ags } = await setup(2, 2, { mode: 'hold' });
  await devs[1]!.drop();
  await waitUntil(() => !env.tb.ctx.presence.isOnline(devs[1]!.id), 10_000, 'the second device offline');
  const r = await poolSubmit(ags[0]!, loc);
  assert.is(r.result.device, devs[0]!.id, 'the offline device is skipped');
  await jobIn(env.tb, r.result.job, ['running']);
  const db = env.tb.ctx.db;
  const before = await stateSnapshot(db, loc);
  const sw = await env.tb.api('PATCH', `/api/devices/${devs[0]!.id}`, { mode: 'owned' });
  assert.is(sw.status, 409, JSON.stringify(sw.body));
  assert.match(sw.body.error.message, /leased/);
  const claimed = await request(ags[1]!.client, { kind: 'agent', id: ags[1]!.id }, { op: 'claim', target: devs[1]!.id });
  assert.is(claimed.error.code, 'FORBIDDEN');
  const released = await request(ags[0]!.client, { kind: 'agent', id: ags[0]!.id }, { op: 'release', device: devs[0]!.id });
  assert.is(released.error.code, 'CONFLICT');
  const transfer = await env.tb.api('POST', `/api/devices/${devs[0]!.id}/transfer`, { agent: ags[1]!.id, reason: 'try' });
  assert.is(transfer.status, 409);
  assert.is(await stateSnapshot(db, loc), before, 'nothing changed');
  assert.is(leaseOf(devs[0]!.id), ags[0]!.id);
  // Once the job ends and the lease with it, the switch goes through (audited).
  await devs[0]!.ack({ job: r.result.job, state: 'done', result: {} });
  await waitUntil(() => leaseOf(devs[0]!.id) === null, 10_000, 'the lease to end');
  const owned = await ok(env.tb.api('PATCH', `/api/devices/${devs[0]!.id}`, { mode: 'owned' }));
  assert.is(owned.mode, 'owned');
});

s('a location label selects the pool; a forged one is refused and changes nothing', async () => {
  const { loc, ags } = await setup(1, 1);
  const label = await ok(env.tb.api('GET', `/api/locations/${loc}/label`));
  assert.match(label.url, new RegExp(`/p/${loc}\\.[0-9a-f]{16}$`));
  const good = await ok(env.tb.api('POST', '/api/locations/resolve-label', { label: label.url }, ags[0]!.token));
  assert.is(good.id, loc);
  const before = await stateSnapshot(env.tb.ctx.db, loc);
  const sig = label.url.slice(-16);
  const forged = await env.tb.api(
    'POST',
    '/api/locations/resolve-label',
    { label: label.url.replace(sig, sig.startsWith('0') ? `1${sig.slice(1)}` : `0${sig.slice(1)}`) },
    ags[0]!.token,
  );
  assert.is(forged.status, 404);
  assert.is(forged.body.error.code, 'UNKNOWN_MACHINE');
  const other = await env.agent();
  const foreign = await env.tb.api('POST', '/api/locations/resolve-label', { label: label.url }, other.token);
  assert.is(foreign.body.error.code, 'FORBIDDEN');
  // A machine label's signature does not open a location, nor the other way round.
  const machineSig = ((await ok(env.tb.api('GET', `/api/labels/CT${Date.now() % 1_000_000}`))).url as string).slice(-16);
  const crossed = await env.tb.api('POST', '/api/locations/resolve-label', { label: `${loc}.${machineSig}` }, ags[0]!.token);
  assert.is(crossed.body.error.code, 'UNKNOWN_MACHINE');
  assert.is(await stateSnapshot(env.tb.ctx.db, loc), before);
});

s("with a linger, the same agent's next job goes to the same device", async () => {
  await env.stop();
  await env.start({ jobAckTimeoutMs: 300, leaseLingerMs: 60_000 });
  const { loc, ags } = await setup(3, 1, { durationMs: 10 });
  const r1 = await poolSubmit(ags[0]!, loc);
  await jobIn(env.tb, r1.result.job, ['done'], ags[0]!.token);
  const r2 = await poolSubmit(ags[0]!, loc);
  assert.is(r2.result.device, r1.result.device);
  assert.is(leaseOf(r1.result.device), ags[0]!.id, 'the lease lingers');
  await env.stop();
  await env.start({ jobAckTimeoutMs: 300 });
});

s.run();
