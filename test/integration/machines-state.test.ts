// Machine state over the real broker (docs/architecture.md, Machine state): reported state merged
// into a versioned shadow, delivered only to the holder and admins (also after a transfer), the
// machine list and alerts, desired settings with their delta in config and versions, and bad
// reports refused, counted and harmless.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { TestBroker, connectAdmin, request } from '../helpers/broker';
import { barrier } from '../helpers/barrier';
import { metric } from '../helpers/metrics';
import { end, publish, recorder, subscribe, waitClosed, waitFor } from '../helpers/mqtt';
import { suite } from '../helpers/suite';
import { waitUntil } from '../helpers/wait';

const t = suite<{ tb: TestBroker }>('machines: state, shadow, alerts and settings');
t.before(async (ctx) => {
  ctx.tb = await TestBroker.start({
    machines: {
      lowPercent: 15,
      hysteresisPercent: 5,
      offlineAlertMs: 600_000,
      failureRate: 0.5,
      failureWindow: 10,
      historySampleMs: 0,
      historyRetentionMs: 30 * 86_400_000,
      stateRate: 50,
      stateBurst: 50,
      deviceMetrics: true,
    },
  });
});
t.after(async ({ tb }) => tb.stop());

let seq = 0;
const uniq = (p: string): string => `${p}-${++seq}-${Math.random().toString(36).slice(2, 6)}`;

async function heldMachine(tb: TestBroker, code?: string) {
  const dev = await tb.provision(undefined, code);
  const agent = await tb.agent(uniq('op'));
  const claimed = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: dev.id });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  const device = await tb.device(dev);
  return { dev, agent, device: device.client, config: device.config };
}

const report = (c: MqttClient, dev: string, body: unknown): Promise<void> => publish(c, deviceTopic(dev, 'state'), body);
const shadowWith = (c: MqttClient, dev: string, ok: (s: any) => boolean, what: string) =>
  waitFor<any>(c, (topic, j) => topic === deviceTopic(dev, 'shadow') && ok(j), 15_000, what);
