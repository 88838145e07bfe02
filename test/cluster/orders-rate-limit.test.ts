// Walk-up order rate limits count across a cluster (docs/architecture.md, "Walk-up orders"):
// with 2 orders an hour, a customer that placed one on each node is refused the third, on
// either node, with 429 and Retry-After, because both nodes count in the same Redis.
import * as assert from 'uvu/assert';
import { ORDER_DEFAULTS } from '../../broker/orders/options';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { TestCluster } from '../helpers/cluster';
import { end } from '../helpers/mqtt';
import { noisyImage, openCustomer, order, orderLabel, orderMachine, upload } from '../helpers/orders';
import { suite } from '../helpers/suite';

const t = suite<{ backends?: Backends | Error }>('orders: cluster-wide rate limit');
t.before(async (c) => {
  c.backends = await freshBackends();
});
t.after(async (c) => {
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

t('the third order in the hour is 429 whichever node takes it', async (c) => {
  requireBackends(c.backends);
  const cluster = await TestCluster.start(c.backends, 2, { orders: { ...ORDER_DEFAULTS, ordersPerHour: 2 } });
  try {
    const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
    const op = await a.agent(`crl${process.pid}`);
    const m = await orderMachine(a, op, { mode: 'hold' });
    const cust = await openCustomer(a.broker.httpUrl, orderLabel(a, m.code));
    const up = await upload(a.broker.httpUrl, cust, await noisyImage(100, 100));
    assert.is((await order(a.broker.httpUrl, cust, { design: up.body.design })).status, 201);
    assert.is((await order(b.broker.httpUrl, cust, { design: up.body.design })).status, 201);
    for (const node of [a, b]) {
      const third = await order(node.broker.httpUrl, cust, { design: up.body.design });
      assert.is(third.status, 429, JSON.stringify(third.body));
      assert.is(third.body.error.code, 'RATE_LIMITED');
      assert.ok(Number(third.headers.get('retry-after')) > 0);
    }
    await m.device.close();
    await end(op.client);
  } finally {
    await cluster.stop();
  }
});

t.run();
