import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { connect, end, subscribe } from '../helpers/mqtt';
import { hundredAgentsOneDevice, manyAgentsManyDevices } from '../scenarios/claims-race';

const t = suite<{ broker: TestBroker }>('claims, single node');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('100 agents claim one free device at once: exactly one wins', async ({ broker }) => hundredAgentsOneDevice(broker));
t('200 agents claim 50 devices at random: never two agents on a device', async ({ broker }) => manyAgentsManyDevices(broker));

t('claim by machine code, signed label, label URL and device id bind the same device', async ({ broker }) => {
  const d = await broker.provision(undefined, 'CT0700026');
  const label = await broker.api('GET', '/api/labels/ct0700026');
  assert.is(label.status, 200);
  assert.match(label.body.url, /\/c\/CT0700026\.[0-9a-f]{16}$/);
  const a = await broker.agent('labeler');
  const who = { kind: 'agent' as const, id: a.id };
  for (const target of [label.body.url, `CT0700026.${label.body.sig}`, 'ct0700026', d.id]) {
    const r = await request(a.client, who, { op: 'claim', target });
    assert.ok(r.ok, `${target}: ${JSON.stringify(r)}`);
    assert.is(r.result.device.id, d.id);
    const rel = await request(a.client, who, { op: 'release', device: d.id });
    assert.ok(rel.ok, JSON.stringify(rel));
  }
  const forged = await request(a.client, who, { op: 'claim', target: `CT0700026.${'0'.repeat(16)}` });
  assert.is(forged.error.code, 'UNKNOWN_MACHINE');
  const unknown = await request(a.client, who, { op: 'claim', target: 'NOPE0001' });
  assert.is(unknown.error.code, 'UNKNOWN_MACHINE');
  await end(a.client);
});

t("a plain name that is one device's machine code and another's id claims the machine code's device", async ({ broker }) => {
  const byId = await broker.provision();
  const byCode = await broker.provision(undefined, byId.id.toUpperCase());
  const a = await broker.agent('plain-namer');
  const who = { kind: 'agent' as const, id: a.id };
  const r = await request(a.client, who, { op: 'claim', target: byId.id });
  assert.ok(r.ok, JSON.stringify(r));
  assert.is(r.result.device.id, byCode.id);
  assert.is((await broker.api('GET', `/api/devices/${byCode.id}`)).body.boundVia, 'machine-code');
  assert.is((await broker.api('GET', `/api/devices/${byId.id}`)).body.agent, null);
  await end(a.client);
});

t('release only by the holder; NOT_BOUND otherwise; LIMIT caps how many devices an agent holds', async ({ broker }) => {
  const [d1, d2, d3] = await Promise.all([broker.provision(), broker.provision(), broker.provision()]);
  const lim = await broker.createAgent('limited', { deviceLimit: 2 });
  const token = await broker.login('limited', lim.password);
  const c = await connectAgent(broker.broker.mqttUrl, 'limited', token);
  const who = { kind: 'agent' as const, id: 'limited' };
  assert.ok((await request(c, who, { op: 'claim', target: d1!.id })).ok);
  assert.ok((await request(c, who, { op: 'claim', target: d2!.id })).ok);
  const third = await request(c, who, { op: 'claim', target: d3!.id });
  assert.is(third.error.code, 'LIMIT');
  assert.match(third.error.message, /2 devices/);
  const dev3 = await broker.api('GET', `/api/devices/${d3!.id}`);
  assert.is(dev3.body.agent, null, 'a refused claim changes nothing');
  const other = await broker.agent('bystander');
  const rel = await request(other.client, { kind: 'agent', id: other.id }, { op: 'release', device: d1!.id });
  assert.is(rel.error.code, 'NOT_BOUND');
  assert.is((await broker.api('GET', `/api/devices/${d1!.id}`)).body.agent, 'limited');
  const list = await request(c, who, { op: 'list' });
  assert.equal(list.result.devices.map((x: any) => x.id).sort(), [d1!.id, d2!.id].sort());
  await end(c, other.client);
});

t('admins see who holds a device; agents do not', async ({ broker }) => {
  const d = await broker.provision();
  const a = await broker.agent('holder');
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  const admin = await connect(broker.broker.mqttUrl, { clientId: 'admin:ops:1', username: 'admin:ops', password: broker.adminToken });
  await subscribe(admin, 'fb/v1/admin/ops/res');
  const r = await request(admin, { kind: 'admin', id: 'ops' }, { op: 'transfer', device: d.id, agent: 'nobody-here', reason: 'test' });
  assert.is(r.error.code, 'NOT_FOUND');
  const b = await broker.createAgent('taker');
  const ok = await request(admin, { kind: 'admin', id: 'ops' }, { op: 'transfer', device: d.id, agent: b.id, reason: 'shift change' });
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.equal({ from: ok.result.from, to: ok.result.to }, { from: 'holder', to: 'taker' });
  const back = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id });
  assert.is(back.error.code, 'BOUND_TO_OTHER');
  assert.is(back.error.agent, undefined);
  await end(a.client, admin);
});

t.run();
