// Node failover: node 1 of two broker processes is killed with SIGKILL while devices on it
// run jobs and an agent on node 2 watches them. Node 2 finds node 1 dead and shows its devices
// `reconnecting`; those that come back (to node 2) within the grace window turn `online` and are
// never shown `offline`; one that stays away goes `offline` when the window ends. Every queued
// job still runs exactly once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import type { Status } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { connectAgent, connectDevice, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { JobDevice } from '../helpers/job-device';
import { identify, jobsWhen, submitOk } from '../helpers/jobs';
import { end, recorder, subscribe } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

const GRACE_MS = 10_000;
const ADMIN = randomBytes(24).toString('hex');

const t = suite<{ backends?: Backends | Error; nodes: BrokerProcess[]; dirs: string[] }>('node failure in a two-node cluster', { nodes: [], dirs: [] });
t.before(async (c) => {
  c.backends = await freshBackends();
  if (c.backends instanceof Error) return;
  const flags = [
    '--database-url',
    c.backends.databaseUrl,
    '--redis-url',
    c.backends.redisUrl,
    '--redis-prefix',
    c.backends.redisPrefix,
    '--grace-ms',
    String(GRACE_MS),
    '--job-ack-timeout-ms',
    '500',
  ];
  for (let i = 0; i < 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbind-node-'));
    c.dirs.push(dir);
    c.nodes.push(await BrokerProcess.start(dir, ADMIN, flags));
  }
});
t.after(async (c) => {
  for (const n of c.nodes) await n.kill();
  for (const d of c.dirs) rmSync(d, { recursive: true, force: true });
  if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
});

const NAME = 'SIGKILL node 1: devices come back on node 2 reconnecting → online, never offline; the one that stays away goes offline; every job runs once';
t(NAME, async (c) => {
  requireBackends(c.backends);
  const [n1, n2] = c.nodes as [BrokerProcess, BrokerProcess];
  const provision = async (): Promise<Dev> => {
    const mac = randomMac();
    const r = await n2.api('POST', '/api/devices', { mac, model: 'test-board' });
    assert.is(r.status, 201, JSON.stringify(r.body));
    return { id: r.body.id, secret: r.body.secret, mac };
  };
  const returning = await Promise.all([0, 1, 2].map(async () => JobDevice.connect(n1.mqttUrl, await provision(), { durationMs: 1500 })));
  const away = await provision();
  const awayClient = (await connectDevice(n1.mqttUrl, away)).client;

  const created = await n2.api('POST', '/api/agents', { id: 'watcher', name: 'Watcher', password: 'watcher-password' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const login = await n2.api('POST', '/api/login', { id: 'watcher', password: 'watcher-password' }, undefined);
  const agent = { client: await connectAgent(n2.mqttUrl, 'watcher', login.body.token), id: 'watcher', token: login.body.token as string };
  const who = { kind: 'agent' as const, id: agent.id };
  const ids = [...returning.map((d) => d.id), away.id];
  for (const id of ids) assert.ok((await request(agent.client, who, { op: 'claim', target: id })).ok);
  const log = recorder(agent.client);
  await subscribe(
    agent.client,
    ids.map((id) => deviceTopic(id, 'status')),
  );
  const statuses = (id: string): Status[] => log.filter((m) => m.topic === deviceTopic(id, 'status')).map((m) => m.json as Status);
  await waitUntil(() => ids.every((id) => statuses(id).some((s) => s.state === 'online')), 5000, 'every device online');

  // Three jobs per device, submitted on node 2 and dispatched by node 1, which holds the devices.
  const jobs = new Map<string, string[]>();
  for (const d of returning) {
    const list: string[] = [];
    for (let i = 0; i < 3; i++) list.push(await submitOk(agent, identify(d.id)));
    jobs.set(d.id, list);
  }
  await waitUntil(() => returning.every((d) => d.runs.length === 1), 30_000, 'the first job running on every device');

  assert.equal(await n1.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  await waitUntil(() => ids.every((id) => statuses(id).some((s) => s.state === 'reconnecting')), 15_000, 'node 2 to show every device of node 1 reconnecting');
  for (const id of ids) assert.is(statuses(id).find((s) => s.state === 'reconnecting')!.reason, 'broker-restart');
  await Promise.all(returning.map((d) => d.reconnect(false, n2.mqttUrl)));

  for (const d of returning) {
    const done = await jobsWhen(n2, d.id, (list) => list.length === 3 && list.every((j) => j.state === 'done'), ADMIN, 30_000);
    assert.is(done.length, 3);
    assert.equal(d.runs, jobs.get(d.id), `${d.id} ran each job once, in order`);
  }
  // The device that stayed away: offline once the grace window is over. By then the window of
  // every device that came back is over too, so a false offline would have shown.
  const offline = await waitUntil(() => statuses(away.id).find((s) => s.state === 'offline'), GRACE_MS + 10_000, 'the absent device offline');
  assert.is(offline.reason, 'broker-restart');
  for (const d of returning) {
    const seen = statuses(d.id).filter((s, i, all) => i === 0 || s.state !== all[i - 1]!.state);
    assert.equal(
      seen.map((s) => s.state),
      ['online', 'reconnecting', 'online'],
      `${d.id}: ${seen.map((s) => s.state).join(' → ')}`,
    );
  }
  await end(agent.client, awayClient);
  for (const d of returning) await d.close();
});

t.run();
