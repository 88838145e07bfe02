// The alerts that come from time and from jobs, and history retention (docs/architecture.md,
// Machine state): a device offline longer than the limit raises `offline` once and its return
// clears it once; a failure rate over the threshold raises `job-failures` once and it clears only
// well under it; samples older than the retention are pruned, in batches, and the series keeps
// the rest; a job's place in the machine's queue. Short limits and the broker's clock stand in for minutes and days.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { pruneHistory } from '../../broker/machines/store';
import { TestBroker } from '../helpers/broker';
import { barrier } from '../helpers/barrier';
import { claim, identify, jobIn, submitOk, uniq } from '../helpers/jobs';
import { JobDevice } from '../helpers/job-device';
import { metric } from '../helpers/metrics';
import { makeLocation } from '../helpers/pools';
import { end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const DAY = 86_400_000;
const t = suite<{ tb: TestBroker }>('machines: offline and job-failure alerts, history pruning, queue place');
t.before(async (ctx) => {
  ctx.tb = await TestBroker.start({
    graceMs: 100,
    machines: {
      lowPercent: 15,
      hysteresisPercent: 5,
      offlineAlertMs: 400,
      failureRate: 0.5,
      failureWindow: 4,
      historySampleMs: 0,
      historyRetentionMs: DAY,
      stateRate: 1000,
      stateBurst: 1000,
      deviceMetrics: false,
    },
  });
});
t.after(async ({ tb }) => tb.stop());

async function watchedAgent(tb: TestBroker, device: string) {
  const agent = await tb.agent(uniq('al'));
  await claim(agent, device);
  await subscribe(agent.client, agentTopic(agent.id, 'alerts'));
  const seen = recorder(agent.client);
  const events = (kind: string): string[] =>
    seen
      .filter((m) => m.topic === agentTopic(agent.id, 'alerts') && (m.json as any).alert.kind === kind && (m.json as any).alert.device === device)
      .map((m) => (m.json as any).event);
  return { agent, events };
}

t('offline longer than the limit: one offline alert; back online: cleared once', async ({ tb }) => {
  const dev = await tb.provision();
  const { agent, events } = await watchedAgent(tb, dev.id);
  const first = await tb.device(dev);
  await end(first.client);
  await waitUntil(() => events('offline').includes('raised'), 15_000, 'the offline alert');
  const open = await tb.api('GET', `/api/alerts?device=${dev.id}&state=open`, undefined, agent.token);
  assert.equal(
    open.body.map((a: any) => a.kind),
    ['offline'],
  );
  assert.match(open.body[0].message, /^offline since /);
  const back = await tb.device(dev);
  await waitUntil(() => events('offline').includes('cleared'), 15_000, 'the offline alert cleared');
  await tb.ctx.machines.alerts.idle();
  assert.equal(events('offline'), ['raised', 'cleared'], 'raised once, cleared once');

  const metrics = (await tb.api<string>('GET', '/metrics')).body;
  assert.ok(metric(metrics, 'fleetbind_alerts_total', { kind: 'offline', event: 'raised' }) >= 1);
  assert.not.match(metrics, /device="/, 'without --machines-device-metrics no series has a device label');
  await end(agent.client, back.client);
});

async function finish(tb: TestBroker, agent: Parameters<typeof submitOk>[0], device: JobDevice, state: 'done' | 'failed'): Promise<void> {
  const job = await submitOk(agent, identify(device.id));
  await waitUntil(() => device.isRunning(job), 10_000, `job ${job} running on the device`);
  await device.ack(state === 'failed' ? { job, state, error: 'paper jam' } : { job, state });
  await jobIn(tb, job, [state]);
}

t('half of the last jobs failed: one job-failures alert; it clears only once failures fall under half the threshold', async ({ tb }) => {
  const dev = await tb.provision();
  const device = await JobDevice.connect(tb.broker.mqttUrl, dev, { mode: 'hold' });
  const { agent, events } = await watchedAgent(tb, dev.id);
  const run = async (states: Array<'done' | 'failed'>): Promise<void> => {
    for (const s of states) await finish(tb, agent, device, s);
    await tb.ctx.machines.alerts.idle();
    // Anything the broker sent the agent by now has arrived once its own request comes back.
    await barrier(tb, [], [{ agent }]);
  };
  await run(['done', 'failed', 'done']);
  assert.equal(events('job-failures'), [], 'under a full window nothing is judged');
  await run(['failed']);
  await waitUntil(() => events('job-failures').includes('raised'), 10_000, 'the job-failures alert');
  const open = await tb.api('GET', `/api/alerts?device=${dev.id}&state=open`, undefined, agent.token);
  assert.equal(
    open.body.map((a: any) => [a.kind, a.message]),
    [['job-failures', '50% of the last 4 jobs failed']],
  );
  // Still at half, then at a quarter: neither raises again nor clears.
  await run(['done', 'done', 'done']);
  assert.equal(events('job-failures'), ['raised'], 'at a quarter the alert stays');
  await run(['done']);
  await waitUntil(() => events('job-failures').includes('cleared'), 10_000, 'the alert cleared');
  assert.equal(events('job-failures'), ['raised', 'cleared']);
  await device.close();
  await end(agent.client);
});

t(
  "the machine list's current job and queue length; a job's place and ETA in the machine's queue, by machine code; another agent and another machine get NOT_FOUND",
  async ({ tb }) => {
    const dev = await tb.provision(undefined, 'QUEUE01');
    const device = await JobDevice.connect(tb.broker.mqttUrl, dev, { mode: 'hold' });
    const agent = await tb.agent(uniq('q'));
    await claim(agent, dev.id);
    const jobs = [await submitOk(agent, identify(dev.id)), await submitOk(agent, identify(dev.id)), await submitOk(agent, identify(dev.id))];
    await waitUntil(() => device.isRunning(jobs[0]!), 10_000, 'the first job running');
    const place = async (job: string, token = agent.token, code = 'QUEUE01') => tb.api('GET', `/api/machines/${code}/queue/${job}`, undefined, token);
    // The machine list in the operators' terms: code, name, location, the job running and the queue length.
    const location = await makeLocation(tb);
    assert.is((await tb.api('PATCH', `/api/devices/${dev.id}`, { location })).status, 200);
    const listed = (await tb.api('GET', '/api/machines', undefined, agent.token)).body;
    assert.equal(
      listed.map((m: any) => [m.code, m.name, m.location, m.currentJob, m.queueLength, m.machineStatus]),
      [['QUEUE01', 'QUEUE01', location, jobs[0], 3, 'busy']],
    );
    const running = await place(jobs[0]!);
    assert.is(running.status, 200, JSON.stringify(running.body));
    assert.is(running.body.position, 0, 'the running job is at 0');
    const third = await place(jobs[2]!);
    assert.equal([third.body.state, third.body.position, third.body.device], ['queued', 2, dev.id]);
    assert.type(third.body.eta, 'number');
    assert.ok(third.body.eta >= (await place(jobs[1]!)).body.eta, 'the later job ends later');
    const other = await tb.agent(uniq('q-other'));
    assert.is((await place(jobs[2]!, other.token)).status, 404, 'another agent learns nothing');
    const elsewhere = await tb.provision(undefined, 'QUEUE02');
    assert.is((await place(jobs[2]!, tb.adminToken, elsewhere.id)).status, 404, 'the job is not on that machine');
    await device.ack({ job: jobs[0]!, state: 'done' });
    await jobIn(tb, jobs[0]!, ['done']);
    assert.equal([(await place(jobs[0]!)).body.position, (await place(jobs[2]!)).body.position], [null, 1], 'an ended job has no place; the others move up');
    await waitUntil(
      async () => (await tb.api('GET', '/api/machines/QUEUE01', undefined, agent.token)).body.currentJob === jobs[1] || undefined,
      10_000,
      'the next job current',
    );
    assert.is((await tb.api('GET', '/api/machines/QUEUE01', undefined, agent.token)).body.queueLength, 2, 'two jobs left');
    await device.close();
    await end(agent.client, other.client);
  },
);

const report = (c: MqttClient, dev: string, body: unknown): Promise<void> => publish(c, deviceTopic(dev, 'state'), body);

t('history older than the retention is pruned in batches; the series keeps the rest; an agent reads only its own', async ({ tb }) => {
  const dev = await tb.provision(undefined, 'HIST001');
  const { agent } = await watchedAgent(tb, dev.id);
  const other = await tb.agent(uniq('other'));
  const device = await tb.device(dev);
  await subscribe(agent.client, deviceTopic(dev.id, 'shadow'));
  const realNow = tb.ctx.now;
  const start = realNow() - 3 * DAY;
  const levels = [90, 80, 70, 60, 50];
  try {
    // Five samples, a day and a half ago and earlier, by the broker's clock.
    for (const [i, level] of levels.entries()) {
      tb.ctx.now = () => start + i * 3600_000;
      await report(device.client, dev.id, { consumables: { 'ink.k': { level } }, counters: { prints: i } });
      await waitFor(
        agent.client,
        (topic, j) => topic === deviceTopic(dev.id, 'shadow') && j.reported.consumables['ink.k'].level === level,
        10_000,
        `sample at ${level}%`,
      );
    }
  } finally {
    tb.ctx.now = realNow;
  }
  for (const level of [40, 30]) {
    await report(device.client, dev.id, { consumables: { 'ink.k': { level } } });
    await waitFor(
      agent.client,
      (topic, j) => topic === deviceTopic(dev.id, 'shadow') && j.reported.consumables['ink.k'].level === level,
      10_000,
      `sample at ${level}%`,
    );
  }
  const series = async (token = agent.token) => (await tb.api('GET', `/api/machines/HIST001/history?field=consumables.ink.k&from=0`, undefined, token)).body;
  assert.equal(
    (await series()).map((s: any) => s.value),
    [...levels, 40, 30],
  );
  const denied = await tb.api('GET', `/api/machines/HIST001/history?field=consumables.ink.k&from=0`, undefined, other.token);
  assert.is(denied.status, 404, 'another agent gets nothing');

  // Ten samples old enough to go: five of ink.k and five of the prints counter; batches of 3 take four rounds.
  const deleted = await pruneHistory(tb.ctx.db, realNow() - DAY, 3);
  assert.is(deleted, 10);
  assert.equal(
    (await series()).map((s: any) => s.value),
    [40, 30],
    'the recent samples stay',
  );
  assert.is(await tb.ctx.machines.prune(), 0, 'the pruning job finds nothing more');
  await end(agent.client, other.client, device.client);
});

t.run();
