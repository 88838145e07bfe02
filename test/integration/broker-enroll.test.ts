// Self-registration with a fleet enrollment token (docs/architecture.md, Identities): the enrolling client gets its
// own id and secret on its private reply topic and is then an ordinary registered device.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { type EnrollReply, parseEnrollReply } from '../../protocol/messages';
import { enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { TestBroker, connectDevice, randomMac, request } from '../helpers/broker';
import { expectRestError } from '../helpers/errors';
import { connect, connectRefused, end, publish, subscribe, waitClosed, waitFor } from '../helpers/mqtt';

let tb: TestBroker;
const clients: MqttClient[] = [];

async function newToken(uses: number, allowMachineCodes = false): Promise<{ id: string; token: string }> {
  const r = await tb.api('POST', '/api/enrollment-tokens', { uses, expiresIn: '1h', allowMachineCodes });
  assert.is(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function usesLeft(id: string): Promise<number> {
  const r = await tb.api('GET', '/api/enrollment-tokens');
  return (r.body as { id: string; usesLeft: number }[]).find((t) => t.id === id)!.usesLeft;
}

async function enrollClient(token: string, mac: string, url = tb.broker.mqttUrl): Promise<MqttClient> {
  const c = await connect(url, { clientId: `enroll-${mac}`, username: 'enroll', password: token });
  clients.push(c);
  await subscribe(c, enrollReplyTopic(mac));
  return c;
}

async function enroll(token: string, mac: string, opts: { url?: string; machine?: string } = {}): Promise<EnrollReply> {
  const c = await enrollClient(token, mac, opts.url);
  const reply = waitFor(c, (t) => t === enrollReplyTopic(mac), 5000, 'the enroll reply');
  await publish(c, enrollTopic(mac), { mac, model: 'fb-board', fw: '2.1.0', ...(opts.machine ? { machine: opts.machine } : {}) });
  // The reply must be one the firmware's own validator accepts.
  const r = parseEnrollReply((await reply).json);
  await end(c);
  return r;
}

const suiteEnroll = suite('enrollment');
suiteEnroll.before(async () => {
  tb = await TestBroker.start();
});
suiteEnroll.after.each(async () => {
  await end(...clients.splice(0));
});
suiteEnroll.after(async () => {
  await tb.stop();
});

suiteEnroll('a device enrolls over WebSocket, connects as itself, is listed and audited, and can be claimed', async () => {
  // Announcing the machine code needs a token that allows it (broker-hello-answers.test.ts has the refusals).
  const t = await newToken(2, true);
  const mac = randomMac();
  const code = `EN${randomBytes(3).toString('hex').toUpperCase()}`;
  const r = await enroll(t.token, mac, { url: tb.broker.wsUrl, machine: code });
  assert.ok(r.ok, JSON.stringify(r));
  if (!r.ok) return;
  assert.is(r.deviceId, `esp32-${mac}`);
  assert.ok(r.secret.length >= 32);
  assert.is(await usesLeft(t.id), 1);

  const { client, config } = await connectDevice(tb.broker.mqttUrl, { id: r.deviceId, secret: r.secret, mac });
  clients.push(client);
  assert.is(config.agent, null);
  assert.is(config.machine, code);
  assert.type(config.claimCode, 'string');

  const listed = (await tb.api('GET', '/api/devices')).body.find((d: any) => d.id === r.deviceId);
  assert.equal([listed?.mac, listed?.machineCode, listed?.fw, listed?.presence.state], [mac, code, '1.0.0', 'online']);
  const audit = ((await tb.api('GET', `/api/audit?device=${r.deviceId}`)).body as any[]).reverse();
  assert.equal(
    audit.map((a) => a.action),
    ['device.registered', 'device.machine_announced'],
  );
  assert.equal([audit[0].action, audit[0].actor, audit[0].detail.via, audit[0].detail.mac], ['device.registered', `enroll:${t.id}`, 'enroll', mac]);
  assert.equal([audit[1].actor, audit[1].detail.code], [`enroll:${t.id}`, code]);
  assert.not.ok(JSON.stringify(audit).includes(r.secret));

  const agent = await tb.agent(`enroll-agent-${randomBytes(2).toString('hex')}`);
  clients.push(agent.client);
  const claimed = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: code });
  assert.ok(claimed.ok, JSON.stringify(claimed));
  assert.is(claimed.result.device.id, r.deviceId);
});

suiteEnroll('an enrolling client can only use its own enroll topics', async () => {
  const t = await newToken(1);
  const mac = randomMac();
  const c = await enrollClient(t.token, mac);
  assert.equal(await subscribe(c, ['fb/v1/d/+/status', `fb/v1/enroll/${randomMac()}/reply`, 'fb/v1/a/263/res']), [128, 128, 128]);
  await publish(c, enrollTopic(randomMac()), { mac, model: 'm', fw: '1' });
  await waitClosed(c);
  assert.is(await usesLeft(t.id), 1, 'a refused publish used nothing');
});

suiteEnroll('a device whose enrollment reply was lost enrolls again until it first connects as itself', async () => {
  const t = await newToken(5);
  const mac = randomMac();
  const lost = await enroll(t.token, mac);
  assert.ok(lost.ok);
  if (!lost.ok) return;
  const retry = await enroll(t.token, mac);
  assert.ok(retry.ok, JSON.stringify(retry));
  if (!retry.ok) return;
  assert.is(retry.deviceId, lost.deviceId);
  assert.is.not(retry.secret, lost.secret);
  assert.is(await usesLeft(t.id), 4, 'the retry of one device takes no second use');
  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: lost.deviceId, username: lost.deviceId, password: lost.secret })).message,
    /Bad username or password/,
  );
  clients.push((await connectDevice(tb.broker.mqttUrl, { id: retry.deviceId, secret: retry.secret, mac })).client);
  const late = await enroll(t.token, mac);
  assert.equal(late.ok ? 'ok' : late.error.code, ErrorCode.ALREADY_REGISTERED, 'once connected, the identity is settled');
  const actions = ((await tb.api('GET', `/api/audit?device=${lost.deviceId}`)).body as any[]).map((a) => a.action).reverse();
  assert.equal(actions, ['device.registered', 'device.reenrolled']);
  const reenrolled = ((await tb.api('GET', `/api/audit?device=${lost.deviceId}`)).body as any[])[0];
  assert.is(reenrolled.detail.allowedBy, null, 'a lost reply needs no admin');
});

