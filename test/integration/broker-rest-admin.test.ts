// The admin REST API against a real broker: agents, devices (provisioning, re-provisioning,
// delete), transfer and forced release with their audit rows, enrollment tokens, labels that claim
// over MQTT, /healthz and /metrics.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import type { Bindings } from '../../protocol/messages';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { TestBroker, connectAgent, connectDevice, randomMac, request } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';
import { metric } from '../helpers/metrics';
import { connect, connectRefused, end, publish, recorder, subscribe, waitClosed, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);
let n = 0;
const fresh = (prefix: string): string => `${prefix}-${++n}-${randomBytes(2).toString('hex')}`;

async function audit(query: string): Promise<{ seq: number; actor: string; action: string; device: string | null; agent: string | null; detail: any }[]> {
  const r = await tb.api('GET', `/api/audit?${query}`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function claim(agent: { client: MqttClient; id: string }, target: unknown): Promise<any> {
  return request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target });
}

const admin = suite('REST admin');
admin.before(async () => {
  tb = await TestBroker.start();
});
admin.after.each(async () => {
  await end(...clients.splice(0));
});
admin.after(async () => {
  await tb.stop();
});

admin('agents: create, conflict, list, get, rename', async () => {
  const created = await tb.api('POST', '/api/agents', { id: ' Crew.7 ', name: 'Crew Seven', password: 'crew-password', deviceLimit: 3 });
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.equal({ ...created.body, createdAt: 0 }, { id: 'crew.7', name: 'Crew Seven', disabled: false, deviceLimit: 3, createdAt: 0 });
  assert.not.ok(JSON.stringify(created.body).includes('crew-password'));
  expectRestError(await tb.api('POST', '/api/agents', { id: 'CREW.7', name: 'Again', password: 'crew-password' }), 409, ErrorCode.CONFLICT, 'id');
  const list = await tb.api('GET', '/api/agents');
  assert.ok(
    list.body.some((a: any) => a.id === 'crew.7' && a.devices === 0 && !('password_hash' in a) && !('passwordHash' in a)),
    JSON.stringify(list.body),
  );
  assert.equal((await tb.api('GET', '/api/agents/crew.7')).body.devices, []);
  expectRestError(await tb.api('GET', '/api/agents/nobody'), 404, ErrorCode.NOT_FOUND);
  const renamed = await tb.api('PATCH', '/api/agents/crew.7', { name: 'Crew 7' });
  assert.is(renamed.body.name, 'Crew 7');
  expectRestError(await tb.api('PATCH', '/api/agents/crew.7', {}), 400, ErrorCode.BAD_REQUEST);
  expectRestError(await tb.api('PATCH', '/api/agents/nobody', { name: 'x' }), 404, ErrorCode.NOT_FOUND);
  const rows = await audit('agent=crew.7');
  assert.equal(rows.map((r) => r.action).reverse(), ['agent.created', 'agent.updated']);
  assert.ok(rows.every((r) => r.actor === 'admin:token'));
});

admin('disabling an agent closes its MQTT connection and stops it logging in, until re-enabled', async () => {
  const a = await tb.createAgent('soon-disabled', { password: 'disabled-password' });
  const token = await tb.login(a.id, a.password);
  const client = track(await connectAgent(tb.broker.mqttUrl, a.id, token));
  const ws = track(await connectAgent(tb.broker.wsUrl, a.id, token));
  const r = await tb.api('PATCH', `/api/agents/${a.id}`, { disabled: true });
  assert.is(r.body.disabled, true);
  await waitClosed(client);
  await waitClosed(ws);
  const login = await tb.api('POST', '/api/login', { id: a.id, password: a.password }, undefined);
  expectRestError(login, 403, ErrorCode.FORBIDDEN);
  expectRestError(await tb.api('GET', '/api/me', undefined, token), 401, ErrorCode.UNAUTHORIZED);
  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: `agent:${a.id}:${fresh('back')}`, username: `agent:${a.id}`, password: token })).message,
    /Bad username or password/,
  );
  assert.is((await tb.api('PATCH', `/api/agents/${a.id}`, { disabled: false })).body.disabled, false);
  assert.ok(await tb.login(a.id, a.password));
});

