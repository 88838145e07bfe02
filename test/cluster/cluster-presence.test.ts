// Presence across nodes: connection numbers come from one counter, a device that moves
// to another node is never shown offline by its old node's late disconnect, and the grace
// window ends in `offline` even when the node that saw the drop is gone. Every status the bound
// agent receives is recorded, so a single false message fails the test. Grace windows end when
// the test moves the nodes' clock on, never after a sleep; "nothing more happened" is proved by a
// barrier through the path a wrong decision would take (quiet).
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import * as assert from 'uvu/assert';
import type { ClusterPresence } from '../../broker/cluster/presence';
import type { Status } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { type TestBroker, connectDevice, request } from '../helpers/broker';
import { TestCluster, clusterSuite } from '../helpers/cluster';
import { ManualClock } from '../helpers/manual-clock';
import { end, recorder, subscribe, waitClosed } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

const GRACE_MS = 1500;
/** Every node's clock, shared: the grace windows end when the test moves it on. */
const clock = new ManualClock();

interface Watched {
  d: Dev;
  device: MqttClient;
  agent: MqttClient;
  agentId: string;
  statuses(): Status[];
}

const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);

/** A device connected on deviceAt, bound to an agent on agentNode that records its statuses. */
async function watched(cluster: TestCluster, deviceAt: TestBroker, agentNode: number): Promise<Watched> {
  const d = await cluster.provision();
  const device = track((await deviceAt.device(d)).client);
  const a = await cluster.agent(`pa-${randomBytes(4).toString('hex')}`, { node: agentNode });
  track(a.client);
  const claimed = await request(a.client, { kind: 'agent', id: a.id }, { op: 'claim', target: d.id });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  const log = recorder(a.client);
  await subscribe(a.client, deviceTopic(d.id, 'status'));
  const statuses = (): Status[] => log.filter((m) => m.topic === deviceTopic(d.id, 'status')).map((m) => m.json as Status);
  await waitUntil(() => statuses().some((s) => s.state === 'online'), 5000, 'the retained online status');
  return { d, device, agent: a.client, agentId: a.id, statuses };
}

/**
 * No presence decision is still on its way to the agent: every node's presence scripts have been
 * answered and applied (a wrong one shows in that node's status at once), every node has received
 * what the others published before (cluster.flush), and the agent's `list` answer, which follows
 * the statuses its node already sent it, has come back.
 */
async function quiet(cluster: TestCluster, w: Watched): Promise<void> {
  await Promise.all(cluster.members.map((m) => (m.ctx.presence as ClusterPresence).settled()));
  await cluster.flush();
  const r = await request(w.agent, { kind: 'agent', id: w.agentId }, { op: 'list' });
  assert.ok(r.ok, JSON.stringify(r));
}

/** Past the end of the grace window of any drop seen so far, with its decision (if any) delivered. */
async function pastGrace(cluster: TestCluster, w: Watched): Promise<void> {
  await quiet(cluster, w);
  clock.advance(GRACE_MS * 2);
  await quiet(cluster, w);
}

const states = (list: Status[]): string => list.map((s) => (s.reason ? `${s.state}/${s.reason}` : s.state)).join(' → ');

const { t, on } = clusterSuite('presence on a two-node cluster', { graceMs: GRACE_MS, clock });
t.after.each(async () => {
  await end(...clients.splice(0));
});

