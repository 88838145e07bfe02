// Agent requests over MQTT are rate-limited per agent and per connection (docs/architecture.md,
// Request rate limits): over the limit a request is answered RATE_LIMITED with retryAfterMs and
// counted; other agents keep being answered.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { blast } from '../helpers/blast';
import { metric } from '../helpers/metrics';
import { end } from '../helpers/mqtt';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const t = suite('request rate limits');
let tb: TestBroker;
t.before(async () => {
  tb = await TestBroker.start();
});
t.after(async () => {
  await tb.stop();
});

t('an agent blasting 3,000 requests gets RATE_LIMITED with retryAfterMs; another agent is answered throughout', async () => {
  const a = await tb.agent(`blaster-${Date.now() % 100000}`);
  const b = await tb.agent(`quiet-${Date.now() % 100000}`);
  const who = { kind: 'agent' as const, id: b.id };
  const quiet = async (): Promise<number[]> => {
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await request(b.client, who, { op: 'list' }, 30_000);
      assert.ok(r.ok, `the quiet agent's request ${i} was refused: ${JSON.stringify(r)}`);
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  const before = await quiet();
  const started = performance.now();
  const [answers, during] = await Promise.all([blast(a.client, a.id, 3000, 'b'), quiet()]);
  const elapsedS = (performance.now() - started) / 1000;
  const ok = answers.filter((r) => r.ok).length;
  const limited = answers.filter((r) => r.error?.code === 'RATE_LIMITED');
  assert.is(ok + limited.length, 3000, 'every request is answered, ok or RATE_LIMITED');
  assert.ok(limited.length > 0, 'some requests were rate-limited');
  for (const r of limited) assert.ok(Number.isInteger(r.error.retryAfterMs) && r.error.retryAfterMs > 0, JSON.stringify(r));
  // Default limit: burst 40 then 20 per second.
  assert.ok(ok <= 40 + Math.ceil(20 * elapsedS) + 1, `${ok} answered ok in ${elapsedS.toFixed(2)} s`);
  console.log(
    `  blaster: ${ok} ok, ${limited.length} RATE_LIMITED in ${elapsedS.toFixed(2)} s; quiet agent median ${median(before).toFixed(1)} ms before, ${median(during).toFixed(1)} ms during`,
  );
  const scrape = (await tb.api<string>('GET', '/metrics')).body;
  const counted =
    metric(scrape, 'fleetbind_requests_rate_limited_total', { scope: 'connection' }) +
    metric(scrape, 'fleetbind_requests_rate_limited_total', { scope: 'agent' });
  assert.is(counted, limited.length);
  await end(a.client, b.client);
});

t('per connection: one connection over its limit does not stop the same agent on another connection', async () => {
  const small = await TestBroker.start({ requestRate: 1, requestBurst: 5, agentRequestRate: 1000, agentRequestBurst: 1000 });
  try {
    const a = await small.agent(`twice-${Date.now() % 100000}`);
    const second = await connectAgent(small.broker.mqttUrl, a.id, a.token);
    const answers = await blast(a.client, a.id, 50, 'c');
    assert.ok(answers.filter((r) => r.error?.code === 'RATE_LIMITED').length > 0);
    const r = await request(second, { kind: 'agent', id: a.id }, { op: 'list' });
    assert.ok(r.ok, JSON.stringify(r));
    const scrape = (await small.api<string>('GET', '/metrics')).body;
    assert.ok(metric(scrape, 'fleetbind_requests_rate_limited_total', { scope: 'connection' }) > 0);
    await end(a.client, second);
  } finally {
    await small.stop();
  }
});

t.run();
