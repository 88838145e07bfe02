// Isolation matrix: two agents, two devices, every topic of the tree. An agent
// can neither subscribe to, publish to, nor receive anything of the other's device; a device
// cannot publish as another device or on broker-only leaves.
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { agentTopic, adminTopic, deviceTopic, enrollReplyTopic, enrollTopic, eventTopic } from '../../protocol/topics';
import { request } from '../helpers/broker';
import { barrier } from '../helpers/barrier';
import { connect, end, publish, recorder, subscribe, waitClosed } from '../helpers/mqtt';
import type { Dev, Fleet, Transport } from './fleet';

const DEVICE_LEAVES = ['hello', 'status', 'config', 'cmd', 'ack', 'jobs', 'state', 'shadow'] as const;

/** Every topic and filter an agent might try on someone else's device or agent. */
function foreignFilters(dev: string, otherAgent: string, mac: string): string[] {
  return [
    ...DEVICE_LEAVES.map((l) => deviceTopic(dev, l)),
    eventTopic(dev, 'telemetry'),
    `fb/v1/d/${dev}/evt/+`,
    `fb/v1/d/${dev}/evt/#`,
    `fb/v1/d/${dev}/+`,
    `fb/v1/d/${dev}/#`,
    agentTopic(otherAgent, 'res'),
    agentTopic(otherAgent, 'bindings'),
    agentTopic(otherAgent, 'alerts'),
    agentTopic(otherAgent, 'req'),
    'fb/v1/d/+/shadow',
    'fb/v1/a/+/alerts',
    `fb/v1/a/${otherAgent}/#`,
    'fb/v1/d/+/status',
    'fb/v1/d/+/evt/#',
    'fb/v1/d/#',
    'fb/v1/a/+/res',
    'fb/v1/a/#',
    'fb/v1/+/+/status',
    'fb/v1/#',
    '#',
    '+/#',
    '$SYS/#',
    enrollReplyTopic(mac),
    `fb/v1/enroll/+/reply`,
    adminTopic('admin', 'res'),
  ];
}

export interface IsolationSetup {
  a: { client: MqttClient; id: string; token: string };
  b: { client: MqttClient; id: string; token: string };
  da: Dev;
  db: Dev;
  devA: MqttClient;
  devB: MqttClient;
}

export async function setupTwoAgents(fleet: Fleet, agentTransport: Transport, deviceTransport: Transport): Promise<IsolationSetup> {
  const suffix = Math.random().toString(36).slice(2, 7);
  const da = await fleet.provision();
  const db = await fleet.provision();
  const devA = (await fleet.device(da, { node: 0, transport: deviceTransport })).client;
  const devB = (await fleet.device(db, { node: fleet.nodes - 1, transport: deviceTransport })).client;
  const a = await fleet.agent(`alice-${suffix}`, { node: fleet.nodes - 1, transport: agentTransport });
  const b = await fleet.agent(`bob-${suffix}`, { node: 0, transport: agentTransport });
  const ca = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: da.id });
  const cb = await request(b.client, { kind: 'agent', id: b.id }, { op: 'claim', target: db.id });
  assert.ok(ca.ok, JSON.stringify(ca));
  assert.ok(cb.ok, JSON.stringify(cb));
  return { a, b, da, db, devA, devB };
}

