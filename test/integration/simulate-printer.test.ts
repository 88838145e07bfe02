// A simulated printer (host-tools/simulate/sim-printer.ts) behind the real firmware core: print
// jobs sent as serial.send use ink; the core reads the printer's status over the serial exchange
// and reports it; GET /api/machines follows every step; a low-ink alert is raised once and
// cleared once after a refill; a jam is an error alert until it is cleared.
import * as assert from 'uvu/assert';
import type { SimFleet } from '../../host-tools/simulate/fleet';
import type { PrinterOptions } from '../../host-tools/simulate/sim-printer';
import { agentTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { recorder, subscribe } from '../helpers/mqtt';
import { enrollmentToken, startFleet } from '../helpers/sim';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite('simulated printer: ink, jams and alerts');
let b: TestBroker;
let fleet: SimFleet | undefined;

t.before(async () => {
  b = await TestBroker.start({
    machines: {
      lowPercent: 15,
      hysteresisPercent: 5,
      offlineAlertMs: 600_000,
      failureRate: 0.5,
      failureWindow: 10,
      historySampleMs: 0,
      historyRetentionMs: 86_400_000,
      stateRate: 50,
      stateBurst: 50,
      deviceMetrics: false,
    },
  });
});
t.after(async () => {
  fleet?.stop();
  await b.stop();
});

const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');

t('print jobs use ink; the machine list shows every level; low ink alerts once and clears once after a refill; a jam is an error until cleared', async () => {
  const printer: PrinterOptions = { jamProbability: 0, inkPerPage: 4, msPerPage: 20, random: () => 0.5 };
  fleet = startFleet(b.broker.mqttUrl, {
    devices: 1,
    enrollToken: await enrollmentToken(b, 1),
    machinesPrefix: 'PR-',
    printer,
    core: { machinePollMs: 100, stateMinIntervalMs: 50 },
  });
  await fleet.waitFor((s) => s.connected === 1, 30_000, 'the device online');
  const device = fleet.devices[0]!;
  const sim = device.printer!;
  const agent = await b.agent('printshop');
  const who = { kind: 'agent' as const, id: agent.id };
  const claim = await request(agent.client, who, { op: 'claim', target: device.deviceId });
  assert.ok(claim.ok, JSON.stringify(claim));
  await subscribe(agent.client, agentTopic(agent.id, 'alerts'));
  const seen = recorder(agent.client);
  const machineRow = async () => (await b.api('GET', '/api/machines', undefined, agent.token)).body[0];
  const levelIs = (k: number, status: string) =>
    waitUntil(
      async () => {
        const m = await machineRow();
        return m?.consumables?.['ink.k']?.level === k && m.machineStatus === status ? m : undefined;
      },
      20_000,
      () => `ink.k ${k} and ${status}`,
    );

  await levelIs(100, 'idle');
  const levels: number[] = [];
  for (let job = 1; job <= 9; job++) {
    const submit = await request(agent.client, who, {
      op: 'submit',
      device: device.deviceId,
      kind: 'serial.send',
      params: { data: b64('PRINT 2\n'), timeoutMs: 2000, expect: b64('\n') },
    });
    assert.ok(submit.ok, JSON.stringify(submit));
    await waitUntil(
      async () => (await b.api(`GET`, `/api/jobs/${submit.result.job}`, undefined, agent.token)).body.state === 'done' || undefined,
      20_000,
      `print job ${job} done`,
    );
    const k = sim.ink.k;
    const m = await levelIs(k, k < 15 ? 'attention' : 'idle');
    assert.is(m.consumables['ink.c'].level, sim.ink.c);
    assert.is(m.code, device.label);
    levels.push(k);
  }
  assert.equal(levels, [88, 76, 64, 52, 40, 28, 16, 4, 0], 'ink.k fell 12 points a job (2 pages, 4 points a page, black 1.5 times)');
  await waitUntil(() => seen.some((m) => (m.json as any)?.event === 'raised'), 20_000, 'the low-ink alert');
  const detail = (await b.api('GET', `/api/machines/${device.label}`, undefined, agent.token)).body;
  assert.is(detail.shadow.reported.counters.prints, 18);
  const history = (await b.api('GET', `/api/machines/${device.label}/history?field=consumables.ink.k`, undefined, agent.token)).body;
  assert.equal(
    history.map((h: any) => h.value),
    [100, ...levels],
    'every level is in the history',
  );

  sim.refill();
  await levelIs(100, 'idle');
  await waitUntil(() => seen.some((m) => (m.json as any)?.event === 'cleared'), 20_000, 'the alert cleared');

  printer.jamProbability = 1;
  const jam = await request(agent.client, who, {
    op: 'submit',
    device: device.deviceId,
    kind: 'serial.send',
    params: { data: b64('PRINT 1\n'), timeoutMs: 2000, expect: b64('\n') },
  });
  assert.ok(jam.ok);
  // The status follows the shadow at once; the error alert is raised just after it, so wait for both.
  let last: unknown;
  await waitUntil(
    async () => {
      const m = await machineRow();
      last = m;
      return m?.machineStatus === 'error' && m.openAlerts === 1;
    },
    20_000,
    () => `the jam reported with one open alert (last: ${JSON.stringify(last)})`,
  );
  printer.jamProbability = 0;
  const clear = await request(agent.client, who, {
    op: 'submit',
    device: device.deviceId,
    kind: 'serial.send',
    params: { data: b64('CLEAR\n'), timeoutMs: 2000, expect: b64('\n') },
  });
  assert.ok(clear.ok);
  await levelIs(100, 'idle');
  await waitUntil(() => seen.filter((m) => (m.json as any)?.event === 'cleared').length === 2, 20_000, 'the jam alert cleared');

  const events = seen
    .filter((m) => m.topic === agentTopic(agent.id, 'alerts'))
    .map((m) => m.json as any)
    .map((e) => [e.event, e.alert.kind, e.alert.subject]);
  assert.equal(
    events,
    [
      ['raised', 'consumable-low', 'ink.k'],
      ['cleared', 'consumable-low', 'ink.k'],
      ['raised', 'machine-error', 'machine'],
      ['cleared', 'machine-error', 'machine'],
    ],
    'each alert raised once and cleared once',
  );
});

t.run();
