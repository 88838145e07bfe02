// Live revocation: after a transfer the old agent receives nothing of the
// device from the very next message on, without reconnecting.
import * as assert from 'uvu/assert';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import { request } from '../helpers/broker';
import { barrier } from '../helpers/barrier';
import { connect, end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import type { Fleet } from './fleet';

export async function transferCutsOffOldAgent(fleet: Fleet, adminUrl: string, adminToken: string): Promise<void> {
  const d = await fleet.provision();
  const dev = await fleet.device(d, { node: fleet.nodes - 1 });
  const a = await fleet.agent(`rev-a-${Math.random().toString(36).slice(2, 6)}`, { node: 0 });
  const b = await fleet.agent(`rev-b-${Math.random().toString(36).slice(2, 6)}`, { node: fleet.nodes - 1 });
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  assert.equal(await subscribe(a.client, [deviceTopic(d.id, 'status'), `fb/v1/d/${d.id}/evt/#`]), [0, 0]);

  const before = waitFor(a.client, (t, j) => t === eventTopic(d.id, 'data') && j.n === 1, 3000, 'event before transfer');
  await publish(dev.client, eventTopic(d.id, 'data'), { n: 1 });
  await before;

  const seenByA = recorder(a.client);
  let reconnects = 0;
  a.client.on('connect', () => reconnects++);
  const admin = await connect(adminUrl, { clientId: `admin:ops:${Math.random().toString(36).slice(2, 6)}`, username: 'admin:ops', password: adminToken });
  await subscribe(admin, 'fb/v1/admin/ops/res');
  const aBindings = waitFor(a.client, (t, j) => t.endsWith(`/a/${a.id}/bindings`) && j.devices.length === 0, 3000, "A's bindings without the device");
  const t = await request(admin, { kind: 'admin', id: 'ops' }, { op: 'transfer', device: d.id, agent: b.id, reason: 'revocation test' });
  assert.ok(t.ok, JSON.stringify(t));
  await aBindings;

  assert.equal(await subscribe(b.client, [`fb/v1/d/${d.id}/evt/#`]), [0]);
  const toB = waitFor(b.client, (tp, j) => tp === eventTopic(d.id, 'data') && j.n === 2, 3000, 'event after transfer at B');
  await publish(dev.client, eventTopic(d.id, 'data'), { n: 2 });
  await publish(dev.client, deviceTopic(d.id, 'status'), { state: 'online' }, { retain: true });
  await toB;
  await barrier(fleet, [{ marker: { from: dev.client, topic: eventTopic(d.id, 'data'), to: b.client } }], [{ agent: a }]);
  const leaked = seenByA.filter((m) => m.topic.includes(d.id));
  assert.equal(leaked, [], `A received after the transfer: ${JSON.stringify(leaked)}`);
  assert.ok(a.client.connected, 'A stays connected');
  assert.is(reconnects, 0, 'A did not reconnect');
  // A retained status re-delivered on a fresh subscribe is refused too.
  const [granted] = await subscribe(a.client, deviceTopic(d.id, 'status'));
  assert.is(granted, 128);
  await end(a.client, b.client, dev.client, admin);
}
