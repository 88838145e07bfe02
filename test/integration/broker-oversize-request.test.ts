// An agent's request over the payload limit is answered TOO_LARGE on its res topic, with the
// request's id where the JSON parses, and counted; the connection stays up (docs/architecture.md,
// ACL rules), over TCP and WebSocket.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { metric } from '../helpers/metrics';
import { end, publish, waitFor } from '../helpers/mqtt';

const t = suite('oversize agent requests');
let tb: TestBroker;
t.before(async () => {
  tb = await TestBroker.start();
});
t.after(async () => {
  await tb.stop();
});

for (const transport of ['tcp', 'ws'] as const) {
  t(`over ${transport}: a 6 KiB request gets TOO_LARGE with its id, and the agent goes on`, async () => {
    const a = await tb.agent(`big-${transport}-${Date.now() % 100000}`, { transport });
    const answer = waitFor<any>(a.client, (topic, json) => topic === agentTopic(a.id, 'res') && json?.id === 'huge', 5000, 'TOO_LARGE answer');
    await publish(a.client, agentTopic(a.id, 'req'), { id: 'huge', op: 'list', pad: 'x'.repeat(6 * 1024) });
    const r = (await answer).json;
    assert.is(r.ok, false);
    assert.is(r.error.code, 'TOO_LARGE', JSON.stringify(r));
    const after = await request(a.client, { kind: 'agent', id: a.id }, { op: 'list' });
    assert.ok(after.ok, 'the same connection is still answered');
    const scrape = (await tb.api<string>('GET', '/metrics')).body;
    assert.ok(metric(scrape, 'fleetbind_requests_total', { op: 'invalid', outcome: 'TOO_LARGE' }) >= 1);
    await end(a.client);
  });
}

t.run();
