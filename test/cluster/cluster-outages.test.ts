// Backend outages: a Redis restart and a PostgreSQL connection drop under a two-node cluster.
// During the outage /healthz says what is down and claims are refused with UNAVAILABLE (over
// MQTT and REST); afterwards claims work again, traffic crosses nodes again, and no binding was
// lost or duplicated. Redis is a private server, so restarting it disturbs no one else; the
// database is closed to new connections and its backends terminated.
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { eventTopic } from '../../protocol/topics';
import { type Backends, adminQuery, freshBackends, requireBackends } from '../helpers/backends';
import { type TestBroker, request } from '../helpers/broker';
import { TestCluster, expectBindings } from '../helpers/cluster';
import { connectRefused, end, publish, subscribe, waitFor } from '../helpers/mqtt';
import { PrivateRedis } from '../helpers/redis-server';
import { eventually, waitUntil } from '../helpers/wait';
import { requireTool } from '../helpers/tools';
import type { Dev } from '../scenarios/fleet';

type Agent = Awaited<ReturnType<TestCluster['agent']>>;

interface Bound {
  cluster: TestCluster;
  d1: Dev;
  d2: Dev;
  free: Dev;
  a: Agent;
  b: Agent;
  devices: Awaited<ReturnType<TestCluster['device']>>[];
}

/** Device 1 on node 1 claimed by A on node 2; device 2 on node 2 claimed by B on node 1; one free device. */
async function boundFleet(cluster: TestCluster, tag: string): Promise<Bound> {
  const [d1, d2, free] = [await cluster.provision(), await cluster.provision(), await cluster.provision()];
  const devices = [await cluster.device(d1, { node: 0 }), await cluster.device(d2, { node: 1 }), await cluster.device(free, { node: 0 })];
  const a = await cluster.agent(`${tag}-a`, { node: 1 });
  const b = await cluster.agent(`${tag}-b`, { node: 0 });
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d1.id })).ok);
  assert.ok((await request(b.client, { kind: 'agent', id: b.id }, { op: 'claim', target: d2.id })).ok);
  assert.equal(await subscribe(a.client, `fb/v1/d/${d1.id}/evt/#`), [0]);
  return { cluster, d1, d2, free, a, b, devices };
}

async function health(m: TestBroker): Promise<{ status: number; body: any }> {
  return m.api('GET', '/healthz');
}

async function waitDown(cluster: TestCluster, check: string): Promise<void> {
  for (const m of cluster.members) {
    await eventually(async () => {
      const h = await health(m);
      assert.is(h.status, 503, JSON.stringify(h.body));
      assert.match(h.body.checks[check], /^down since /);
    }, 15_000);
  }
}

async function waitUp(cluster: TestCluster): Promise<void> {
  for (const m of cluster.members) {
    await eventually(async () => {
      const h = await health(m);
      assert.is(h.status, 200, JSON.stringify(h.body));
    }, 30_000);
  }
}

/** While something is down: MQTT claims and job cancels, REST transfers and completions are refused and change nothing. */
async function refusedDuringOutage(f: Bound, what: RegExp): Promise<void> {
  const r = await request(f.b.client, { kind: 'agent', id: f.b.id }, { op: 'claim', target: f.free.id }, 10_000);
  assert.is(r.ok, false, JSON.stringify(r));
  assert.is(r.error.code, 'UNAVAILABLE');
  assert.match(r.error.message, what);
  const cancel = await request(f.b.client, { kind: 'agent', id: f.b.id }, { op: 'cancel', job: 'J-OUTAGE' }, 10_000);
  assert.is(cancel.ok, false, JSON.stringify(cancel));
  assert.is(cancel.error.code, 'UNAVAILABLE', JSON.stringify(cancel));
  assert.match(cancel.error.message, what);
  const complete = await f.cluster.members[0]!.api('POST', '/api/jobs/J-OUTAGE/complete');
  assert.is(complete.status, 503, JSON.stringify(complete.body));
  assert.is(complete.body.error.code, 'UNAVAILABLE');
  assert.match(complete.body.error.message, what);
  const tr = await f.cluster.members[1]!.api('POST', `/api/devices/${f.d1.id}/transfer`, { agent: f.b.id, reason: 'during the outage' });
  assert.is(tr.status, 503, JSON.stringify(tr.body));
  assert.is(tr.body.error.code, 'UNAVAILABLE');
  assert.match(tr.body.error.message, what);
}

