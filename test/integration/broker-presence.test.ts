// Presence as a bound agent sees it (docs/architecture.md, Presence): every status message the agent receives is
// recorded, so a takeover that flashes "offline" for one message fails the test.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Status } from '../../protocol/messages';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { TestBroker, connectAgent, connectDevice, request } from '../helpers/broker';
import { ManualClock } from '../helpers/manual-clock';
import { type Received, end, recorder, subscribe, waitClosed } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

const GRACE_MS = 1000;
/** The broker's clock: the test ends grace windows by moving it on, never by sleeping. */
const clock = new ManualClock();

interface Watched {
  d: Dev;
  device: MqttClient;
  agent: { client: MqttClient; id: string; token: string };
  log: Received[];
  statuses(): Status[];
  /** Presence of the device in every retained bindings message the agent received. */
  bindingPresence(): Status[];
}

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);

/** A connected device bound to a fresh agent that subscribes to the device's status. */
async function watched(): Promise<Watched> {
  const d = await tb.provision();
  const device = track((await tb.device(d)).client);
  const agent = await tb.agent(`ag-${randomBytes(4).toString('hex')}`);
  track(agent.client);
  const claimed = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: d.id });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  const log = recorder(agent.client);
  const statusTopic = deviceTopic(d.id, 'status');
  await subscribe(agent.client, statusTopic);
  const statuses = (): Status[] => log.filter((m) => m.topic === statusTopic).map((m) => m.json as Status);
  await waitUntil(() => statuses().some((s) => s.state === 'online'), 5000, 'the retained online status');
  const bindingPresence = (): Status[] =>
    log
      .filter((m) => m.topic === agentTopic(agent.id, 'bindings'))
      .flatMap((m) => (m.json as { devices: { id: string; presence: Status }[] }).devices.filter((x) => x.id === d.id).map((x) => x.presence));
  return { d, device, agent, log, statuses, bindingPresence };
}

function waitStatus(w: Watched, state: Status['state'], reason?: Status['reason']): Promise<Status> {
  return waitUntil(
    () => w.statuses().find((s) => s.state === state && (reason === undefined || s.reason === reason)),
    5000,
    `status ${state}${reason ? ` (${reason})` : ''}`,
  );
}

const states = (list: Status[]): string => list.map((s) => (s.reason ? `${s.state}/${s.reason}` : s.state)).join(' → ');

/** Drops repeats: a device's own status publish is rewritten to the broker's current status. */
const transitions = (list: Status[]): Status[] => list.filter((s, i) => i === 0 || s.state !== list[i - 1]!.state || s.conn !== list[i - 1]!.conn);

/**
 * Everything the broker published to the agent before this has arrived: its `list` answer goes
 * out after the statuses of any presence change already made. Returns the device's presence in it.
 */
async function settled(agent: Watched['agent'], device: string): Promise<Status> {
  const r = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'list' });
  assert.ok(r.ok, JSON.stringify(r));
  return (r.result.devices as { id: string; presence: Status }[]).find((x) => x.id === device)!.presence;
}

/** A drop then the grace window: reconnecting with the reason, then offline with the same reason (not before the window ends). */
async function expectDropped(w: Watched, reason: Status['reason']): Promise<void> {
  const reconnecting = await waitStatus(w, 'reconnecting', reason);
  clock.advance(GRACE_MS / 2);
  assert.is((await settled(w.agent, w.d.id)).state, 'reconnecting', 'half way through the grace window');
  assert.not.ok(
    w.statuses().some((s) => s.state === 'offline'),
    `offline inside the grace window: ${states(w.statuses())}`,
  );
  clock.advance(GRACE_MS / 2);
  const offline = await waitStatus(w, 'offline', reason);
  const seq = transitions(w.statuses());
  assert.equal(
    seq.map((s) => s.state),
    ['online', 'reconnecting', 'offline'],
    states(w.statuses()),
  );
  assert.ok(
    offline.since - reconnecting.since >= GRACE_MS - 5,
    `offline came ${offline.since - reconnecting.since} ms after reconnecting, inside the ${GRACE_MS} ms grace window`,
  );
  assert.is(offline.conn, reconnecting.conn, 'offline names the connection that dropped');
  await waitUntil(() => w.bindingPresence().some((p) => p.state === 'offline' && p.reason === reason), 5000, `bindings showing offline/${reason}`);
  const rest = await tb.api('GET', `/api/devices/${w.d.id}`);
  assert.is(rest.body.presence.state, 'offline');
  assert.is(rest.body.presence.reason, reason);
}

const presence = suite('presence');
presence.before(async () => {
  tb = await TestBroker.start({ graceMs: GRACE_MS, clock });
});
presence.after.each(async () => {
  await end(...clients.splice(0));
});
presence.after(async () => {
  await tb.stop();
});

