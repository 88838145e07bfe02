// Cluster routing (docs/architecture.md, Cluster routing) on three nodes: traffic between clients
// of one node never goes through Redis, traffic across nodes goes once to the subscriber's node
// only, a subscription granted on one node is known to every other node before its SUBACK, a node
// started later reads the filters already there, and a stopped node's filters are forgotten.
import { randomBytes } from 'node:crypto';
import { deserialize } from 'node:v8';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { eventTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import type { MqOptions } from '../../broker/cluster/mq';
import { type TestCluster, clusterSuite, mqOf } from '../helpers/cluster';
import { end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

const { t, on } = clusterSuite('cluster routing on three nodes', {}, 3);

const nodeId = (m: TestBroker): string => m.ctx.backends.nodeId!;

/** A device on node `dev` claimed by an agent on node `agent`, the agent subscribed to its events. */
async function pair(cluster: TestCluster, dev: number, agent: number) {
  const d = await cluster.provision();
  const device = await cluster.device(d, { node: dev });
  const a = await cluster.agent(`aff-${randomBytes(3).toString('hex')}`, { node: agent });
  assert.ok((await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id })).ok);
  assert.equal(await subscribe(a.client, eventTopic(d.id, '#')), [0]);
  return { d, device, a, got: recorder(a.client) };
}

on("a message between clients of one node stays off Redis; across nodes it goes once, to the subscriber's node only", async (cluster, backends) => {
  const spy = new Redis(backends.redisUrl, { lazyConnect: true });
  await spy.connect();
  const seen: { channel: string; topic: string }[] = [];
  spy.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => {
    const topic = (deserialize(message) as { topic: string }).topic;
    if (!topic.startsWith('$SYS/')) seen.push({ channel: channel.toString(), topic });
  });
  await spy.psubscribe(`${backends.redisPrefix}$node/*`);
  const local = await pair(cluster, 0, 0);
  const cross = await pair(cluster, 0, 1);
  try {
    // Only the log events count: the agent's bindings message after its claim may come after the SUBACK.
    const logs = (p: typeof local): string[] => p.got.filter((m) => m.topic === eventTopic(p.d.id, 'log')).map((m) => m.text);
    for (let i = 0; i < 20; i++) {
      await publish(local.device.client, eventTopic(local.d.id, 'log'), { i });
      await publish(cross.device.client, eventTopic(cross.d.id, 'log'), { i });
    }
    await waitUntil(
      () => logs(local).length === 20 && logs(cross).length === 20,
      5_000,
      () => `both agents to get 20 events; the local agent got ${JSON.stringify(logs(local))}, the other ${JSON.stringify(logs(cross))}`,
    );
    await cluster.flush();
    assert.equal(
      seen.filter((s) => s.topic === eventTopic(local.d.id, 'log')),
      [],
    );
    const crossed = seen.filter((s) => s.topic === eventTopic(cross.d.id, 'log'));
    assert.is(crossed.length, 20);
    assert.ok(
      crossed.every((s) => s.channel === `${backends.redisPrefix}$node/${nodeId(cluster.members[1]!)}`),
      JSON.stringify(crossed[0]),
    );
  } finally {
    spy.disconnect();
    await end(local.device.client, local.a.client, cross.device.client, cross.a.client);
  }
});

on('a message published on another node right after a SUBACK reaches the new subscriber, and the filter is known there before the SUBACK', async (cluster) => {
  const p = await pair(cluster, 0, 1);
  const subscriber = nodeId(cluster.members[1]!);
  for (let i = 0; i < 50; i++) {
    const topic = eventTopic(p.d.id, `s${i}`);
    assert.equal(await subscribe(p.a.client, topic), [0]);
    assert.ok(mqOf(cluster.members[0]!).filtersOf(subscriber).includes(topic), `node 1 knows ${topic} at SUBACK`);
    const got = waitFor(p.a.client, (t) => t === topic, 5_000, topic);
    await publish(p.device.client, topic, { i });
    await got;
    await new Promise<void>((resolve, reject) => p.a.client.unsubscribe(topic, (err) => (err ? reject(err) : resolve())));
  }
  await waitUntil(() => !mqOf(cluster.members[0]!).filtersOf(subscriber).includes(eventTopic(p.d.id, 's49')), 5_000, 'the filter to go with the unsubscribe');
  await end(p.device.client, p.a.client);
});

on(
  'a new filter is granted only after every other node applied it: a node slow to read Redis holds the subscription back, and a second subscriber to it too',
  async (cluster) => {
    const [slow, subscriber] = [cluster.members[0]!, cluster.members[2]!];
    // The slow node's subscriber connection stops being read, as when its event loop is busy.
    const socket = (mqOf(slow) as unknown as { o: MqOptions }).o.links.sub.stream;
    socket.pause();
    const topic = `aff/${randomBytes(4).toString('hex')}`;
    // Subscribes on the subscriber's node; `granted` turns true when the subscription is confirmed.
    const subscribe = (): { granted: boolean; done: Promise<void> } => {
      const s = { granted: false, done: Promise.resolve() };
      s.done = new Promise<void>((resolve) =>
        mqOf(subscriber).on(
          topic,
          (_p, done) => done(),
          () => ((s.granted = true), resolve()),
        ),
      );
      return s;
    };
    const first = subscribe();
    // A second subscriber on the same node to the filter still being announced waits with the first.
    const second = subscribe();
    try {
      const command = subscriber.ctx.backends.commandRedis()!;
      await waitUntil(async () => (await command.hexists(`filters:${nodeId(subscriber)}`, topic)) === 1, 5_000, 'the filter to be recorded');
      // Replies come in order on one connection: once this one is in, the node has read the reply
      // to its announcement, and without waiting for confirmations it would have granted it.
      await command.ping();
      assert.not.ok(first.granted, 'granted while a node had not applied the filter');
      assert.not.ok(second.granted, 'a second subscriber granted while a node had not applied the filter');
    } finally {
      socket.resume();
    }
    await Promise.all([first.done, second.done]);
    assert.ok(mqOf(slow).filtersOf(nodeId(subscriber)).includes(topic));
  },
);

on("a node started later reads the others' filters and reaches their subscribers; once it stops, its filters are forgotten", async (cluster, backends) => {
  const p = await pair(cluster, 0, 1);
  const late = await TestBroker.start({
    databaseUrl: backends.databaseUrl,
    redisUrl: backends.redisUrl,
    redisPrefix: backends.redisPrefix,
    adminToken: cluster.adminToken,
  });
  try {
    assert.ok(mqOf(late).filtersOf(nodeId(cluster.members[1]!)).includes(eventTopic(p.d.id, '#')));
    await end(p.device.client);
    const moved = await late.device(p.d);
    const got = waitFor(p.a.client, (t) => t === eventTopic(p.d.id, 'log'), 5_000, 'the event from the late node');
    await publish(moved.client, eventTopic(p.d.id, 'log'), { from: 'late' });
    await got;
    await end(moved.client);
  } finally {
    await late.stop();
  }
  const gone = nodeId(late);
  await waitUntil(() => cluster.members.every((m) => mqOf(m).filtersOf(gone).length === 0), 15_000, 'every node to forget the stopped node');
  await end(p.a.client);
});

t.run();