on('a device that moves from node 1 to node 2 stays online: the old connection closing on node 1 changes nothing', async (cluster) => {
  const w = await watched(cluster, cluster.members[0]!, 0);
  const first = w.statuses().find((s) => s.state === 'online')!;
  const node1 = cluster.members[0]!.ctx.metrics.connections;
  const before = node1.device;
  const closed = waitClosed(w.device, 5000);
  // The same client id connecting on node 2 takes over; Aedes on node 1 then closes the old one.
  const moved = track((await connectDevice(cluster.members[1]!.broker.mqttUrl, w.d)).client);
  await closed;
  // Node 1 has handled the close (and sent its presence script) when it no longer counts it.
  await waitUntil(() => node1.device === before - 1, 5000, 'node 1 to handle the old connection closing');
  await waitUntil(() => w.statuses().find((s) => s.state === 'online' && s.conn > first.conn), 5000, 'online on the new connection');
  await pastGrace(cluster, w);
  const seen = w.statuses();
  assert.ok(
    seen.every((s) => s.state === 'online'),
    `the agent saw ${states(seen)}`,
  );
  const last = seen.at(-1)!;
  assert.ok(last.conn > first.conn, 'the connection number grew across nodes');
  for (const m of cluster.members) assert.equal(m.ctx.presence.status(w.d.id), last, 'every node shows the new connection online');
  assert.ok(moved.connected);
});

on('connection numbers come from one counter: they grow across both nodes in the order of connecting', async (cluster) => {
  const devs = await Promise.all([0, 1, 2, 3].map(() => cluster.provision()));
  const conns: number[] = [];
  for (const [i, d] of devs.entries()) {
    track((await cluster.device(d, { node: i % 2 })).client);
    await waitUntil(() => cluster.members.every((m) => m.ctx.presence.isOnline(d.id)), 5000, `${d.id} online on every node`);
    conns.push(cluster.members[i % 2]!.ctx.presence.status(d.id).conn);
  }
  assert.equal(
    [...conns].sort((a, b) => a - b),
    conns,
    `connection numbers ${conns.join(', ')}`,
  );
  assert.is(new Set(conns).size, conns.length);
});

on('a device that drops from node 1 and is back on node 2 within the grace window is reconnecting, then online, never offline', async (cluster) => {
  const w = await watched(cluster, cluster.members[0]!, 1);
  w.device.stream.destroy();
  await waitUntil(() => w.statuses().find((s) => s.state === 'reconnecting'), 5000, 'reconnecting');
  track((await connectDevice(cluster.members[1]!.broker.mqttUrl, w.d)).client);
  await waitUntil(() => w.statuses().at(-1)?.state === 'online', 5000, 'online again');
  await pastGrace(cluster, w);
  const seen = w.statuses().filter((s, i, all) => i === 0 || s.state !== all[i - 1]!.state);
  assert.equal(
    seen.map((s) => s.state),
    ['online', 'reconnecting', 'online'],
    states(w.statuses()),
  );
  assert.is(seen[1]!.reason, 'socket');
  for (const m of cluster.members) assert.is(m.ctx.presence.status(w.d.id).state, 'online', 'every node shows the device online');
});

on(
  'a device that does not come back goes offline after the grace window, decided by another node: the node that saw the drop has stopped',
  async (cluster, backends) => {
    // A third node holds the device; the agent is on node 2.
    const extra = await TestCluster.start(backends, 1, { graceMs: GRACE_MS, adminToken: cluster.adminToken, clock });
    try {
      const w = await watched(cluster, extra.members[0]!, 1);
      w.device.stream.destroy();
      const reconnecting = await waitUntil(() => w.statuses().find((s) => s.state === 'reconnecting'), 5000, 'reconnecting');
      await extra.stop();
      // Every remaining node has the reconnecting status (and its timer) before the window ends.
      await quiet(cluster, w);
      clock.advance(GRACE_MS * 2);
      const offline = await waitUntil(() => w.statuses().find((s) => s.state === 'offline'), 5000, 'offline');
      assert.is(offline.reason, 'socket');
      assert.is(offline.conn, reconnecting.conn);
      const seen = w.statuses().filter((s, i, all) => i === 0 || s.state !== all[i - 1]!.state || s.conn !== all[i - 1]!.conn);
      assert.equal(
        seen.map((s) => s.state),
        ['online', 'reconnecting', 'offline'],
        states(w.statuses()),
      );
      for (const m of cluster.members) assert.is(m.ctx.presence.status(w.d.id).state, 'offline');
    } finally {
      await extra.stop();
    }
  },
);

t.run();