const machine = async (tb: TestBroker, code: string, token?: string) => {
  const r = await tb.api('GET', `/api/machines/${code}`, undefined, token);
  assert.is(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

t('a machine scraped before it ever reported shows its first report at the next scrape and in the list', async ({ tb }) => {
  const { dev, agent, device } = await heldMachine(tb, 'CT0700109');
  const level = (text: string): number => metric(text, 'fleetbind_machine_consumable_level_percent', { device: dev.id, consumable: 'ink.m' });
  // Both read the machine before it has a shadow; what they found must not outlive its first report
  // (broker/machines/shadows.ts; the cluster suite covers a node that never saw the device).
  assert.is(level((await tb.api<string>('GET', '/metrics')).body), 0, 'no level before any report');
  assert.equal((await tb.api('GET', '/api/machines', undefined, agent.token)).body[0].consumables ?? {}, {});
  await subscribe(agent.client, [deviceTopic(dev.id, 'shadow')]);
  await report(device, dev.id, { consumables: { 'ink.m': { level: 42, unit: '%' } } });
  await shadowWith(agent.client, dev.id, (j) => j.reported.consumables?.['ink.m']?.level === 42, 'the first shadow');
  assert.is(level((await tb.api<string>('GET', '/metrics')).body), 42);
  const list = await tb.api('GET', '/api/machines', undefined, agent.token);
  assert.is(list.body[0].consumables['ink.m']?.level, 42, JSON.stringify(list.body));
  await end(agent.client, device);
});

t('ink falls as the printer works: one low-ink alert, cleared once after a refill; the machine list follows every step', async ({ tb }) => {
  const { dev, agent, device } = await heldMachine(tb, 'CT0700101');
  await subscribe(agent.client, [deviceTopic(dev.id, 'shadow'), agentTopic(agent.id, 'alerts')]);
  const alerts = recorder(agent.client);
  const steps: Array<{ level: number; status: string; machine: string }> = [
    { level: 60, status: 'busy', machine: 'busy' },
    { level: 30, status: 'idle', machine: 'idle' },
    { level: 12, status: 'idle', machine: 'attention' },
    { level: 9, status: 'busy', machine: 'busy' },
    { level: 7, status: 'idle', machine: 'attention' },
    // Refilled to just over the threshold: inside the hysteresis band, the alert stays.
    { level: 17, status: 'idle', machine: 'idle' },
    { level: 100, status: 'idle', machine: 'idle' },
  ];
  let prints = 0;
  for (const s of steps) {
    prints += 3;
    await report(device, dev.id, {
      machine: { status: s.status },
      consumables: { 'ink.k': { level: s.level, unit: '%' }, 'ink.c': { level: 80 } },
      counters: { prints },
    });
    await shadowWith(agent.client, dev.id, (j) => j.reported.consumables?.['ink.k']?.level === s.level, `shadow at ${s.level}%`);
    const list = await tb.api('GET', '/api/machines', undefined, agent.token);
    assert.is(list.status, 200);
    assert.is(list.body.length, 1, 'an agent lists only its machines');
    const m = list.body[0];
    assert.is(m.code, 'CT0700101');
    assert.is(m.consumables['ink.k'].level, s.level);
    assert.is(m.machineStatus, s.machine, `status at ${s.level}% (${s.status})`);
    assert.is(m.presence.state, 'online');
    if (s.level === 12)
      await waitUntil(() => alerts.some((a) => a.topic.endsWith('/alerts') && (a.json as any).event === 'raised'), 15_000, 'the low-ink alert');
    if (s.level === 17) {
      const open = await tb.api('GET', '/api/alerts?state=open', undefined, agent.token);
      assert.is(open.body.length, 1, 'inside the hysteresis band the alert stays open');
    }
  }
  await waitUntil(() => alerts.some((a) => (a.json as any).event === 'cleared'), 15_000, 'the alert cleared');
  const events = alerts.filter((a) => a.topic === agentTopic(agent.id, 'alerts')).map((a) => a.json as any);
  assert.equal(
    events.map((e) => [e.event, e.alert.kind, e.alert.subject]),
    [
      ['raised', 'consumable-low', 'ink.k'],
      ['cleared', 'consumable-low', 'ink.k'],
    ],
    'raised once and cleared once',
  );
  const all = await tb.api('GET', `/api/alerts?device=CT0700101`, undefined, agent.token);
  assert.is(all.body.length, 1);
  assert.is(all.body[0].state, 'cleared');

  const ack = await tb.api('POST', `/api/alerts/${all.body[0].id}/ack`, {});
  assert.is(ack.status, 200, JSON.stringify(ack.body));
  assert.ok(ack.body.ackedBy.startsWith('admin:'));
  const agentAck = await tb.api('POST', `/api/alerts/${all.body[0].id}/ack`, {}, agent.token);
  assert.is(agentAck.status, 403, 'only an admin acknowledges');

  const detail = await machine(tb, 'ct0700101', agent.token);
  assert.is(detail.shadow.reported.counters.prints, prints);
  assert.is(detail.shadow.version, steps.length);
  assert.type(detail.shadow.metadata['consumables.ink.k'], 'number');
  const history = await tb.api('GET', `/api/machines/CT0700101/history?field=consumables.ink.k`, undefined, agent.token);
  assert.equal(
    history.body.map((h: any) => h.value),
    steps.map((s) => s.level),
    'every change sampled (sampling interval 0 here)',
  );
  const metrics = (await tb.api<string>('GET', '/metrics')).body;
  assert.ok(metric(metrics, 'fleetbind_alerts_total', { kind: 'consumable-low', event: 'raised' }) >= 1);
  assert.ok(metric(metrics, 'fleetbind_machines', { status: 'idle' }) >= 1);
  assert.ok(metric(metrics, 'fleetbind_consumable_level_percent_count', { consumable: 'ink.k' }) >= 1);
  // This broker runs with --machines-device-metrics: one series per machine as well.
  assert.is(metric(metrics, 'fleetbind_machine_consumable_level_percent', { device: dev.id, consumable: 'ink.k' }), 100);
  assert.is(metric(metrics, 'fleetbind_machine_status', { device: dev.id, status: 'idle' }), 1);
  await end(agent.client, device);
});

t(
  'isolation: another agent gets no shadow, alerts or history, by name or by wildcard, over MQTT or REST; after a transfer the old agent gets nothing more',
  async ({ tb }) => {
    const { dev, agent: alice, device } = await heldMachine(tb, 'CT0700102');
    const bob = await tb.agent(uniq('bob'));
    const aliceSeen = recorder(alice.client);
    const bobSeen = recorder(bob.client);
    for (const filter of [
      deviceTopic(dev.id, 'shadow'),
      `fb/v1/d/${dev.id}/+`,
      `fb/v1/d/${dev.id}/#`,
      'fb/v1/d/+/shadow',
      'fb/v1/d/#',
      `fb/v1/a/${alice.id}/alerts`,
      'fb/v1/a/+/alerts',
      'fb/v1/admin/alerts',
      'fb/v1/#',
      '#',
    ]) {
      assert.equal(await subscribe(bob.client, filter), [128], `bob was granted ${filter}`);
    }
    assert.equal(await subscribe(alice.client, [deviceTopic(dev.id, 'shadow'), agentTopic(alice.id, 'alerts')]), [0, 0]);
    await report(device, dev.id, {
      machine: { status: 'error', error: { code: 'JAM', message: 'paper jam in tray 1' } },
      consumables: { 'ink.m': { level: 3 } },
    });
    await shadowWith(alice.client, dev.id, (j) => j.reported.machine?.status === 'error', 'alice sees the jam');
    await waitUntil(() => aliceSeen.filter((m) => m.topic.endsWith('/alerts')).length >= 2, 15_000, 'alerts for alice');
    for (const path of ['/api/machines/CT0700102', `/api/machines/${dev.id}`, '/api/machines/CT0700102/history', `/api/alerts?device=${dev.id}`]) {
      const r = await tb.api('GET', path, undefined, bob.token);
      assert.is(r.status, 404, `bob GET ${path}: ${r.status}`);
    }
    assert.equal((await tb.api('GET', '/api/machines', undefined, bob.token)).body, []);
    assert.equal((await tb.api('GET', '/api/alerts', undefined, bob.token)).body, []);
    const bobSettings = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.brightness': 10 } }, bob.token);
    assert.is(bobSettings.status, 404);

    // Transfer to carol: alice is cut off at the next message, carol receives it.
    const carol = await tb.agent(uniq('carol'));
    const moved = await tb.api('POST', `/api/devices/${dev.id}/transfer`, { agent: carol.id, reason: 'handover' });
    assert.is(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(await subscribe(carol.client, [deviceTopic(dev.id, 'shadow'), agentTopic(carol.id, 'alerts')]), [0, 0]);
    const before = aliceSeen.length;
    await report(device, dev.id, { machine: { status: 'idle', error: null }, consumables: { 'ink.m': { level: 90 } } });
    await shadowWith(carol.client, dev.id, (j) => j.reported.consumables?.['ink.m']?.level === 90, 'carol sees the refill');
    await waitUntil(
      async () => (await tb.api('GET', '/api/alerts?state=open', undefined, carol.token)).body.length === 0 || undefined,
      15_000,
      'alerts cleared',
    );
    await barrier(tb, [{ device: { client: device, dev } }], [{ agent: alice }, { agent: bob }, { agent: carol }]);
    const late = aliceSeen.slice(before).filter((m) => m.topic.includes(dev.id) || m.topic.endsWith('/alerts'));
    assert.equal(late, [], `alice still received ${JSON.stringify(late.slice(0, 2))}`);
    assert.equal(
      bobSeen.filter((m) => m.text.includes(dev.id)),
      [],
      'bob never received anything of the machine',
    );
    assert.is((await tb.api('GET', '/api/machines/CT0700102', undefined, alice.token)).status, 404, 'alice no longer sees it over REST');
    assert.is((await machine(tb, 'CT0700102', carol.token)).machineStatus, 'idle');
    await end(alice.client, bob.client, carol.client, device);
  },
);

t('desired settings reach an offline device when it reconnects; the delta empties when it reports them; stale versions are refused', async ({ tb }) => {
  const { dev, agent, device, config } = await heldMachine(tb);
  assert.is(config.delta, undefined, 'no desired settings yet');
  await end(device);
  await waitUntil(() => tb.ctx.presence.status(dev.id).state !== 'online' || undefined, 15_000, 'device gone');

  const first = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.brightness': 40, 'display.language': 'pt-br' }, version: 0 });
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.is(first.body.desiredVersion, 1);
  assert.equal(first.body.delta, { 'display.brightness': 40, 'display.language': 'pt-br' });
  // Two admins edit from the same version: the second is refused, nothing changes.
  const second = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.brightness': 90 }, version: 1 });
  assert.is(second.status, 200);
  const stale = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.brightness': 10 }, version: 1 });
  assert.is(stale.status, 409, JSON.stringify(stale.body));
  assert.is(stale.body.error.code, 'CONFLICT');
  const bad = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.brightness': 400 } });
  assert.is(bad.status, 400);
  const unknown = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'wifi.psk': 'x' } });
  assert.is(unknown.status, 400);
  // The agent may change only what an admin made agent-editable.
  const refused = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: { 'display.language': 'en' } }, agent.token);
  assert.is(refused.status, 403, JSON.stringify(refused.body));
  const marked = await tb.api('PATCH', `/api/devices/${dev.id}/settings`, { settings: {}, agentEditable: ['display.language'] });
  assert.is(marked.status, 200, JSON.stringify(marked.body));
  const viaMqtt = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'settings', device: dev.id, settings: { 'display.language': 'en' } });
  assert.ok(viaMqtt.ok, JSON.stringify(viaMqtt));
  const notEditable = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'settings', device: dev.id, settings: { 'display.brightness': 1 } });
  assert.is(notEditable.error?.code, 'FORBIDDEN');

  const back = await tb.device(dev);
  assert.equal(
    back.config.delta,
    { version: 4, settings: { 'display.brightness': 90, 'display.language': 'en' } },
    'the reconnecting device is given the whole delta',
  );
  await subscribe(agent.client, deviceTopic(dev.id, 'shadow'));
  await report(back.client, dev.id, { settings: { 'display.brightness': 90 } });
  await shadowWith(agent.client, dev.id, (j) => j.reported.settings?.['display.brightness'] === 90, 'brightness applied');
  await report(back.client, dev.id, { settings: { 'display.language': 'en' } });
  const done = await shadowWith(agent.client, dev.id, (j) => j.reported.settings?.['display.language'] === 'en', 'language applied');
  assert.equal(done.json.delta, {}, 'the delta is empty once the device reports what it applied');
  assert.is(done.json.desiredVersion, 4);
  await end(agent.client, back.client);
});

