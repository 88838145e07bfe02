import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';

const t = suite<{ broker: TestBroker }>('ids are strings, normalised in one place');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('an agent created as 263 and one logging in as "263" are the same agent', async ({ broker }) => {
  const created = await broker.api('POST', '/api/agents', { id: 263, name: 'test vk', password: 'correct horse' });
  assert.is(created.status, 201);
  assert.is(created.body.id, '263');
  const dup = await broker.api('POST', '/api/agents', { id: '263', name: 'again', password: 'correct horse' });
  assert.is(dup.status, 409);
  assert.is(dup.body.error.code, 'CONFLICT');
  const dupPadded = await broker.api('POST', '/api/agents', { id: ' 263 ', name: 'again', password: 'correct horse' });
  assert.is(dupPadded.status, 409);
  for (const id of ['263', 263, ' 263 ']) {
    const login = await broker.api('POST', '/api/login', { id, password: 'correct horse' }, undefined);
    assert.is(login.status, 200, `login as ${JSON.stringify(id)}`);
    assert.is(login.body.id, '263');
  }
  const token = await broker.login(263, 'correct horse');
  const c = await connectAgent(broker.broker.mqttUrl, '263', token);
  const d = await broker.provision();
  const r = await request(c, { kind: 'agent', id: '263' }, { op: 'claim', target: d.id });
  assert.ok(r.ok);
  const dev = await broker.api('GET', `/api/devices/${d.id.toUpperCase()}`);
  assert.is(dev.body.agent, '263');
  const agents = await broker.api('GET', '/api/agents');
  assert.is(agents.body.filter((a: any) => a.id === '263').length, 1);
  await end(c);
});

t('bad ids are refused with a specific error and create nothing', async ({ broker }) => {
  for (const id of ['', '２６３', 'a/b', '-x', 'x..y', 'a'.repeat(65), 1.5, -3, null, { id: 1 }]) {
    const r = await broker.api('POST', '/api/agents', { id, name: 'x', password: 'correct horse' });
    assert.is(r.status, 400, `id ${JSON.stringify(id)}`);
    assert.is(r.body.error.code, 'BAD_ID', `id ${JSON.stringify(id)}: ${JSON.stringify(r.body)}`);
    assert.is(r.body.error.field, 'id');
  }
  const agents = await broker.api('GET', '/api/agents');
  assert.equal(
    agents.body.map((a: any) => a.id),
    ['263'],
    'only the agent of the first test exists',
  );
});

t.run();
