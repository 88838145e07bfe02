// State that several nodes must agree on beyond bindings: a claim code issued by one node works
// on the other, a re-provisioned secret replaces the old one everywhere, a deleted device is
// forgotten everywhere, an admin's kick or disable reaches every node, and /healthz shows the
// shared backends.
import * as assert from 'uvu/assert';
import { connectAgent, connectDevice, request } from '../helpers/broker';
import { clusterSuite } from '../helpers/cluster';
import { connectRefused, end, waitClosed } from '../helpers/mqtt';

const { t, on } = clusterSuite('shared state on a two-node cluster');

on('a claim code shown by a device on node 2 claims it for an agent on node 1', async (cluster) => {
  const d = await cluster.provision();
  const dev = await cluster.device(d, { node: 1 });
  assert.type(dev.config.claimCode, 'string');
  const a = await cluster.agent(`coder-${Date.now() % 100000}`, { node: 0 });
  await cluster.flush();
  const r = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', code: dev.config.claimCode });
  assert.ok(r.ok, JSON.stringify(r));
  assert.is(r.result.device.id, d.id);
  // Used once: the code is gone on both nodes.
  await cluster.flush();
  const again = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', code: dev.config.claimCode });
  assert.is(again.error?.code, 'UNKNOWN_MACHINE');
  await end(a.client, dev.client);
});

on('re-provisioning on node 1 stops the old secret on node 2, which had it cached', async (cluster) => {
  const d = await cluster.provision();
  const first = await connectDevice(cluster.members[1]!.broker.mqttUrl, d);
  await end(first.client);
  const re = await cluster.api('POST', '/api/devices', { mac: d.mac, reprovision: true });
  assert.is(re.status, 201, JSON.stringify(re.body));
  const refused = await connectRefused(cluster.members[1]!.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret });
  assert.match(refused.message, /Bad username or password/);
  const fresh = await connectDevice(cluster.members[1]!.broker.mqttUrl, { ...d, secret: re.body.secret });
  await end(fresh.client);
});

on('re-provisioning on node 1 closes the live connection with the old secret on node 2; logout on node 1 closes the session on node 2', async (cluster) => {
  const d = await cluster.provision();
  const old = await connectDevice(cluster.members[1]!.broker.mqttUrl, d);
  const re = await cluster.members[0]!.api('POST', '/api/devices', { mac: d.mac, reprovision: true });
  assert.is(re.status, 201, JSON.stringify(re.body));
  await waitClosed(old.client, 1000);
  const a = await cluster.createAgent(`leaver-${Date.now() % 100000}`);
  const token = await cluster.members[0]!.login(a.id, a.password);
  const live = await connectAgent(cluster.members[1]!.broker.wsUrl, a.id, token);
  assert.is((await cluster.members[0]!.api('POST', '/api/logout', undefined, token)).status, 204);
  await waitClosed(live, 1000);
});

on('a deleted device is forgotten on every node; provisioned again with its MAC and claimed, every ACL map follows', async (cluster) => {
  const d = await cluster.provision();
  const a = await cluster.agent(`del-${Date.now() % 100000}`, { node: 1 });
  const who = { kind: 'agent' as const, id: a.id };
  for (let i = 0; i < 3; i++) {
    assert.ok((await request(a.client, who, { op: 'claim', target: d.id })).ok);
    assert.ok((await request(a.client, who, { op: 'release', device: d.id })).ok);
  }
  assert.is((await cluster.api('DELETE', `/api/devices/${d.id}`, { reason: 'test' })).status, 204);
  const again = await cluster.provision(d.mac);
  assert.is(again.id, d.id);
  const claimed = await request(a.client, who, { op: 'claim', target: d.id });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  await cluster.flush();
  assert.equal(cluster.aclAgentOf(d.id), [a.id, a.id]);
  await end(a.client);
});

on('an agent disabled on node 1 is disconnected on node 2; a device kicked on node 1 is disconnected on node 2', async (cluster) => {
  const a = await cluster.agent(`off-${Date.now() % 100000}`, { node: 1 });
  const closed = waitClosed(a.client, 5000);
  const off = await cluster.members[0]!.api('PATCH', `/api/agents/${a.id}`, { disabled: true });
  assert.is(off.status, 200, JSON.stringify(off.body));
  await closed;
  const d = await cluster.provision();
  const dev = await cluster.device(d, { node: 1 });
  const gone = waitClosed(dev.client, 5000);
  const kicked = await cluster.members[0]!.api('POST', `/api/devices/${d.id}/kick`);
  assert.equal(kicked.body, { id: d.id, closed: 1 });
  await gone;
  await end(a.client, dev.client);
});

on('/healthz on every node reports cluster mode with PostgreSQL and Redis up', async (cluster) => {
  for (const m of cluster.members) {
    const h = await m.api('GET', '/healthz');
    assert.is(h.status, 200, JSON.stringify(h.body));
    assert.is(h.body.mode, 'cluster');
    assert.equal(h.body.checks, { postgres: 'ok', redis: 'ok', 'binding map': 'ok' });
    assert.is(h.body.node, m.ctx.backends.nodeId);
  }
});

t.run();
