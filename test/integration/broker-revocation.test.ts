import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { end, publish, recorder, sleep, subscribe, waitFor } from '../helpers/mqtt';
import { transferCutsOffOldAgent } from '../scenarios/revocation';

const t = suite<{ broker: TestBroker }>('revocation, single node');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('an admin transfer cuts the old agent off on the next message, without a reconnect', async ({ broker }) =>
  transferCutsOffOldAgent(broker, broker.broker.mqttUrl, broker.adminToken));

t('a release cuts the releasing agent off too, retained status included', async ({ broker }) => {
  const d = await broker.provision();
  const dev = await broker.device(d);
  const a = await broker.agent('releaser');
  const who = { kind: 'agent' as const, id: a.id };
  assert.ok((await request(a.client, who, { op: 'claim', target: d.id })).ok);
  const status = waitFor(a.client, (tp, j) => tp === deviceTopic(d.id, 'status') && j.state === 'online', 3000, 'retained status');
  await subscribe(a.client, [deviceTopic(d.id, 'status'), eventTopic(d.id, 'x')]);
  await status;
  assert.ok((await request(a.client, who, { op: 'release', device: d.id })).ok);
  const seen = recorder(a.client);
  await publish(dev.client, eventTopic(d.id, 'x'), { after: true });
  await sleep(300);
  assert.equal(seen.filter((m) => m.topic.includes(d.id)), []);
  await end(a.client, dev.client);
});

t.run();