for (const transport of ['tcp', 'ws'] as const) {
  suiteEnroll(`${transport}: the first successful connect with the issued secret ends the enrollment window, even with an invalid hello`, async () => {
    const t = await newToken(5);
    const mac = randomMac();
    const first = await enroll(t.token, mac);
    assert.ok(first.ok);
    if (!first.ok) return;
    const url = transport === 'ws' ? tb.broker.wsUrl : tb.broker.mqttUrl;
    const device = await connect(url, { clientId: first.deviceId, username: first.deviceId, password: first.secret });
    clients.push(device);
    // A hello that never validates (a firmware string far too long) must not keep the window open.
    await publish(device, `fb/v1/d/${first.deviceId}/hello`, { fw: 'x'.repeat(300), model: 'm', mac, caps: [], boot: 1, uptime: 0 });
    const thief = await enroll(t.token, mac);
    assert.equal(thief.ok ? 'ok' : thief.error.code, ErrorCode.ALREADY_REGISTERED, 'another fleet-token holder cannot take the identity');
    assert.ok(device.connected, "the device's own connection stays");
    await end(device);
    clients.push((await connectDevice(url, { id: first.deviceId, secret: first.secret, mac })).client);
  });
}

suiteEnroll('a registered MAC is refused until an admin allows re-provisioning, then it works once', async () => {
  const t = await newToken(5);
  const mac = randomMac();
  const first = await enroll(t.token, mac);
  assert.ok(first.ok);
  if (!first.ok) return;
  assert.is(await usesLeft(t.id), 4);
  clients.push((await connectDevice(tb.broker.mqttUrl, { id: first.deviceId, secret: first.secret, mac })).client);

  const again = await enroll(t.token, mac);
  assert.equal(again.ok ? 'ok' : again.error.code, ErrorCode.ALREADY_REGISTERED);
  assert.is(await usesLeft(t.id), 4, 'a refused enrollment gives its use back');

  const allowed = await tb.api('POST', `/api/devices/${first.deviceId}/reprovision`, {});
  assert.equal(allowed.body, { id: first.deviceId, reprovisionAllowed: true });
  assert.is((await tb.api('GET', `/api/devices/${first.deviceId}`)).body.reprovisionAllowed, true);
  const re = await enroll(t.token, mac);
  assert.ok(re.ok, JSON.stringify(re));
  if (!re.ok) return;
  assert.is(re.deviceId, first.deviceId);
  assert.is.not(re.secret, first.secret);
  assert.is(await usesLeft(t.id), 3);
  assert.is((await tb.api('GET', `/api/devices/${first.deviceId}`)).body.reprovisionAllowed, false);

  assert.match(
    (await connectRefused(tb.broker.mqttUrl, { clientId: first.deviceId, username: first.deviceId, password: first.secret })).message,
    /Bad username or password/,
  );
  clients.push((await connectDevice(tb.broker.mqttUrl, { id: re.deviceId, secret: re.secret, mac })).client);

  const once = await enroll(t.token, mac);
  assert.equal(once.ok ? 'ok' : once.error.code, ErrorCode.ALREADY_REGISTERED, 'the permission is used up');
  assert.is(await usesLeft(t.id), 3);
  const entries = ((await tb.api('GET', `/api/audit?device=${first.deviceId}`)).body as any[]).reverse();
  assert.equal(
    entries.map((a) => a.action),
    ['device.registered', 'device.reprovision_allowed', 'device.reprovisioned'],
  );
  // The re-enrollment is the token's act, and its row names the admin whose allowance it used.
  assert.equal([entries[2].actor, entries[2].detail.allowedBy], [`enroll:${t.id}`, entries[1].actor]);
  assert.match(entries[1].actor, /^admin:/);
  expectRestError(await tb.api('POST', '/api/devices/esp32-ffffffffffff/reprovision', {}), 404, ErrorCode.NOT_FOUND, 'id');
});

suiteEnroll('a token with 3 uses enrolls exactly 3 of 8 devices enrolling at once', async () => {
  const t = await newToken(3);
  const macs = Array.from({ length: 8 }, () => randomMac());
  const replies = await Promise.all(macs.map((mac) => enroll(t.token, mac)));
  const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code)).sort();
  assert.equal(codes, [...Array(5).fill(ErrorCode.TOKEN_USED_UP), 'ok', 'ok', 'ok'].sort());
  assert.is(await usesLeft(t.id), 0);
  const registered = ((await tb.api('GET', '/api/devices')).body as { mac: string }[]).filter((d) => macs.includes(d.mac));
  assert.is(registered.length, 3);
});

suiteEnroll.run();