admin('devices: provision, ALREADY_REGISTERED for a known MAC, reprovision:true replaces the secret', async () => {
  const created = await tb.api('POST', '/api/devices', { mac: 'A4:CF:12:00:00:01', model: 'm5' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.is(created.body.id, 'esp32-a4cf12000001');
  assert.is(created.body.reprovisioned, false);
  const first = { id: created.body.id as string, secret: created.body.secret as string, mac: 'a4cf12000001' };
  assert.ok(first.secret.length >= 32);
  const device = track((await connectDevice(tb.broker.mqttUrl, first)).client);

  expectRestError(await tb.api('POST', '/api/devices', { mac: 'a4-cf-12-00-00-01' }), 409, ErrorCode.ALREADY_REGISTERED, 'mac');
  assert.equal(
    (await audit(`device=${first.id}`)).map((r) => r.action),
    ['device.registered'],
    'the refusal wrote nothing',
  );

  const again = await tb.api('POST', '/api/devices', { mac: 'a4cf12000001', reprovision: true });
  assert.is(again.status, 201, JSON.stringify(again.body));
  assert.equal([again.body.id, again.body.reprovisioned], [first.id, true]);
  assert.is.not(again.body.secret, first.secret);
  await end(device);
  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: first.id, username: first.id, password: first.secret })).message,
    /Bad username or password/,
  );
  track((await connectDevice(tb.broker.mqttUrl, { ...first, secret: again.body.secret })).client);
  assert.equal(
    (await audit(`device=${first.id}`)).map((r) => r.action),
    ['device.reprovisioned', 'device.registered'],
  );

  const one = await tb.api('GET', `/api/devices/${first.id}`);
  assert.equal([one.body.mac, one.body.model, one.body.agent, one.body.presence.state], ['a4cf12000001', 'test-board', null, 'online']);
  assert.not.ok(JSON.stringify(one.body).includes(again.body.secret));
  assert.ok((await tb.api('GET', '/api/devices')).body.some((d: any) => d.id === first.id));
  expectRestError(await tb.api('GET', '/api/devices/esp32-ffffffffffff'), 404, ErrorCode.NOT_FOUND);

  const code = `MC${randomBytes(3).toString('hex').toUpperCase()}`;
  assert.is((await tb.api('POST', '/api/devices', { mac: randomMac(), machineCode: code })).status, 201);
  expectRestError(await tb.api('POST', '/api/devices', { mac: randomMac(), machineCode: code.toLowerCase() }), 409, ErrorCode.CONFLICT, 'machineCode');
});

admin('an agent sees its own device over REST and nothing else', async () => {
  const agent = await tb.agent(fresh('viewer'));
  track(agent.client);
  const mine = await tb.provision();
  const theirs = await tb.provision();
  assert.ok((await claim(agent, mine.id)).ok);
  assert.is((await tb.api('GET', `/api/devices/${mine.id}`, undefined, agent.token)).body.agent, agent.id);
  expectRestError(await tb.api('GET', `/api/devices/${theirs.id}`, undefined, agent.token), 404, ErrorCode.NOT_FOUND);
});

