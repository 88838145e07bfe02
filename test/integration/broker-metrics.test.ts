// /metrics carries the fleet (devices by presence, registered, bound), HTTP requests by route
// pattern and status, and the process and Node metrics of prom-client's default collectors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker } from '../helpers/broker';
import { metric } from '../helpers/metrics';
import { end } from '../helpers/mqtt';

const t = suite('broker metrics');
let b: TestBroker;
t.before(async () => {
  b = await TestBroker.start();
});
t.after(async () => {
  await b.stop();
});

const scrape = async (): Promise<string> => {
  const r = await b.api<string>('GET', '/metrics');
  assert.is(r.status, 200);
  return r.body;
};

t('devices by presence, registered and bound come from the registry and presence at scrape time', async () => {
  const before = await scrape();
  assert.is(metric(before, 'fleetbind_devices_registered'), 0);
  const [online, bound, idle] = await Promise.all([b.provision(), b.provision(), b.provision()]);
  await b.createAgent('met-agent');
  const moved = await b.api('POST', `/api/devices/${bound!.id}/transfer`, { agent: 'met-agent', reason: 'metrics test' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  const { client } = await b.device(online!);
  try {
    const text = await scrape();
    assert.is(metric(text, 'fleetbind_devices_registered'), 3);
    assert.is(metric(text, 'fleetbind_devices_bound'), 1);
    assert.is(metric(text, 'fleetbind_devices', { presence: 'online' }), 1);
    const others = ['offline', 'never', 'reconnecting'].reduce((sum, presence) => sum + metric(text, 'fleetbind_devices', { presence }), 0);
    assert.is(
      others,
      2,
      text
        .split('\n')
        .filter((l) => l.startsWith('fleetbind_devices'))
        .join('\n'),
    );
    assert.ok(idle);
  } finally {
    await end(client);
  }
});

t('HTTP requests are counted by method, route pattern and status, with their duration', async () => {
  const missing = await b.api('GET', '/api/devices/no-such-device');
  assert.is(missing.status, 404);
  const text = await scrape();
  assert.ok(
    metric(text, 'fleetbind_http_requests_total', { method: 'GET', route: '/api/devices/:id', status: '404' }) >= 1,
    'no 404 sample for the route pattern',
  );
  assert.ok(metric(text, 'fleetbind_http_requests_total', { method: 'POST', route: '/api/devices', status: '201' }) >= 3);
  assert.ok(metric(text, 'fleetbind_http_request_duration_seconds_count', { method: 'GET', route: '/api/devices/:id' }) >= 1);
  assert.not.match(text, /route="\/api\/devices\/no-such-device"/, 'a raw path became a label');
});

t('process and Node metrics from the default collectors', async () => {
  const text = await scrape();
  assert.ok(metric(text, 'process_cpu_user_seconds_total') > 0);
  assert.ok(metric(text, 'nodejs_heap_size_total_bytes') > 0);
  assert.match(text, /\nnodejs_eventloop_lag_seconds /);
});

t('every metric the Grafana dashboard in deploy/ queries is one the broker exposes', async () => {
  const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const exposed = new Set([...(await scrape()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const queried = dashboard.panels.flatMap((p) =>
    p.targets.flatMap((x) => [...x.expr.matchAll(/\b((?:fleetbind|process|nodejs)_[a-z0-9_]+)/g)].map((m) => ({ panel: p.title, name: m[1]! }))),
  );
  assert.ok(queried.length >= 14, `only ${queried.length} queries`);
  const base = (name: string): string => name.replace(/_(bucket|count|sum)$/, '');
  const unknown = queried.filter((q) => !exposed.has(base(q.name)));
  assert.equal(unknown, []);
});

t.run();
