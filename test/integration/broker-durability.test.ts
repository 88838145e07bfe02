// Durability: the broker as a child process on a data dir, stopped with SIGTERM
// and, separately, SIGKILLed in the middle of a burst of claims, then restarted on the same dir.
// Its log output is checked for every secret the test handed it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Bindings } from '../../protocol/messages';
import { agentTopic, enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { connectAgent, connectDevice, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { connect, connectRefused, end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

interface Agent {
  id: string;
  password: string;
  token: string;
}

async function createAgent(p: BrokerProcess, id: string): Promise<Agent> {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const created = await p.api('POST', '/api/agents', { id, name: `Agent ${id}`, password });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const login = await p.api('POST', '/api/login', { id, password }, undefined);
  assert.is(login.status, 200, JSON.stringify(login.body));
  return { id, password, token: login.body.token };
}

async function provision(p: BrokerProcess, machineCode?: string): Promise<Dev> {
  const mac = randomMac();
  const r = await p.api('POST', '/api/devices', { mac, model: 'test-board', ...(machineCode ? { machineCode } : {}) });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.id, secret: r.body.secret, mac };
}

/** The registry as an admin reads it; presence and last-seen are live state, not stored state. */
async function registry(
  p: BrokerProcess,
): Promise<{ devices: unknown[]; bindings: unknown[]; audit: { action: string; device: string | null; agent: string | null }[] }> {
  const get = async (path: string): Promise<any> => {
    const r = await p.api('GET', path);
    assert.is(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    devices: ((await get('/api/devices')) as Record<string, unknown>[]).map(({ presence: _p, lastSeen: _l, ...rest }) => rest),
    bindings: ((await get('/api/bindings')) as Record<string, unknown>[]).map(({ presence: _p, ...rest }) => rest),
    audit: await get('/api/audit?limit=1000'),
  };
}

/** The retained bindings an agent gets when it connects. */
async function bindingsSeenBy(url: string, a: Agent): Promise<string[]> {
  const client = await connectAgent(url, a.id, a.token);
  try {
    const log = recorder(client);
    await subscribe(client, agentTopic(a.id, 'bindings'));
    const b = await waitUntil(() => log.find((m) => m.topic === agentTopic(a.id, 'bindings'))?.json as Bindings | undefined, 5000, `${a.id}'s bindings`);
    return b.devices.map((d) => d.id).sort();
  } finally {
    await end(client);
  }
}

/** The agent a device is told it belongs to when it reconnects. */
async function configAgentOf(url: string, d: Dev): Promise<string | null> {
  const { client, config } = await connectDevice(url, d);
  await end(client);
  return (config as { agent: { id: string } | null }).agent?.id ?? null;
}

/** No secret the broker was given appears in its log (stdout); stderr carries only the first-run banner. */
function assertNoSecrets(stdout: string, stderr: string, secrets: string[], bannerPassword: string): void {
  assert.ok(stdout.length > 0, 'the broker logged something');
  for (const s of secrets) {
    assert.ok(s.length >= 8, `secret ${JSON.stringify(s)} is long enough to search for`);
    assert.not.ok(stdout.includes(s), `a secret (${s.slice(0, 4)}…) appears in the broker log`);
    if (s !== bannerPassword) assert.not.ok(stderr.includes(s), `a secret (${s.slice(0, 4)}…) appears on the broker's stderr`);
  }
}

const durable = suite('durability');
const dirs: string[] = [];
const procs: BrokerProcess[] = [];
const mqttClients: MqttClient[] = [];
durable.after.each(async () => {
  await end(...mqttClients.splice(0));
  for (const p of procs.splice(0)) await p.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startIn(dir: string, adminToken: string): Promise<BrokerProcess> {
  const p = await BrokerProcess.start(dir, adminToken);
  procs.push(p);
  return p;
}

durable('SIGTERM exits 0; a restart on the same data dir has every binding and audit row, and clients see the same state', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'fleetbind-durable-'));
  dirs.push(parent);
  // First run creates the data dir itself.
  const dir = join(parent, 'nested', 'data');
  const adminToken = randomBytes(24).toString('hex');
  const secrets: string[] = [adminToken];
  const p1 = await startIn(dir, adminToken);

  // First run: the admin credential is written to the data dir and shown once on the terminal.
  const credentialFile = join(dir, 'initial-admin.txt');
  assert.is(statSync(credentialFile).mode & 0o777, 0o600);
  const initial = readFileSync(credentialFile, 'utf8');
  const adminPassword = /password: (\S+)/.exec(initial)?.[1] ?? '';
  assert.ok(adminPassword.length >= 16, initial);
  assert.ok(p1.stderr.includes(adminPassword), 'the first-run banner shows the admin password');
  assert.ok(p1.stderr.includes(credentialFile), 'the first-run banner says where the credential is kept');
  secrets.push(adminPassword);
  const adminLogin = await p1.api('POST', '/api/login', { id: 'admin:admin', password: adminPassword }, undefined);
  assert.is(adminLogin.status, 200, JSON.stringify(adminLogin.body));
  secrets.push(adminLogin.body.token);

  const agents = [await createAgent(p1, 'alpha'), await createAgent(p1, 'bravo'), await createAgent(p1, 'charlie')];
  for (const a of agents) secrets.push(a.password, a.token);
  const code = `CT${randomBytes(3).toString('hex').toUpperCase()}`;
  const devices = [await provision(p1), await provision(p1), await provision(p1, code), await provision(p1)];

  // One device enrolls itself with a fleet token.
  const et = await p1.api('POST', '/api/enrollment-tokens', { uses: 2, expiresIn: '1h' });
  assert.is(et.status, 201);
  secrets.push(et.body.token);
  const mac = randomMac();
  const enroller = await connect(p1.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: et.body.token });
  mqttClients.push(enroller);
  await subscribe(enroller, enrollReplyTopic(mac));
  const replied = waitFor(enroller, (t) => t === enrollReplyTopic(mac), 5000, 'enroll reply');
  await publish(enroller, enrollTopic(mac), { mac, model: 'test-board', fw: '1.0.0' });
  const reply = (await replied).json as { ok: boolean; deviceId: string; secret: string };
  assert.ok(reply.ok, JSON.stringify(reply));
  devices.push({ id: reply.deviceId, secret: reply.secret, mac });
  for (const d of devices) secrets.push(d.secret);

  for (const d of devices) mqttClients.push((await connectDevice(p1.mqttUrl, d)).client);
  const [alpha, bravo] = [await connectAgent(p1.mqttUrl, 'alpha', agents[0]!.token), await connectAgent(p1.mqttUrl, 'bravo', agents[1]!.token)];
  mqttClients.push(alpha, bravo);
  const ok = async (c: MqttClient, id: string, body: Record<string, unknown>): Promise<void> => {
    const r = await request(c, { kind: 'agent', id }, body);
    assert.ok(r.ok, JSON.stringify(r));
  };
  await ok(alpha, 'alpha', { op: 'claim', target: devices[0]!.id });
  await ok(alpha, 'alpha', { op: 'claim', target: devices[1]!.id });
  const label = await p1.api('GET', `/api/labels/${code}`);
  await ok(bravo, 'bravo', { op: 'claim', target: label.body.url });
  await ok(bravo, 'bravo', { op: 'claim', target: devices[4]!.id });
  await ok(alpha, 'alpha', { op: 'release', device: devices[1]!.id });
  const moved = await p1.api('POST', `/api/devices/${devices[4]!.id}/transfer`, { agent: 'charlie', reason: 'shift change' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));

  // Refusals with secret-looking input: logged, never with the secret.
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  secrets.push(wrongPassword);
  assert.is((await p1.api('POST', '/api/login', { id: 'alpha', password: wrongPassword }, undefined)).status, 401);
  const wrongSecret = `nope-${randomBytes(12).toString('hex')}`;
  secrets.push(wrongSecret);
  await connectRefused(p1.mqttUrl, { clientId: devices[3]!.id, username: devices[3]!.id, password: wrongSecret });

  const before = await registry(p1);
  assert.is(before.bindings.length, 3);
  await end(...mqttClients.splice(0));
  assert.equal(await p1.stop('SIGTERM'), { code: 0, signal: null });
  assert.ok(
    p1.logLines().some((l) => l.msg === 'stopped'),
    'the broker logged a clean stop',
  );

  const p2 = await startIn(dir, adminToken);
  assert.not.ok(p2.stderr.includes(adminPassword), 'the admin credential is printed on the first run only');
  assert.equal(await registry(p2), before);
  const boundTo = (agent: string): string[] =>
    (before.bindings as { device: string; agent: string }[])
      .filter((b) => b.agent === agent)
      .map((b) => b.device)
      .sort();
  for (const a of agents) assert.equal(await bindingsSeenBy(p2.mqttUrl, a), boundTo(a.id), `${a.id} sees the same devices after the restart`);
  for (const d of devices) {
    const b = (before.bindings as { device: string; agent: string }[]).find((x) => x.device === d.id);
    assert.is(await configAgentOf(p2.mqttUrl, d), b?.agent ?? null, `${d.id} is told the same agent after the restart`);
  }
  const transfer = (await registry(p2)).audit.find((r) => r.action === 'transfer') as { actor: string; detail: { reason: string } } | undefined;
  assert.is(transfer?.actor, 'admin:token');
  assert.is(transfer?.detail.reason, 'shift change');

  assert.equal(await p2.stop('SIGTERM'), { code: 0, signal: null });
  assertNoSecrets(p1.stdout + p2.stdout, p1.stderr + p2.stderr, secrets, adminPassword);
});

durable('SIGKILL during a burst of claims: every answered claim survives, each binding has exactly one claim row, nothing is half-written', async () => {
  const AGENTS = 16;
  const DEVICES = 120;
  const IN_FLIGHT = 4;
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-kill-'));
  dirs.push(dir);
  const adminToken = randomBytes(24).toString('hex');
  const p1 = await startIn(dir, adminToken);
  const secrets: string[] = [adminToken];
  const agents = await Promise.all(Array.from({ length: AGENTS }, (_, i) => createAgent(p1, `burst-${i}`)));
  const devices = await Promise.all(Array.from({ length: DEVICES }, () => provision(p1)));
  for (const a of agents) secrets.push(a.password, a.token);
  for (const d of devices) secrets.push(d.secret);

  // Every agent keeps IN_FLIGHT claims of random devices going until the broker dies.
  let sent = 0;
  let answered = 0;
  let killed = false;
  const okClaims: { agent: string; device: string }[] = [];
  const unexpected: string[] = [];
  const pending = new Map<string, { agent: string; device: string }>();
  const clients = await Promise.all(agents.map((a) => connectAgent(p1.mqttUrl, a.id, a.token)));
  mqttClients.push(...clients);
  const claimNext = (c: MqttClient, agent: string): void => {
    if (killed) return;
    const id = `${agent}-${++sent}`;
    const device = devices[Math.floor(Math.random() * DEVICES)]!.id;
    pending.set(id, { agent, device });
    c.publish(agentTopic(agent, 'req'), JSON.stringify({ id, op: 'claim', target: device }), { qos: 0 });
  };
  clients.forEach((c, i) => {
    const agent = agents[i]!.id;
    c.on('message', (topic, payload) => {
      if (topic !== agentTopic(agent, 'res')) return;
      const res = JSON.parse(payload.toString('utf8')) as { id: string; ok: boolean; error?: { code: string } };
      const claim = pending.get(res.id);
      if (!claim) return;
      pending.delete(res.id);
      answered++;
      if (res.ok) okClaims.push(claim);
      else if (!['BOUND_TO_OTHER', 'LIMIT'].includes(res.error?.code ?? '')) unexpected.push(JSON.stringify(res));
      claimNext(c, agent);
    });
    c.on('error', () => undefined);
    for (let k = 0; k < IN_FLIGHT; k++) claimNext(c, agent);
  });
  // Kill while half the devices are still free, so claims that win are in flight.
  await waitUntil(() => new Set(okClaims.map((c) => c.device)).size >= DEVICES / 2, 60_000, 'half the devices claimed');
  const exit = await p1.stop('SIGKILL');
  killed = true;
  assert.equal(exit, { code: null, signal: 'SIGKILL' });
  assert.equal(unexpected, [], 'claims only win or meet BOUND_TO_OTHER/LIMIT');
  assert.ok(pending.size > 0, 'claims were still in flight when the broker was killed');
  assert.ok(okClaims.length > 0);
  await end(...mqttClients.splice(0));

  // The file itself is sound after the crash.
  const raw = new SQLite(join(dir, 'fleetbind.db'));
  try {
    assert.equal(raw.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
  } finally {
    raw.close();
  }

  const p2 = await startIn(dir, adminToken);
  const after = await registry(p2);
  const rows = after.devices as { id: string; agent: string | null; boundAt: number | null; boundVia: string | null; bindingVersion: number }[];
  const agentOf = new Map(rows.map((r) => [r.id, r.agent]));
  for (const c of okClaims) assert.is(agentOf.get(c.device), c.agent, `answered claim of ${c.device} by ${c.agent} is in the registry`);
  for (const r of rows) {
    // Claims only, no releases: a bound device was bound exactly once, with all its binding columns.
    if (r.agent === null) assert.equal([r.boundAt, r.boundVia, r.bindingVersion], [null, null, 0], JSON.stringify(r));
    else assert.ok(r.boundAt !== null && r.boundVia === 'device-id' && r.bindingVersion === 1, JSON.stringify(r));
  }
  const bound = rows.filter((r) => r.agent !== null);
  console.log(
    `# sent ${sent}, answered ${answered}, ok ${okClaims.length}, in flight at kill ${pending.size}, bound ${bound.length}, unanswered but committed ${bound.filter((r) => !okClaims.some((c) => c.device === r.id)).length}`,
  );
  const claimRows = after.audit.filter((a) => a.action === 'claim');
  assert.is(claimRows.length, bound.length, 'one claim audit row per bound device');
  for (const r of bound) {
    const mine = claimRows.filter((a) => a.device === r.id);
    assert.is(mine.length, 1, `${r.id} has ${mine.length} claim rows`);
    assert.is(mine[0]!.agent, r.agent, `${r.id}'s claim row names its agent`);
  }
  assert.equal(after.bindings.map((b) => (b as { device: string }).device).sort(), bound.map((r) => r.id).sort());
  for (const a of agents) {
    const held = bound
      .filter((r) => r.agent === a.id)
      .map((r) => r.id)
      .sort();
    assert.ok(held.length <= 10, `${a.id} holds ${held.length} devices, over the default limit`);
    assert.equal(await bindingsSeenBy(p2.mqttUrl, a), held, `${a.id} sees its devices after the restart`);
  }
  for (const d of devices) assert.is(await configAgentOf(p2.mqttUrl, d), agentOf.get(d.id) ?? null, `${d.id} is told its agent after the restart`);
  assert.equal(await p2.stop('SIGTERM'), { code: 0, signal: null });
  assertNoSecrets(p1.stdout + p2.stdout, p1.stderr + p2.stderr, secrets, '');
});

durable.run();