admin('DELETE of a bound device is refused and rolls back; of a free one it removes and disconnects it', async () => {
  const agent = await tb.agent(fresh('holder'));
  track(agent.client);
  const d = await tb.provision();
  const { client } = await tb.device(d);
  track(client);
  assert.ok((await claim(agent, d.id)).ok);
  expectRestError(await tb.api('DELETE', `/api/devices/${d.id}`), 409, ErrorCode.CONFLICT);
  const kept = await tb.api('GET', `/api/devices/${d.id}`);
  assert.equal([kept.status, kept.body.agent], [200, agent.id]);
  assert.ok(client.connected, 'a refused delete does not disconnect the device');
  assert.not.ok((await audit(`device=${d.id}`)).some((r) => r.action === 'device.deleted'));

  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'release', device: d.id })).ok);
  const del = await tb.api('DELETE', `/api/devices/${d.id}`, { reason: 'returned to vendor' });
  assert.is(del.status, 204, JSON.stringify(del.body));
  await waitClosed(client);
  expectRestError(await tb.api('GET', `/api/devices/${d.id}`), 404, ErrorCode.NOT_FOUND);
  const row = (await audit(`device=${d.id}`)).find((r) => r.action === 'device.deleted');
  assert.equal([row?.actor, row?.detail.reason, row?.detail.mac], ['admin:token', 'returned to vendor', d.mac]);
  assert.match((await connectRefused(tb.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret })).message, /Bad username or password/);
  expectRestError(await tb.api('DELETE', `/api/devices/${d.id}`), 404, ErrorCode.NOT_FOUND);
  // The MAC is free again.
  assert.is((await tb.api('POST', '/api/devices', { mac: d.mac })).status, 201);
});

admin('transfer moves a device with a reason: audited with actor and reason, both agents and the device told', async () => {
  const from = await tb.agent(fresh('from'));
  const to = await tb.agent(fresh('to'));
  track(from.client);
  track(to.client);
  const d = await tb.provision();
  const dev = await tb.device(d);
  track(dev.client);
  assert.ok((await claim(from, d.id)).ok);
  const fromLog = recorder(from.client);
  const toLog = recorder(to.client);
  const config = waitFor(dev.client, (t, j) => t === deviceTopic(d.id, 'config') && j.agent?.id === to.id, 5000, 'config naming the new agent');

  expectRestError(await tb.api('POST', `/api/devices/${d.id}/transfer`, { agent: to.id }), 400, ErrorCode.BAD_REQUEST, 'reason');
  expectRestError(await tb.api('POST', `/api/devices/${d.id}/transfer`, { agent: 'no-such-agent', reason: 'x' }), 404, ErrorCode.NOT_FOUND, 'agent');
  const moved = await tb.api('POST', `/api/devices/${d.id}/transfer`, { agent: to.id.toUpperCase(), reason: 'night shift' });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body, { device: d.id, from: from.id, to: to.id, changed: true });
  await config;
  const latest = (log: typeof fromLog, agent: string): string[] | undefined =>
    (log.filter((m) => m.topic === agentTopic(agent, 'bindings')).at(-1)?.json as Bindings | undefined)?.devices.map((x) => x.id);
  await waitUntil(() => latest(toLog, to.id)?.includes(d.id), 5000, 'the new agent’s bindings');
  await waitUntil(() => latest(fromLog, from.id)?.includes(d.id) === false, 5000, 'the old agent’s bindings');
  const row = (await audit(`device=${d.id}`)).find((r) => r.action === 'transfer');
  assert.equal([row?.actor, row?.agent, row?.detail.from, row?.detail.to, row?.detail.reason], ['admin:token', to.id, from.id, to.id, 'night shift']);
  // Repeating it changes nothing and writes nothing.
  const count = (await audit(`device=${d.id}`)).length;
  assert.is((await tb.api('POST', `/api/devices/${d.id}/transfer`, { agent: to.id, reason: 'again' })).body.changed, false);
  assert.is((await audit(`device=${d.id}`)).length, count);
});

