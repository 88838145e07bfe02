// A credential that dies closes every live connection that authenticated with it
// (docs/architecture.md, Identities), over TCP and WebSocket, within a second: a re-provisioned
// device secret, logout, session expiry, a changed password, a disabled agent. Connections that
// used another credential of the same agent or device stay up.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceTopic } from '../../protocol/topics';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { connectRefused, end, publish, waitClosed, waitFor } from '../helpers/mqtt';
import type { Transport } from '../scenarios/fleet';

/** The bound the contract promises between the act and the close. */
const WITHIN_MS = 1000;
const IDLE_MS = 4000;

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);
const fresh = (p: string): string => `${p}${randomBytes(3).toString('hex')}`;

const revoke = suite('credential revocation');
revoke.before(async () => {
  tb = await TestBroker.start({ sessionIdleMs: IDLE_MS });
});
revoke.after.each(async () => {
  await end(...clients.splice(0));
});
revoke.after(async () => {
  await tb.stop();
});

/** An agent with two sessions, each with a live connection on the transport. */
async function twoSessions(transport: Transport): Promise<{ id: string; tokens: [string, string]; conns: [MqttClient, MqttClient]; lastUse: number }> {
  const a = await tb.createAgent(fresh('s-'));
  const tokens: [string, string] = [await tb.login(a.id, a.password), await tb.login(a.id, a.password)];
  const url = tb.urlFor({ transport });
  const second = track(await connectAgent(url, a.id, tokens[1]));
  // The first session's last use is its connect: it expires IDLE_MS after that.
  const lastUse = Date.now();
  const first = track(await connectAgent(url, a.id, tokens[0]));
  return { id: a.id, tokens, conns: [first, second], lastUse };
}

async function stillAnswers(client: MqttClient, agent: string): Promise<void> {
  assert.ok(client.connected, 'the connection with the other session is open');
  const r = await request(client, { kind: 'agent', id: agent }, { op: 'list' });
  assert.is(r.ok, true);
}

for (const transport of ['tcp', 'ws'] as Transport[]) {
  revoke(`${transport}: re-provisioning a device closes the connection that used the old secret; the new secret connects`, async () => {
    const d = await tb.provision();
    const old = track((await tb.device(d, { transport })).client);
    const re = await tb.api('POST', '/api/devices', { mac: d.mac, reprovision: true });
    assert.is(re.status, 201, JSON.stringify(re.body));
    await waitClosed(old, WITHIN_MS);
    const renewed = track((await tb.device({ ...d, secret: re.body.secret }, { transport })).client);
    assert.ok(renewed.connected);
    assert.match((await connectRefused(tb.urlFor({ transport }), { clientId: d.id, username: d.id, password: d.secret })).message, /Bad username or password/);
  });

  revoke(`${transport}: logout closes the live connection of that session only`, async () => {
    const s = await twoSessions(transport);
    assert.is((await tb.api('POST', '/api/logout', undefined, s.tokens[0])).status, 204);
    await waitClosed(s.conns[0], WITHIN_MS);
    await stillAnswers(s.conns[1], s.id);
  });

  revoke(`${transport}: a session that expires closes its live connection within a second`, async () => {
    const s = await twoSessions(transport);
    // The other session is kept alive over REST; the first one is left idle.
    const keepAlive = setInterval(() => void tb.api('GET', '/api/me', undefined, s.tokens[1]), IDLE_MS / 4);
    try {
      await waitClosed(s.conns[0], IDLE_MS + WITHIN_MS + 500);
      assert.ok(Date.now() >= s.lastUse + IDLE_MS, 'not closed before the session expired');
      await stillAnswers(s.conns[1], s.id);
    } finally {
      clearInterval(keepAlive);
    }
  });

  revoke(`${transport}: a changed password closes every live connection of the agent`, async () => {
    const s = await twoSessions(transport);
    const r = await tb.api('PATCH', `/api/agents/${s.id}`, { password: 'a-new-password' });
    assert.is(r.status, 200, JSON.stringify(r.body));
    await Promise.all(s.conns.map((c) => waitClosed(c, WITHIN_MS)));
  });

  revoke(`${transport}: disabling an agent closes every live connection of the agent`, async () => {
    const s = await twoSessions(transport);
    const r = await tb.api('PATCH', `/api/agents/${s.id}`, { disabled: true });
    assert.is(r.status, 200, JSON.stringify(r.body));
    await Promise.all(s.conns.map((c) => waitClosed(c, WITHIN_MS)));
  });
}

revoke('a thief holding the old secret receives no job command after re-provisioning', async () => {
  const d = await tb.provision();
  const agent = await tb.agent(fresh('owner-'));
  track(agent.client);
  const thief = track((await tb.device(d)).client);
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: d.id })).ok);
  const re = await tb.api('POST', '/api/devices', { mac: d.mac, reprovision: true });
  assert.is(re.status, 201);
  await waitClosed(thief, WITHIN_MS);
  const owner = track((await tb.device({ ...d, secret: re.body.secret })).client);
  const cmd = waitFor<any>(owner, (t) => t === deviceTopic(d.id, 'cmd'), 5000, 'cmd on the device with the new secret');
  const sub = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'submit', device: d.id, kind: 'identify', params: { seconds: 1 } });
  assert.ok(sub.ok, JSON.stringify(sub));
  assert.is((await cmd).json.job, sub.result.job);
  assert.not.ok(thief.connected);
  await publish(owner, deviceTopic(d.id, 'ack'), { job: sub.result.job, state: 'accepted' });
});

revoke('disabling an agent releases its devices, audited with the admin and the reason', async () => {
  const agent = await tb.agent(fresh('leaving-'));
  track(agent.client);
  const d = await tb.provision();
  track((await tb.device(d)).client);
  assert.ok((await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: d.id })).ok);
  const r = await tb.api('PATCH', `/api/agents/${agent.id}`, { disabled: true });
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is((await tb.api('GET', `/api/devices/${d.id}`)).body.agent, null, 'the device is free');
  const audit = (await tb.api('GET', `/api/audit?device=${d.id}&limit=5`)).body as any[];
  assert.ok(
    audit.some((e) => e.actor === 'admin:token' && JSON.stringify(e.detail).includes(`agent ${agent.id} disabled`)),
    JSON.stringify(audit),
  );
});

revoke.run();
