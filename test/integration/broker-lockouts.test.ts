// Lockouts can't be used as a weapon (docs/architecture.md, Identities): failures count per
// (subject, address), so an attacker at one address can't lock out a user, a device or
// enrollment elsewhere; an address full of failures never blocks a correct device secret; the
// attacker's address is limited; admins see blocks and clear them; failed logins are audited.
// Two sources: X-Forwarded-For behind --trust-proxy (REST, WebSocket) and 127.0.0.2 (TCP).
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { TestBroker, randomMac } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';
import { connect, connectRefused, end, publish, subscribe, waitFor } from '../helpers/mqtt';

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);
const fresh = (p: string): string => `${p}${randomBytes(3).toString('hex')}`;
const ATTACKER = '203.0.113.7';
const HOME = '198.51.100.20';
const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });

const login = (id: string, password: string, ip: string) =>
  fetch(`${tb.broker.httpUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...from(ip) },
    body: JSON.stringify({ id, password }),
  }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as any,
  }));

const lock = suite('lockouts');
lock.before(async () => {
  tb = await TestBroker.start({ trustProxy: true });
});
lock.after.each(async () => {
  await end(...clients.splice(0));
});
lock.after(async () => {
  await tb.stop();
});

lock('REST: an attacker at one address cannot lock the user out from another; the attacker is limited and audited', async () => {
  const victim = await tb.createAgent(fresh('victim-'), { password: 'victim-password' });
  for (let i = 0; i < 5; i++) expectRestError(await login(victim.id, `guess-${i}`, ATTACKER), 401, ErrorCode.UNAUTHORIZED);
  expectRestError(await login(victim.id, 'victim-password', ATTACKER), 429, ErrorCode.RATE_LIMITED);
  assert.is((await login(victim.id, 'victim-password', HOME)).status, 200, 'the user logs in from home');
  // The same from MQTT over WebSocket: the user's own address is not blocked.
  const token = (await login(victim.id, 'victim-password', HOME)).body.token as string;
  const ws = track(
    await connect(tb.broker.wsUrl, { clientId: `agent:${victim.id}:ws`, username: `agent:${victim.id}`, password: token, wsOptions: { headers: from(HOME) } }),
  );
  assert.ok(ws.connected);
  assert.match(
    (
      await connectRefused(tb.broker.wsUrl, {
        clientId: `agent:${victim.id}:x`,
        username: `agent:${victim.id}`,
        password: token,
        wsOptions: { headers: from(ATTACKER) },
      })
    ).message,
    /Not authorized/,
  );
  const audit = await tb.api('GET', `/api/audit?agent=${victim.id}&limit=50`);
  const failed = (audit.body as any[]).filter((e) => e.action === 'login.failed');
  assert.is(failed.length, 5, JSON.stringify(audit.body));
  assert.ok(failed.every((e) => e.detail.ip === ATTACKER && e.actor === `agent:${victim.id}`));
});

lock('REST: an admin sees the block and unlocks the agent (audited with who)', async () => {
  const a = await tb.createAgent(fresh('locked-'), { password: 'locked-password' });
  for (let i = 0; i < 5; i++) await login(a.id, `guess-${i}`, ATTACKER);
  expectRestError(await login(a.id, 'locked-password', ATTACKER), 429, ErrorCode.RATE_LIMITED);
  const blocks = (await tb.api('GET', '/api/blocks')).body as any[];
  assert.ok(
    blocks.some((b) => b.subject === `agent:${a.id}` && b.address === ATTACKER && b.failures === 5 && b.retryAfterMs > 0),
    JSON.stringify(blocks),
  );
  const agentToken = (await login(a.id, 'locked-password', HOME)).body.token as string;
  expectRestError(await tb.api('POST', `/api/agents/${a.id}/unlock`, undefined, agentToken), 403, ErrorCode.FORBIDDEN);
  const r = await tb.api('POST', `/api/agents/${a.id}/unlock`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.cleared >= 1);
  assert.is((await login(a.id, 'locked-password', ATTACKER)).status, 200, 'unlocked');
  const audit = (await tb.api('GET', `/api/audit?agent=${a.id}&limit=5`)).body as any[];
  assert.ok(
    audit.some((e) => e.action === 'login_blocks.cleared' && e.actor === 'admin:token'),
    JSON.stringify(audit),
  );
  expectRestError(await tb.api('POST', '/api/agents/nobody-here/unlock'), 404, ErrorCode.NOT_FOUND);
});

lock('MQTT over TCP: wrong connects naming a device from 127.0.0.2 do not lock out the device at 127.0.0.1', async () => {
  const d = await tb.provision();
  for (let i = 0; i < 8; i++) await connectRefused(tb.broker.mqttUrl, { clientId: d.id, username: d.id, password: `wrong-${i}`, localAddress: '127.0.0.2' });
  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, localAddress: '127.0.0.2' })).message,
    /Not authorized/,
    "the attacker's (device, address) is blocked",
  );
  const real = track((await tb.device(d)).client);
  assert.ok(real.connected, 'the real device connects from its own address');
  const blocks = (await tb.api('GET', '/api/blocks')).body as any[];
  assert.ok(
    blocks.some((b) => b.subject === `device:${d.id}` && b.address === '127.0.0.2'),
    JSON.stringify(blocks),
  );
  assert.not.ok(
    blocks.some((b) => b.subject === `device:${d.id}` && b.address === null),
    'never per device id alone',
  );
});

lock('MQTT over WebSocket: an address full of failures (one broken device behind a NAT) never blocks a correct device secret from it', async () => {
  const nat = '192.0.2.44';
  const good = await tb.provision();
  for (let i = 0; i < 35; i++) {
    const bad = `esp32-${randomMac()}`;
    await connectRefused(tb.broker.wsUrl, { clientId: bad, username: bad, password: 'broken', wsOptions: { headers: from(nat) } });
  }
  const blocks = (await tb.api('GET', '/api/blocks')).body as any[];
  assert.ok(
    blocks.some((b) => b.subject === null && b.address === nat),
    JSON.stringify(blocks),
  );
  const c = track(await connect(tb.broker.wsUrl, { clientId: good.id, username: good.id, password: good.secret, wsOptions: { headers: from(nat) } }));
  assert.ok(c.connected);
  const cleared = await tb.api('POST', '/api/blocks/clear', { address: nat });
  assert.ok(cleared.body.cleared >= 1, JSON.stringify(cleared.body));
  assert.not.ok(((await tb.api('GET', '/api/blocks')).body as any[]).some((b) => b.address === nat));
});

lock('enrollment: bad enroll connects from one address do not stop enrollment of other MACs or from elsewhere', async () => {
  const t = await tb.api('POST', '/api/enrollment-tokens', { uses: 5, expiresIn: '1h' });
  const victimMac = randomMac();
  for (let i = 0; i < 8; i++)
    await connectRefused(tb.broker.mqttUrl, { clientId: `enroll-${victimMac}`, username: 'enroll', password: `nope-${i}`, localAddress: '127.0.0.2' });
  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: `enroll-${victimMac}`, username: 'enroll', password: t.body.token, localAddress: '127.0.0.2' }))
      .message,
    /Not authorized/,
  );
  for (const [mac, localAddress] of [
    [victimMac, '127.0.0.1'],
    [randomMac(), '127.0.0.2'],
  ] as const) {
    const c = track(await connect(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: t.body.token, localAddress }));
    await subscribe(c, enrollReplyTopic(mac));
    const reply = waitFor<any>(c, (topic) => topic === enrollReplyTopic(mac), 10_000, 'enroll reply');
    await publish(c, enrollTopic(mac), { mac, model: 'test-board', fw: '1.0.0' });
    assert.is((await reply).json.ok, true, `${mac} from ${localAddress}`);
  }
});

lock.run();
