// Walk-up order rate limits count across a cluster (docs/architecture.md, "Walk-up orders"):
// with 2 orders an hour, a customer that placed one on each node is refused the third, on
// either node, with 429 and Retry-After, because both nodes count in the same Redis. Upload bytes
// an hour add up across the nodes the same way. A design uploaded on one node is served by the other.
import { createHash } from 'node:crypto';
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
    // The design stored through node 1 (in PostgreSQL) is served whole and by Range by node 2, as a device on it would fetch it.
    const url = b.broker.httpUrl + a.ctx.blobUrls.path(up.body.design, 60_000);
    const whole = await fetch(url);
    assert.is(whole.status, 200);
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.is(createHash('sha256').update(bytes).digest('hex'), up.body.design);
    const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
    assert.is(part.status, 206);
    assert.equal(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));
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

t('upload bytes an hour add up across nodes: the second upload on the other node is 429', async (c) => {
  requireBackends(c.backends);
  const file = await noisyImage(100, 100);
  const cluster = await TestCluster.start(c.backends, 2, {
    orders: { ...ORDER_DEFAULTS, uploadBytesPerHour: { session: 1.5 * file.length, machine: 100 * file.length, address: 100 * file.length } },
  });
  try {
    const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
    const op = await a.agent(`cbl${process.pid}`);
    const m = await orderMachine(a, op, { mode: 'hold' });
    const cust = await openCustomer(a.broker.httpUrl, orderLabel(a, m.code));
    assert.is((await upload(a.broker.httpUrl, cust, file)).status, 201);
    for (const node of [b, a]) {
      const second = await upload(node.broker.httpUrl, cust, file);
      assert.is(second.status, 429, JSON.stringify(second.body));
      assert.match(second.body.error.message, /bytes an hour per session;/);
      assert.ok(Number(second.headers.get('retry-after')) > 0);
    }
    await m.device.close();
    await end(op.client);
  } finally {
    await cluster.stop();
  }
});

t.run();
