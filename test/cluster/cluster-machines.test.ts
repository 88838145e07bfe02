// Machine state on two nodes sharing PostgreSQL and Redis (docs/architecture.md, Machine state):
// a device reports on one node while its agent reads on the other; desired settings made on one
// node reach the device on the other; reports and desired changes racing on both nodes all land
// by compare-and-set; an alert raised on one node is cleared on the other after the device moves,
// acknowledged on either; offline raised by the node it left and cleared by the node it comes back to.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { adminAlertsTopic, agentTopic, deviceTopic } from '../../protocol/topics';
import { adminQuery } from '../helpers/backends';
import { connectAdmin, request } from '../helpers/broker';
import { clusterSuite } from '../helpers/cluster';
import { end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const { t, on } = clusterSuite('machine state on a two-node cluster', {
  machines: {
    lowPercent: 15,
    hysteresisPercent: 5,
    offlineAlertMs: 500,
    failureRate: 0.5,
    failureWindow: 10,
    historySampleMs: 0,
    historyRetentionMs: 30 * 86_400_000,
    stateRate: 1000,
    stateBurst: 1000,
    deviceMetrics: false,
  },
});

const report = (c: MqttClient, dev: string, body: unknown): Promise<void> => publish(c, deviceTopic(dev, 'state'), body);
const shadowWith = (c: MqttClient, dev: string, ok: (s: any) => boolean, what: string) =>
  waitFor<any>(c, (topic, j) => topic === deviceTopic(dev, 'shadow') && ok(j), 15_000, what);
const uniq = (p: string): string => `${p}-${Date.now() % 100000}-${Math.random().toString(36).slice(2, 6)}`;

on(
  'reports on node 2 are read on node 1 (MQTT and REST, every step); desired settings made on node 1 reach the device on node 2 and on node 1 after it moves',
  async (cluster) => {
    const [n1, n2] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
    const code = `CL${Date.now() % 1000000}`;
    const d = await cluster.provision(undefined, code);
    const a = await cluster.agent(uniq('op'), { node: 0 });
    assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
    await subscribe(a.client, deviceTopic(d.id, 'shadow'));
    const dev = await cluster.device(d, { node: 1 });
    for (const level of [80, 60, 40]) {
      await report(dev.client, d.id, { machine: { status: 'idle' }, consumables: { 'ink.c': { level } } });
      await shadowWith(a.client, d.id, (j) => j.reported.consumables?.['ink.c']?.level === level, `shadow at ${level}% on node 1`);
      for (const node of [n1, n2]) {
        const m = await node.api('GET', `/api/machines/${code}`, undefined, a.token);
        assert.is(m.status, 200, JSON.stringify(m.body));
        assert.is(m.body.consumables['ink.c'].level, level, 'each node lists the latest level');
        assert.is(m.body.machineStatus, 'idle');
      }
    }

    const configs = recorder(dev.client);
    const set = await n1.api('PATCH', `/api/devices/${d.id}/settings`, { settings: { 'display.brightness': 70 }, version: 0 });
    assert.is(set.status, 200, JSON.stringify(set.body));
    await waitUntil(
      () => configs.some((m) => m.topic === deviceTopic(d.id, 'config') && (m.json as any).delta?.settings?.['display.brightness'] === 70),
      15_000,
      'the delta reached the device on node 2',
    );
    const stale = await n2.api('PATCH', `/api/devices/${d.id}/settings`, { settings: { 'display.brightness': 10 }, version: 0 });
    assert.is(stale.status, 409, 'node 2 knows the desired version moved on node 1');
    const second = await n2.api('PATCH', `/api/devices/${d.id}/settings`, { settings: { 'display.language': 'de' }, version: 1 });
    assert.is(second.status, 200, JSON.stringify(second.body));

    // The device moves to node 1, which last saw version 1 of the desired settings.
    await end(dev.client);
    const back = await cluster.device(d, { node: 0 });
    assert.equal(back.config.delta, { version: 2, settings: { 'display.brightness': 70, 'display.language': 'de' } }, 'node 1 hands the newest delta');
    await report(back.client, d.id, { settings: { 'display.brightness': 70, 'display.language': 'de' } });
    const done = await shadowWith(a.client, d.id, (j) => j.reported.settings?.['display.language'] === 'de', 'settings applied');
    assert.equal(done.json.delta, {}, 'the delta is empty once reported');
    for (const node of [n1, n2])
      assert.equal((await node.api('GET', `/api/machines/${code}`, undefined, a.token)).body.shadow.delta, {}, 'both nodes show the empty delta');
    await end(a.client, back.client);
  },
);

on("a machine listed on node 1 before it ever reported shows its first report on node 2 in node 1's list", async (cluster) => {
  const [n1] = cluster.members;
  const d = await cluster.provision();
  // Claimed and connected on node 2 only: node 1 has read nothing of this device's shadow.
  const a = await cluster.agent(uniq('op'), { node: 1 });
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  const dev = await cluster.device(d, { node: 1 });
  const listed = async () => (await n1!.api('GET', '/api/machines', undefined, a.token)).body[0];
  // Node 1 finds no shadow and remembers that (broker/machines/shadows.ts) until told of one.
  assert.equal((await listed()).consumables, {});
  await subscribe(a.client, deviceTopic(d.id, 'shadow'));
  await report(dev.client, d.id, { consumables: { 'ink.y': { level: 55 } } });
  await shadowWith(a.client, d.id, (j) => j.reported.consumables?.['ink.y']?.level === 55, 'the first shadow');
  await waitUntil(async () => (await listed()).consumables['ink.y']?.level === 55 || undefined, 10_000, "node 1's list showing the first report");
  await end(a.client, dev.client);
});

on('reports on node 2 racing desired changes on node 1: every change lands, each stored version is published once', async (cluster) => {
  const [n1] = cluster.members;
  const d = await cluster.provision();
  const dev = await cluster.device(d, { node: 1 });
  const admin = await connectAdmin(cluster.members[0]!.broker.mqttUrl, cluster.adminToken);
  await subscribe(admin, deviceTopic(d.id, 'shadow'));
  const seen = recorder(admin);
  const REPORTS = 30;
  const CHANGES = 10;
  const patches: Promise<unknown>[] = [];
  for (let i = 1; i <= Math.max(REPORTS, CHANGES); i++) {
    if (i <= REPORTS) await report(dev.client, d.id, { counters: { prints: i } });
    if (i <= CHANGES) patches.push(n1!.api('PATCH', `/api/devices/${d.id}/settings`, { settings: { 'qr.defaultExpirySeconds': 60 + i } }));
  }
  const answers = (await Promise.all(patches)) as Array<{ status: number }>;
  assert.equal(
    answers.map((r) => r.status),
    answers.map(() => 200),
  );
  const shadows = () => seen.filter((m) => m.topic === deviceTopic(d.id, 'shadow')).map((m) => m.json as any);
  await waitUntil(
    () => shadows().some((j) => j.reported.counters?.prints === REPORTS && j.desiredVersion === CHANGES),
    15_000,
    'every report and change in a shadow',
  );
  const row = await adminQuery(cluster.members[0]!.ctx.opts.databaseUrl!, 'select version, desired_version, reported from machine_shadows where device = $1', [
    d.id,
  ]);
  const version = Number(row.rows[0].version);
  assert.is(Number(row.rows[0].desired_version), CHANGES);
  assert.is(JSON.parse(row.rows[0].reported).counters.prints, REPORTS);
  // Reports waiting for a write share it, so there are at most as many versions as changes.
  assert.ok(version > CHANGES && version <= REPORTS + CHANGES, `version ${version}`);
  await waitUntil(() => shadows().length >= version, 15_000, 'a shadow for every version');
  assert.equal(
    shadows()
      .map((j) => j.version)
      .sort((a, b) => a - b),
    Array.from({ length: version }, (_, k) => k + 1),
    'each version published once, none lost to the other node',
  );
  await end(admin, dev.client);
});

on(
  'an alert raised on node 2 is cleared on node 1 after the device moves, acknowledged on either node; offline raised on one node is cleared on the other',
  async (cluster) => {
    const [n1, n2] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
    const d = await cluster.provision();
    const a = await cluster.agent(uniq('al'), { node: 0 });
    assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
    await subscribe(a.client, agentTopic(a.id, 'alerts'));
    const admin = await connectAdmin(n2.broker.mqttUrl, cluster.adminToken);
    await subscribe(admin, adminAlertsTopic);
    const seen = recorder(a.client);
    const adminSeen = recorder(admin);
    const events = () =>
      seen
        .filter((m) => m.topic === agentTopic(a.id, 'alerts'))
        .map((m) => m.json as any)
        .filter((e) => e.alert.device === d.id);

    const first = await cluster.device(d, { node: 1 });
    await report(first.client, d.id, { consumables: { 'ink.y': { level: 5 } } });
    await waitUntil(() => events().some((e) => e.event === 'raised'), 15_000, 'the low-ink alert');
    await end(first.client);
    const moved = await cluster.device(d, { node: 0 });
    // A repeat of the low level on the new node must not raise it again.
    await report(moved.client, d.id, { consumables: { 'ink.y': { level: 4 } } });
    await report(moved.client, d.id, { consumables: { 'ink.y': { level: 100 } } });
    await waitUntil(() => events().some((e) => e.event === 'cleared'), 15_000, 'the alert cleared on the other node');
    const low = events()
      .filter((e) => e.alert.kind === 'consumable-low')
      .map((e) => e.event);
    assert.equal(low, ['raised', 'cleared'], 'raised once and cleared once across nodes');

    const id = events()[0].alert.id as string;
    for (const node of [n1, n2]) {
      const list = await node.api('GET', `/api/alerts?device=${d.id}`, undefined, a.token);
      assert.equal(
        list.body.map((x: any) => [x.id, x.state]),
        [[id, 'cleared']],
        'both nodes list the cleared alert',
      );
    }
    const ack = await n2.api('POST', `/api/alerts/${id}/ack`, {});
    assert.is(ack.status, 200, JSON.stringify(ack.body));
    await waitUntil(() => events().some((e) => e.event === 'acked'), 15_000, 'the agent on node 1 told of the ack');
    assert.is((await n1.api('GET', `/api/alerts?device=${d.id}`)).body[0].ackedBy, ack.body.ackedBy);

    await end(moved.client);
    await waitUntil(
      () => adminSeen.some((m) => (m.json as any).alert?.device === d.id && (m.json as any).alert.kind === 'offline'),
      15_000,
      'the offline alert',
    );
    await cluster.flush();
    await n1.ctx.machines.alerts.idle();
    await n2.ctx.machines.alerts.idle();
    await cluster.flush();
    const offline = await adminQuery(n1.ctx.opts.databaseUrl!, `select count(*)::int as n from alerts where device = $1 and kind = 'offline'`, [d.id]);
    assert.is(offline.rows[0].n, 1, 'one offline alert row');
    assert.is(events().filter((e) => e.alert.kind === 'offline' && e.event === 'raised').length, 1, 'the agent is told once');
    // Back online on node 2, which did not raise it, clears it once.
    const again = await cluster.device(d, { node: 1 });
    await waitUntil(() => events().some((e) => e.alert.kind === 'offline' && e.event === 'cleared'), 15_000, 'offline cleared');
    await end(a.client, admin, again.client);
  },
);

t.run();
