import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { barrier } from '../helpers/barrier';
import { connect, end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { transferCutsOffOldAgent } from '../scenarios/revocation';

const t = suite<{ broker: TestBroker }>('revocation, single node');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('an admin transfer cuts the old agent off on the next message, without a reconnect', async ({ broker }) =>
  transferCutsOffOldAgent(broker, broker.broker.mqttUrl, broker.adminToken),
);

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
  // An admin sees every device, so the device's barrier marker has a receiver after the release.
  const admin = await connect(broker.broker.mqttUrl, { clientId: 'admin:ops:release', username: 'admin:ops', password: broker.adminToken });
  assert.equal(await subscribe(admin, [eventTopic(d.id, 'x')]), [0]);
  await publish(dev.client, eventTopic(d.id, 'x'), { after: true });
  await barrier(broker, [{ marker: { from: dev.client, topic: eventTopic(d.id, 'x'), to: admin } }], [{ agent: a }]);
  assert.equal(
    seen.filter((m) => m.topic.includes(d.id)),
    [],
  );
  await end(a.client, dev.client, admin);
});

t.run();