t(
  'an admin over MQTT sets desired settings and what the holder may edit; the device gets the delta; stale versions and bad values are refused',
  async ({ tb }) => {
    const { dev, agent, device } = await heldMachine(tb);
    const admin = await connectAdmin(tb.broker.mqttUrl, tb.adminToken);
    const who = { kind: 'admin' as const, id: 'ops' };
    const configs = recorder(device);
    const set = await request(admin, who, {
      op: 'settings',
      device: dev.id,
      settings: { 'display.brightness': 55 },
      version: 0,
      agentEditable: ['display.brightness'],
    });
    assert.ok(set.ok, JSON.stringify(set));
    assert.is(set.result.desiredVersion, 1);
    assert.equal(set.result.delta, { 'display.brightness': 55 });
    await waitUntil(
      () => configs.some((m) => m.topic === deviceTopic(dev.id, 'config') && (m.json as any).delta?.version === 1),
      10_000,
      'the delta in config',
    );
    const stale = await request(admin, who, { op: 'settings', device: dev.id, settings: { 'display.brightness': 5 }, version: 0 });
    assert.is(stale.error?.code, 'CONFLICT');
    const bad = await request(admin, who, { op: 'settings', device: dev.id, settings: { 'display.brightness': 'bright' } });
    assert.is(bad.error?.code, 'BAD_PARAMS');
    const badEditable = await request(admin, who, { op: 'settings', device: dev.id, settings: {}, agentEditable: ['wifi.psk'] });
    assert.is(badEditable.error?.code, 'BAD_PARAMS');
    const missing = await request(admin, who, { op: 'settings', device: 'esp32-000000000000', settings: { 'display.brightness': 5 } });
    assert.is(missing.error?.code, 'NOT_FOUND');
    // The admin made brightness agent-editable: the holder may change it now, and only it.
    const byAgent = await request(
      agent.client,
      { kind: 'agent', id: agent.id },
      { op: 'settings', device: dev.id, settings: { 'display.brightness': 65 }, version: 1 },
    );
    assert.ok(byAgent.ok, JSON.stringify(byAgent));
    const audit = await tb.api('GET', `/api/audit?device=${dev.id}`);
    assert.equal(
      audit.body
        .filter((e: any) => e.action === 'settings.desired')
        .map((e: any) => e.actor)
        .sort(),
      [`agent:${agent.id}`, 'admin:ops'].sort(),
    );
    await end(admin, agent.client, device);
  },
);