presence('a takeover never shows offline or reconnecting, on status or bindings', async () => {
  const w = await watched();
  const first = w.device;
  // The same id connects again while the first socket is still open, five times over.
  const takers: MqttClient[] = [];
  for (let i = 0; i < 5; i++) takers.push(track((await connectDevice(tb.broker.mqttUrl, w.d)).client));
  await waitClosed(first);
  for (const c of takers.slice(0, -1)) await waitClosed(c);
  assert.ok(takers.at(-1)!.connected, 'the newest connection is the one left open');
  // Past the end of a wrongly started grace window, and its status (if any) delivered.
  clock.advance(GRACE_MS * 2);
  assert.is((await settled(w.agent, w.d.id)).state, 'online');
  const seq = w.statuses();
  assert.ok(seq.length >= 2, `expected the takeovers' online statuses, got ${states(seq)}`);
  assert.ok(
    seq.every((s) => s.state === 'online'),
    states(seq),
  );
  assert.is(seq.at(-1)!.reason, 'takeover', `the newest online status says the device replaced its own connection: ${states(seq)}`);
  const conns = seq.map((s) => s.conn);
  assert.equal(
    conns,
    [...conns].sort((a, b) => a - b),
    'connection numbers only grow',
  );
  assert.ok(
    w.bindingPresence().every((p) => p.state === 'online'),
    states(w.bindingPresence()),
  );
  const rest = await tb.api('GET', `/api/devices/${w.d.id}`);
  assert.is(rest.body.presence.state, 'online');
  assert.is(rest.body.presence.conn, seq.at(-1)!.conn);
});

presence('a destroyed socket shows reconnecting, then offline with reason socket after the grace window', async () => {
  const w = await watched();
  w.device.stream.destroy();
  await expectDropped(w, 'socket');
});

presence('a clean disconnect ends offline with reason clean', async () => {
  const w = await watched();
  await new Promise<void>((r) => w.device.end(false, {}, () => r()));
  await expectDropped(w, 'clean');
});

presence('a device that stops pinging is dropped for keepalive', async () => {
  const d = await tb.provision();
  const agent = await tb.agent(`ag-${randomBytes(4).toString('hex')}`);
  track(agent.client);
  const device = track((await connectDevice(tb.broker.mqttUrl, d, { keepalive: 1 })).client);
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: d.id })).ok);
  const log = recorder(agent.client);
  const topic = deviceTopic(d.id, 'status');
  await subscribe(agent.client, topic);
  const w: Watched = {
    d,
    device,
    agent,
    log,
    statuses: () => log.filter((m) => m.topic === topic).map((m) => m.json as Status),
    bindingPresence: () =>
      log
        .filter((m) => m.topic === agentTopic(agent.id, 'bindings'))
        .flatMap((m) => (m.json as { devices: { id: string; presence: Status }[] }).devices.map((x) => x.presence)),
  };
  await waitStatus(w, 'online');
  // Silence the client: no PINGREQ goes out, and it does not time the broker out itself.
  (device as unknown as { _destroyKeepaliveManager(): void })._destroyKeepaliveManager();
  await expectDropped(w, 'keepalive');
});

presence("a device's own status publish is replaced by the broker's view, live and retained", async () => {
  const w = await watched();
  const online = w.statuses().at(-1)!;
  const before = w.statuses().length;
  w.device.publish(deviceTopic(w.d.id, 'status'), JSON.stringify({ state: 'offline', conn: 1, since: 1 }), { qos: 1, retain: true });
  const live = await waitUntil(() => w.statuses()[before], 5000, 'the agent hears the publish');
  assert.equal(live, online, "live subscribers hear the broker's status, not the device's");
  // A later subscriber is handed the retained status: still the broker's.
  const late = await tb.agent(`ag-${randomBytes(4).toString('hex')}`);
  track(late.client);
  const transferred = await tb.api('POST', `/api/devices/${w.d.id}/transfer`, { agent: late.id, reason: 'presence test' });
  assert.is(transferred.status, 200, JSON.stringify(transferred.body));
  const lateLog = recorder(late.client);
  await subscribe(late.client, deviceTopic(w.d.id, 'status'));
  const retained = await waitUntil(() => lateLog.find((m) => m.topic === deviceTopic(w.d.id, 'status')), 5000, 'the retained status');
  assert.ok(retained.retain, 'handed over as the retained message');
  assert.equal(retained.json, online);
});

presence('an admin kick ends offline with reason kicked', async () => {
  const w = await watched();
  const r = await tb.api('POST', `/api/devices/${w.d.id}/kick`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body, { id: w.d.id, closed: 1 });
  await waitClosed(w.device);
  await expectDropped(w, 'kicked');
});

