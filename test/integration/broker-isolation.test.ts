import { suite } from 'uvu';
import { TestBroker } from '../helpers/broker';
import { identityChecks, isolationMatrix } from '../scenarios/isolation';

const t = suite<{ broker: TestBroker }>('isolation matrix, single node');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start();
});
t.after(async (ctx) => ctx.broker.stop());

t('agents over TCP, devices over TCP', async ({ broker }) => isolationMatrix(broker, 'tcp', 'tcp'));
t('agents over WebSocket, devices over TCP', async ({ broker }) => isolationMatrix(broker, 'ws', 'tcp'));
t('agents over TCP, devices over WebSocket', async ({ broker }) => isolationMatrix(broker, 'tcp', 'ws'));
t('device and agent identities cannot be borrowed', async ({ broker }) => identityChecks(broker, broker.broker.mqttUrl));

t.run();