/** After recovery: a cross-node claim works, traffic crosses nodes, and the bindings add up. */
async function worksAfterwards(f: Bound): Promise<void> {
  const r = await request(f.a.client, { kind: 'agent', id: f.a.id }, { op: 'claim', target: f.free.id }, 10_000);
  assert.ok(r.ok, JSON.stringify(r));
  const seen = waitFor(
    f.a.client,
    (topic, json) => topic === eventTopic(f.d1.id, 'data') && json.after === true,
    5000,
    'device 1 traffic at A after the outage',
  );
  await publish(f.devices[0]!.client, eventTopic(f.d1.id, 'data'), { after: true });
  await seen;
  await expectBindings(
    f.cluster,
    new Map([
      [f.d1.id, f.a.id],
      [f.d2.id, f.b.id],
      [f.free.id, f.a.id],
    ]),
    new Map([
      [f.d1.id, 1],
      [f.d2.id, 1],
      [f.free.id, 1],
    ]),
  );
  await end(f.a.client, f.b.client, ...f.devices.map((d) => d.client));
}

const redisSuite = suite<{ redis?: PrivateRedis; backends?: Backends | Error; cluster?: TestCluster }>('Redis restart under a two-node cluster');
redisSuite.before(async (c) => {
  requireTool('redis-server', 'redis-server');
  c.redis = await PrivateRedis.start();
  c.backends = await freshBackends(c.redis.url);
  if (!(c.backends instanceof Error)) c.cluster = await TestCluster.start(c.backends, 2, { graceMs: 30_000 });
});
redisSuite.after(async (c) => {
  await c.cluster?.stop();
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
  await c.redis?.destroy();
});

const REDIS_TEST = 'claims are UNAVAILABLE while Redis restarts, work afterwards, and no binding is lost or duplicated';
redisSuite(REDIS_TEST, async (c) => {
  requireBackends(c.backends);
  const f = await boundFleet(c.cluster!, 'rr');
  await c.redis!.stop();
  await waitDown(f.cluster, 'redis');
  await refusedDuringOutage(f, /redis is unavailable/);
  // New connections need the cluster-wide connection counter: refused, not half-admitted.
  const refused = await connectRefused(f.cluster.members[0]!.broker.mqttUrl, { clientId: f.free.id, username: f.free.id, password: f.free.secret });
  assert.match(refused.message, /Server unavailable/);
  // A device leaving meanwhile makes the nodes clean up in Redis; that fails, and must not stop them.
  // The node counts the close in the same handler that starts the cleanup, and a Redis command
  // fails at once while Redis is down (no offline queue): once the count drops, the cleanup has
  // been tried and has failed before the health checks below are answered.
  const devicesOpen = (): number => f.cluster.members.reduce((n, m) => n + m.ctx.metrics.connections.device, 0);
  const before = devicesOpen();
  await end(f.devices[2]!.client);
  await waitUntil(() => devicesOpen() === before - 1, 5000, 'the node to handle the device leaving');
  for (const m of f.cluster.members) assert.is((await health(m)).status, 503);
  await c.redis!.restart();
  await waitUp(f.cluster);
  await worksAfterwards(f);
});

redisSuite.run();

const pgSuite = suite<{ backends?: Backends | Error; cluster?: TestCluster }>('PostgreSQL connection drop under a two-node cluster');
pgSuite.before(async (c) => {
  c.backends = await freshBackends();
  if (!(c.backends instanceof Error)) c.cluster = await TestCluster.start(c.backends, 2, { graceMs: 30_000 });
});
pgSuite.after(async (c) => {
  await c.cluster?.stop();
  if (c.backends && !(c.backends instanceof Error)) {
    await adminQuery(c.backends.adminUrl, `alter database ${c.backends.database} allow_connections true`);
    await c.backends.drop();
  }
});

const PG_TEST = 'claims are UNAVAILABLE while PostgreSQL refuses connections, work afterwards, and no binding is lost or duplicated';
pgSuite(PG_TEST, async (c) => {
  requireBackends(c.backends);
  const { adminUrl, database } = c.backends;
  const f = await boundFleet(c.cluster!, 'pg');
  await adminQuery(adminUrl, `alter database ${database} allow_connections false`);
  const killed = await adminQuery(adminUrl, 'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
    database,
  ]);
  assert.ok(killed.rowCount! > 0, 'the nodes had connections to terminate');
  await waitDown(f.cluster, 'postgres');
  await refusedDuringOutage(f, /postgres is unavailable/);
  // Device traffic does not need the database: it keeps flowing between nodes meanwhile.
  const during = waitFor(
    f.a.client,
    (topic, json) => topic === eventTopic(f.d1.id, 'data') && json.during === true,
    5000,
    'device 1 traffic at A during the outage',
  );
  await publish(f.devices[0]!.client, eventTopic(f.d1.id, 'data'), { during: true });
  await during;
  await adminQuery(adminUrl, `alter database ${database} allow_connections true`);
  await waitUp(f.cluster);
  await worksAfterwards(f);
});

pgSuite.run();