presence('coming back inside the grace window goes reconnecting → online, never offline', async () => {
  const w = await watched();
  w.device.stream.destroy();
  await waitStatus(w, 'reconnecting', 'socket');
  track((await tb.device(w.d)).client);
  await waitUntil(() => w.statuses().at(-1)?.state === 'online' && w.statuses().at(-1), 5000, 'online again');
  clock.advance(GRACE_MS * 2);
  assert.is((await settled(w.agent, w.d.id)).state, 'online');
  const seq = transitions(w.statuses());
  assert.equal(
    seq.map((s) => s.state),
    ['online', 'reconnecting', 'online'],
    states(w.statuses()),
  );
  assert.ok(seq[2]!.conn > seq[0]!.conn, 'the new connection has a higher number');
  assert.ok(
    w.bindingPresence().every((p) => p.state !== 'offline'),
    states(w.bindingPresence()),
  );
  assert.is((await tb.api('GET', `/api/devices/${w.d.id}`)).body.presence.state, 'online');
});

const restart = suite('presence across a broker restart');

restart('devices seen before are reconnecting/broker-restart for the grace window, then online if back, offline if not', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-presence-'));
  const adminToken = randomBytes(24).toString('hex');
  let b: TestBroker | null = await TestBroker.start({ dataDir, adminToken, graceMs: GRACE_MS });
  const live: MqttClient[] = [];
  try {
    const back = await b.provision();
    const gone = await b.provision();
    const never = await b.provision();
    const agent = await b.agent('restart-agent');
    live.push(agent.client);
    for (const d of [back, gone]) live.push((await b.device(d)).client);
    for (const d of [back, gone, never]) assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: d.id })).ok);
    await b.stop();
    await end(...live.splice(0));

    const restartClock = new ManualClock();
    b = await TestBroker.start({ dataDir, adminToken, graceMs: GRACE_MS, clock: restartClock });
    const restarted = b;
    const client = await connectAgent(restarted.broker.mqttUrl, agent.id, agent.token);
    live.push(client);
    const log = recorder(client);
    await subscribe(
      client,
      [back, gone, never].map((d) => deviceTopic(d.id, 'status')),
    );
    const statusOf = (d: Dev): Status[] => log.filter((m) => m.topic === deviceTopic(d.id, 'status')).map((m) => m.json as Status);
    const bound = (): { id: string; presence: Status }[] | undefined =>
      (log.filter((m) => m.topic === agentTopic(agent.id, 'bindings')).at(-1)?.json as { devices: { id: string; presence: Status }[] } | undefined)?.devices;

    // Inside the grace window: both seen devices are reconnecting because the broker restarted.
    const first = await waitUntil(bound, 5000, 'the bindings after restart');
    const p = (id: string): Status | undefined => first.find((x) => x.id === id)?.presence;
    assert.is(p(back.id)?.state, 'reconnecting');
    assert.is(p(back.id)?.reason, 'broker-restart');
    assert.is(p(gone.id)?.state, 'reconnecting');
    assert.is(p(gone.id)?.reason, 'broker-restart');
    assert.is(p(never.id)?.state, 'offline');
    for (const d of [back, gone]) {
      const s = await waitUntil(() => statusOf(d)[0], 5000, `retained status of ${d.id}`);
      assert.equal([s.state, s.reason], ['reconnecting', 'broker-restart'], `${d.id} retained status after restart`);
    }

    live.push((await connectDevice(restarted.broker.mqttUrl, back)).client);
    // Past the end of both windows; the `list` answer comes after the statuses that ended them.
    restartClock.advance(GRACE_MS * 2);
    const listed = await request(client, { kind: 'agent', id: agent.id }, { op: 'list' });
    assert.ok(listed.ok, JSON.stringify(listed));
    await waitUntil(() => statusOf(gone).find((s) => s.state === 'offline'), 5000, 'the device that did not come back going offline');
    assert.equal(
      transitions(statusOf(back)).map((s) => s.state),
      ['reconnecting', 'online'],
      states(statusOf(back)),
    );
    assert.equal(
      statusOf(gone).map((s) => `${s.state}/${s.reason}`),
      ['reconnecting/broker-restart', 'offline/broker-restart'],
    );
    await waitUntil(
      () => {
        const now = bound();
        const pr = (id: string): string | undefined => now?.find((x) => x.id === id)?.presence.state;
        return pr(back.id) === 'online' && pr(gone.id) === 'offline';
      },
      5000,
      'bindings showing the returned device online and the other offline',
    );
  } finally {
    await end(...live);
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

presence.run();
restart.run();