t(
  'bad reports (wrong types, unknown fields, oversize, a flood) are refused, logged with the reason and counted, change nothing, and the broker keeps serving',
  async ({ tb }) => {
    const { dev, agent, device } = await heldMachine(tb);
    await subscribe(agent.client, deviceTopic(dev.id, 'shadow'));
    await report(device, dev.id, { machine: { status: 'idle' }, consumables: { paper: { level: 50 } } });
    const good = await shadowWith(agent.client, dev.id, (j) => j.version === 1, 'first shadow');
    const before = (await tb.api<string>('GET', '/metrics')).body;
    const bad: unknown[] = [
      'not json',
      [1, 2],
      { machine: { status: 'printing' } },
      { consumables: { paper: { level: 150 } } },
      { consumables: { paper: { level: '50' } } },
      { counters: { prints: 1.5 } },
      { counters: { 'Bad Name': 1 } },
      { firmware: { hacked: true } },
      { machine: { status: 'idle', owner: 'mallory' } },
      { settings: { 'wifi.psk': 'x' } },
      { consumables: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, { level: 1 }])) },
    ];
    // The broker's logger is silent here: what it would write is caught at its warn call.
    const logged: Array<Record<string, unknown>> = [];
    const warn = tb.ctx.log.warn;
    tb.ctx.log.warn = ((obj: Record<string, unknown>, msg?: string) => {
      if (msg === 'state report refused') logged.push(obj);
    }) as typeof warn;
    try {
      for (const b of bad) await report(device, dev.id, typeof b === 'string' ? b : b);
      await waitUntil(() => logged.length >= 2 || undefined, 15_000, 'the refusals logged');
    } finally {
      tb.ctx.log.warn = warn;
    }
    assert.equal(
      logged.slice(0, 2).map((l) => [l.device, l.reason, l.error]),
      [
        [dev.id, 'json', 'payload is not valid JSON'],
        [dev.id, 'schema', 'state must be a JSON object'],
      ],
      'each refusal logged with its reason',
    );
    await barrier(tb, [{ device: { client: device, dev } }], [{ agent }]);
    await waitUntil(
      async () =>
        metric((await tb.api<string>('GET', '/metrics')).body, 'fleetbind_state_refusals_total', { reason: 'schema' }) -
          metric(before, 'fleetbind_state_refusals_total', { reason: 'schema' }) >=
          bad.length - 1 || undefined,
      15_000,
      'schema refusals counted',
    );
    const after = (await tb.api<string>('GET', '/metrics')).body;
    assert.is(metric(after, 'fleetbind_state_refusals_total', { reason: 'json' }) - metric(before, 'fleetbind_state_refusals_total', { reason: 'json' }), 1);
    assert.equal((await machine(tb, dev.id, agent.token)).shadow, good.json, 'nothing changed');

    // A flood over the device's rate: the excess is refused before it is parsed.
    for (let i = 0; i < 200; i++) void report(device, dev.id, { counters: { prints: i } });
    await waitUntil(
      async () => metric((await tb.api<string>('GET', '/metrics')).body, 'fleetbind_state_refusals_total', { reason: 'rate' }) > 0 || undefined,
      15_000,
      'rate refusals counted',
    );

    // Oversize: over the 4 KiB limit closes the device's connection (acl payload-size), nothing merged.
    const closed = waitClosed(device, 15_000);
    await report(device, dev.id, { machine: { status: 'idle', error: { code: 'X', message: 'y'.repeat(5000) } } });
    await closed;
    const sizeRefused = metric((await tb.api<string>('GET', '/metrics')).body, 'fleetbind_acl_denials_total', { rule: 'publish:payload-size' });
    assert.ok(sizeRefused >= 1);
    const m = await machine(tb, dev.id, agent.token);
    assert.not.ok(JSON.stringify(m.shadow).includes('yyyy'));

    // The broker still serves: the device reconnects and its next report is merged.
    const again = await tb.device(dev);
    await report(again.client, dev.id, { consumables: { paper: { level: 49 } } });
    await shadowWith(agent.client, dev.id, (j) => j.reported.consumables?.paper?.level === 49, 'a good report after the bad ones');
    await end(agent.client, again.client);
  },
);

t.run();