admin('release of a device held by a running job needs force, and the forced release is audited', async () => {
  const agent = await tb.agent(fresh('payer'));
  track(agent.client);
  const d = await tb.provision();
  assert.ok((await claim(agent, d.id)).ok);
  // Stands in for the job queue's hold (a payment QR awaiting payment); the queue has its own suite.
  await tb.ctx.db.updateTable('devices').set({ reserved_by_job: 'job-held-1' }).where('id', '=', d.id).execute();
  const refused = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'release', device: d.id });
  assert.equal([refused.ok, refused.error.code], [false, ErrorCode.RESERVED], JSON.stringify(refused));
  expectRestError(await tb.api('POST', `/api/devices/${d.id}/release`, { reason: 'stuck' }), 409, ErrorCode.RESERVED, 'device');
  expectRestError(await tb.api('POST', `/api/devices/${d.id}/release`, {}), 400, ErrorCode.BAD_REQUEST, 'reason');
  assert.is((await tb.api('GET', `/api/devices/${d.id}`)).body.agent, agent.id);
  const forced = await tb.api('POST', `/api/devices/${d.id}/release`, { reason: 'customer left', force: true });
  assert.equal(forced.body, { device: d.id, from: agent.id, to: null, changed: true });
  const now = (await tb.api('GET', `/api/devices/${d.id}`)).body;
  assert.equal([now.agent, now.reservedByJob], [null, null]);
  const row = (await audit(`device=${d.id}`)).find((r) => r.action === 'release');
  assert.equal([row?.actor, row?.detail.reason, row?.detail.forced, row?.detail.from], ['admin:token', 'customer left', true, agent.id]);
  assert.is(tb.ctx.bindings.agentOf(d.id), null, 'the ACL map follows');
});

admin('enrollment tokens: create, list without the secret, revoke, and a revoked token enrolls nothing', async () => {
  const created = await tb.api('POST', '/api/enrollment-tokens', { uses: 3, expiresIn: '2h' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const { id, token } = created.body as { id: string; token: string };
  assert.ok(token.length >= 24);
  const list = await tb.api('GET', '/api/enrollment-tokens');
  const view = list.body.find((t: any) => t.id === id);
  assert.equal([view.usesTotal, view.usesLeft, view.revokedAt, view.createdBy], [3, 3, null, 'admin:token']);
  assert.not.ok(JSON.stringify(list.body).includes(token), 'the token itself is shown once, at creation');
  assert.is((await tb.api('DELETE', `/api/enrollment-tokens/${id}`)).status, 204);
  expectRestError(await tb.api('DELETE', `/api/enrollment-tokens/${id}`), 404, ErrorCode.NOT_FOUND);
  assert.ok((await tb.api('GET', '/api/enrollment-tokens')).body.find((t: any) => t.id === id).revokedAt > 0);
  const actions = (await audit('limit=50')).filter((r) => r.detail.token === id).map((r) => r.action);
  assert.equal(actions, ['enroll_token.revoked', 'enroll_token.created']);

  const mac = randomMac();
  const c = track(await connect(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: token }));
  await subscribe(c, `fb/v1/enroll/${mac}/reply`);
  const reply = waitFor(c, (t) => t === `fb/v1/enroll/${mac}/reply`, 5000, 'enroll reply');
  await publish(c, `fb/v1/enroll/${mac}`, { mac, model: 'm', fw: '1' });
  const r = (await reply).json as any;
  assert.equal([r.ok, r.error.code], [false, ErrorCode.TOKEN_EXPIRED]);
  assert.match(r.error.message, /revoked/);
  assert.is((await tb.api('GET', `/api/devices/esp32-${mac}`)).status, 404);
});

admin('a label from GET /api/labels/:code claims its machine over MQTT', async () => {
  const code = `CT${randomBytes(3).toString('hex').toUpperCase()}`;
  const d = await tb.provision(randomMac(), code);
  const label = await tb.api('GET', `/api/labels/${code.toLowerCase()}`);
  assert.is(label.status, 200, JSON.stringify(label.body));
  assert.is(label.body.code, code);
  assert.is(label.body.device, d.id);
  assert.is(label.body.url, `${tb.ctx.opts.publicUrl}/c/${code}.${label.body.sig}`);
  assert.match(label.body.sig, /^[0-9a-f]{16}$/);
  assert.ok((await tb.api('GET', '/api/labels')).body.some((l: any) => l.code === code && l.url === label.body.url));
  const agent = await tb.agent(fresh('scanner'));
  track(agent.client);
  const r = await claim(agent, label.body.url);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal([r.result.device.id, r.result.already], [d.id, false]);
  const row = (await audit(`device=${d.id}`)).find((x) => x.action === 'claim');
  assert.equal([row?.agent, row?.detail.via], [agent.id, 'label']);
});

admin("GET /api/binding-map shows the claim and the release in this node's map, to admins only", async () => {
  const d = await tb.provision();
  const agent = await tb.agent(fresh('mapped'));
  track(agent.client);
  const entry = async (): Promise<{ device: string; agent: string | null; version: number } | undefined> => {
    const r = await tb.api('GET', '/api/binding-map');
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.equal([r.body.node, r.body.suspended], [null, false]);
    return r.body.entries.find((e: { device: string }) => e.device === d.id);
  };
  assert.is(await entry(), undefined);
  assert.ok((await claim(agent, d.id)).ok);
  const claimed = await entry();
  assert.equal([claimed?.agent, claimed?.version], [agent.id, 1]);
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'release', device: d.id })).ok);
  const released = await entry();
  assert.equal([released?.agent, released?.version], [null, 2]);
  await expectRestError(await tb.api('GET', '/api/binding-map', undefined, agent.token), 403, ErrorCode.FORBIDDEN);
});

