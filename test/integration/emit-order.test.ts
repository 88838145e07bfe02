// A retained message the broker publishes must reach its subscriber even when a plain message
// published right after it gets there first: Aedes drops a delivery numbered below the last one
// the client got, and a retained message is numbered before it is stored (broker/upstream/emit-order.ts).
import * as assert from 'uvu/assert';
import { agentTopic } from '../../protocol/topics';
import { publishJson } from '../../broker/publisher';
import { TestBroker, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { suite } from '../helpers/suite';

const t = suite<{ tb: TestBroker }>('broker: retained messages keep their place');

t.before(async (ctx) => {
  ctx.tb = await TestBroker.start();
});
t.after(async (ctx) => {
  await ctx.tb.stop();
});

t('a retained message followed at once by a plain one to the same agent: both arrive', async ({ tb }) => {
  const agent = await tb.agent('emit-order');
  const got: { topic: string; n: number }[] = [];
  agent.client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString('utf8'));
    if (typeof body.n === 'number') got.push({ topic, n: body.n });
  });
  for (let n = 0; n < 20; n += 2) {
    // Same tick: the retained one is numbered first and emitted after its store.
    void publishJson(tb.ctx, agentTopic(agent.id, 'bindings'), { n }, true);
    void publishJson(tb.ctx, agentTopic(agent.id, 'res'), { n: n + 1 });
  }
  // Everything the broker sent before the answer to this request has reached the agent.
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'list' })).ok);
  const retained = got.filter((m) => m.topic === agentTopic(agent.id, 'bindings')).map((m) => m.n);
  assert.equal(retained, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18], 'every retained message arrived');
  assert.equal(
    got.filter((m) => m.topic === agentTopic(agent.id, 'res')).map((m) => m.n),
    [1, 3, 5, 7, 9, 11, 13, 15, 17, 19],
  );
  await end(agent.client);
});

t.run();