export async function isolationMatrix(fleet: Fleet, agentTransport: Transport, deviceTransport: Transport): Promise<void> {
  const s = await setupTwoAgents(fleet, agentTransport, deviceTransport);
  const { a, b, da, db, devA, devB } = s;
  const seenByA = recorder(a.client);
  const seenByDevA = recorder(devA);

  // Subscribing to anything of B's, or any wildcard in an id segment, is refused (SUBACK 0x80).
  for (const filter of foreignFilters(db.id, b.id, db.mac)) {
    const [granted] = await subscribe(a.client, filter);
    assert.is(granted, 128, `agent A was granted ${filter}`);
  }
  // A's own device: only status, jobs, shadow and evt are visible; broker-only and device-only leaves are refused.
  for (const leaf of ['hello', 'config', 'cmd', 'ack', 'state'] as const) {
    const [granted] = await subscribe(a.client, deviceTopic(da.id, leaf));
    assert.is(granted, 128, `agent A was granted its device's ${leaf}`);
  }
  assert.equal(await subscribe(a.client, [`fb/v1/d/${da.id}/#`]), [0]);
  // B watches its own device's data only so that device B's barrier marker has a receiver.
  assert.equal(await subscribe(b.client, [eventTopic(db.id, 'telemetry')]), [0]);

  // Traffic on every leaf of both devices and B's agent tree.
  for (const dev of [
    { c: devA, d: da },
    { c: devB, d: db },
  ]) {
    await publish(dev.c, deviceTopic(dev.d.id, 'hello'), { fw: '1.0.0', model: 'test-board', mac: dev.d.mac, caps: ['qr.show'], boot: 2, uptime: 1 });
    await publish(dev.c, deviceTopic(dev.d.id, 'ack'), { job: 'j-none', state: 'done' });
    await publish(dev.c, eventTopic(dev.d.id, 'telemetry'), { t: 21.5, from: dev.d.id });
    await publish(dev.c, deviceTopic(dev.d.id, 'state'), { machine: { status: 'idle' }, consumables: { 'ink.k': { level: 50 } } });
    await publish(dev.c, deviceTopic(dev.d.id, 'status'), { state: 'online' }, { retain: true });
  }
  await request(b.client, { kind: 'agent', id: b.id }, { op: 'list' });
  await barrier(
    fleet,
    [
      { marker: { from: devA, topic: eventTopic(da.id, 'telemetry'), to: a.client } },
      { marker: { from: devB, topic: eventTopic(db.id, 'telemetry'), to: b.client } },
    ],
    [{ agent: a }],
  );

  const leaked = seenByA.filter((m) => m.topic.includes(db.id) || m.topic.includes(`/a/${b.id}/`) || m.text.includes(db.id));
  assert.equal(leaked, [], `agent A received B's traffic: ${JSON.stringify(leaked.slice(0, 3))}`);
  const ownLeaves = new Set(seenByA.filter((m) => m.topic.includes(da.id)).map((m) => m.topic.split('/').slice(4).join('/')));
  assert.ok(ownLeaves.has('evt/telemetry') && ownLeaves.has('status'), `A should see its device's evt and status, saw ${[...ownLeaves]}`);
  for (const leaf of ownLeaves) assert.ok(['status', 'jobs', 'shadow', 'evt/telemetry'].includes(leaf), `A received its device's ${leaf}`);

  // Publishing on B's device topics, B's agent topics, or broker-only topics closes A's connection
  // and delivers nothing. Each attempt on a fresh connection.
  const forbidden = [
    ...DEVICE_LEAVES.map((l) => deviceTopic(db.id, l)),
    eventTopic(db.id, 'telemetry'),
    agentTopic(b.id, 'req'),
    agentTopic(b.id, 'res'),
    agentTopic(b.id, 'bindings'),
    deviceTopic(da.id, 'cmd'),
    deviceTopic(da.id, 'config'),
    deviceTopic(da.id, 'jobs'),
    enrollTopic(db.mac),
    'fb/v1/other',
    'elsewhere',
  ];
  const seenByDevB = recorder(devB);
  const seenByB = recorder(b.client);
  for (const topic of forbidden) {
    const c = await fleet.agent(`mallory-${Math.random().toString(36).slice(2, 8)}`, { transport: agentTransport });
    const closed = waitClosed(c.client, 5000);
    await publish(c.client, topic, { job: 'j-evil', kind: 'identify', params: { seconds: 1 }, attempt: 1, deadline: 0, agent: { id: c.id, name: 'x' } });
    await closed;
    await end(c.client);
  }
  // Each forger's connection was closed by the broker, so its publish has been handled.
  await barrier(fleet, [], [{ device: { client: devB, dev: db } }, { agent: b }]);
  assert.equal(
    seenByDevB.filter((m) => m.text.includes('j-evil') || m.text.includes('mallory')),
    [],
    'device B received a forged message',
  );
  assert.equal(
    seenByB.filter((m) => m.text.includes('j-evil')),
    [],
    'agent B received a forged message',
  );

  // A device cannot publish as another device, nor on broker-only leaves of its own tree.
  const devForbidden = [
    deviceTopic(db.id, 'hello'),
    deviceTopic(db.id, 'status'),
    deviceTopic(db.id, 'state'),
    deviceTopic(da.id, 'shadow'),
    deviceTopic(db.id, 'ack'),
    eventTopic(db.id, 'telemetry'),
    deviceTopic(da.id, 'cmd'),
    deviceTopic(da.id, 'config'),
    deviceTopic(da.id, 'jobs'),
    agentTopic(a.id, 'res'),
    agentTopic(a.id, 'bindings'),
  ];
  for (const topic of devForbidden) {
    const { client } = await fleet.device(da, { transport: deviceTransport });
    const closed = waitClosed(client, 5000);
    await publish(client, topic, { job: 'j-evil', state: 'done', fw: 'x', model: 'x', mac: da.mac, caps: [], boot: 1, uptime: 0 });
    await closed;
    await end(client);
  }
  // Each forger connected with device A's id and so took device A's connection over: only agent
  // A is left to receive anything.
  await barrier(fleet, [], [{ agent: a }]);
  assert.equal(
    seenByA.filter((m) => m.text.includes('j-evil')),
    [],
    'agent A received a device forgery',
  );
  assert.equal(
    seenByDevA.filter((m) => m.text.includes('j-evil')),
    [],
    'device A received a forgery',
  );
  assert.equal(fleet.aclAgentOf(db.id), Array(fleet.nodes).fill(b.id));
  await end(a.client, b.client, devA, devB);
}

/** Connecting as a device with another device's id, or without credentials, is refused. */
export async function identityChecks(fleet: Fleet, url: string): Promise<void> {
  const da = await fleet.provision();
  const db = await fleet.provision();
  await assertRefused(connect(url, { clientId: db.id, username: da.id, password: da.secret }));
  await assertRefused(connect(url, { clientId: da.id, username: da.id, password: db.secret }));
  await assertRefused(connect(url, { clientId: 'agent:nobody:x', username: 'agent:nobody', password: 'nothing' }));
  await assertRefused(connect(url, { clientId: 'y' }));
}

async function assertRefused(p: Promise<MqttClient>): Promise<void> {
  const outcome = await p.then(
    (c) => {
      c.end(true);
      return 'accepted';
    },
    (err: Error) => err.message,
  );
  assert.match(outcome, /refused|Bad username|Not authorized|closed/i, `expected a refused CONNACK, got ${outcome}`);
}