admin('/healthz reports the database and connections', async () => {
  const r = await tb.api('GET', '/healthz', undefined, undefined);
  assert.is(r.status, 200);
  assert.equal([r.body.ok, r.body.db], [true, 'ok']);
  assert.ok(r.body.uptimeMs >= 0);
  assert.equal(Object.keys(r.body.connections).sort(), ['admin', 'agent', 'customer', 'device', 'enroll']);
});

admin('/metrics: connections by kind, ACL denials by rule, claims by outcome, messages in and out', async () => {
  const scrape = async (): Promise<string> => (await tb.api('GET', '/metrics', undefined, undefined)).body as string;
  const m0 = await scrape();
  const conn = (text: string, kind: string): number => metric(text, 'fleetbind_connections', { kind });

  const a = await tb.agent(fresh('metered'));
  const b = await tb.agent(fresh('metered'));
  track(a.client);
  track(b.client);
  const d = await tb.provision();
  const dev = track((await tb.device(d)).client);
  assert.ok((await claim(a, d.id)).ok);
  assert.ok((await claim(a, d.id)).ok);
  assert.is((await claim(b, d.id)).error.code, ErrorCode.BOUND_TO_OTHER);
  // b may not watch a's device: a refused subscribe.
  await subscribe(b.client, deviceTopic(d.id, 'status'));
  const got = waitFor(a.client, (t) => t === `fb/v1/d/${d.id}/evt/t`, 5000, 'an event');
  await subscribe(a.client, `fb/v1/d/${d.id}/evt/+`);
  await publish(dev, `fb/v1/d/${d.id}/evt/t`, { v: 1 });
  await got;

  const m1 = await scrape();
  assert.is(conn(m1, 'agent'), conn(m0, 'agent') + 2);
  assert.is(conn(m1, 'device'), conn(m0, 'device') + 1);
  const claims = (text: string, outcome: string): number => metric(text, 'fleetbind_claims_total', { outcome });
  assert.is(claims(m1, 'claimed'), claims(m0, 'claimed') + 1);
  assert.is(claims(m1, 'already'), claims(m0, 'already') + 1);
  assert.is(claims(m1, 'BOUND_TO_OTHER'), claims(m0, 'BOUND_TO_OTHER') + 1);
  const denied = (text: string): number => metric(text, 'fleetbind_acl_denials_total', { rule: 'subscribe:not-bound' });
  assert.is(denied(m1), denied(m0) + 1);
  assert.ok(metric(m1, 'fleetbind_messages_in_total') > metric(m0, 'fleetbind_messages_in_total'));
  assert.ok(metric(m1, 'fleetbind_messages_out_total') > metric(m0, 'fleetbind_messages_out_total'));
  for (const kind of ['device', 'agent', 'admin', 'enroll']) assert.match(m1, new RegExp(`^fleetbind_connections\\{kind="${kind}"\\} \\d+$`, 'm'));

  await end(dev);
  await waitUntil(async () => conn(await scrape(), 'device') === conn(m0, 'device'), 5000, 'the device gauge to fall back');
});

admin.run();
