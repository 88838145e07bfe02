// What a device's hello may change, and how a refusal is answered (docs/architecture.md,
// Identities: machine codes; Topic tree: config). An invalid hello changes nothing and is answered
// with a specific error on the device's config topic; a machine code is adopted from a device only
// when its enrollment token allows announcing codes and no other device has it; every refusal is
// answered, counted and (for codes) audited. Over TCP and WebSocket. A hello's config comes from the
// row its own UPDATE returned, and a config from a row older than a binding change committed since is
// read again: the last config a device hears never names an older holder.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { parseConfig, parseEnrollReply } from '../../protocol/messages';
import { deviceTopic, enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { publishConfigOf } from '../../broker/publisher';
import { getDevice } from '../../broker/store/devices';
import { TestBroker, connectDevice, helloOf, randomMac } from '../helpers/broker';
import type { Dev } from '../scenarios/fleet';
import { claim } from '../helpers/jobs';
import { metric } from '../helpers/metrics';
import { connect, end, publish, recorder, subscribe, waitFor } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

let tb: TestBroker;
const clients: MqttClient[] = [];
const t = suite('hello answers and machine-code announcements');
t.before(async () => {
  tb = await TestBroker.start();
});
t.after.each(async () => {
  await end(...clients.splice(0));
});
t.after(async () => {
  await tb.stop();
});

const newCode = (): string => `HA${randomBytes(3).toString('hex').toUpperCase()}`;

async function token(allowMachineCodes: boolean): Promise<string> {
  const r = await tb.api('POST', '/api/enrollment-tokens', { uses: 5, expiresIn: '1h', allowMachineCodes });
  assert.is(r.status, 201, JSON.stringify(r.body));
  assert.is(r.body.allowMachineCodes, allowMachineCodes);
  return r.body.token;
}

/** Enrolls a MAC (announcing `machine` when given) and returns the device's credentials. */
async function enroll(tokenText: string, machine?: string): Promise<{ id: string; secret: string; mac: string }> {
  const mac = randomMac();
  const c = await connect(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: tokenText });
  clients.push(c);
  await subscribe(c, enrollReplyTopic(mac));
  const reply = waitFor(c, (topic) => topic === enrollReplyTopic(mac), 10_000, 'the enroll reply');
  await publish(c, enrollTopic(mac), { mac, model: 'fb-board', fw: '2.1.0', ...(machine ? { machine } : {}) });
  const r = parseEnrollReply((await reply).json);
  assert.ok(r.ok, JSON.stringify(r));
  await end(c);
  if (!r.ok) throw new Error('enrollment refused');
  return { id: r.deviceId, secret: r.secret, mac };
}

/** Says hello with `extra` merged in and returns the config that answers it, as the firmware parses it. */
async function hello(client: MqttClient, d: Dev, extra: Record<string, unknown>) {
  const config = waitFor(client, (topic) => topic === deviceTopic(d.id, 'config'), 10_000, 'the config answering the hello');
  await publish(client, deviceTopic(d.id, 'hello'), { ...helloOf(d), ...extra });
  return parseConfig((await config).json);
}

const device = async (id: string) => (await tb.api('GET', `/api/devices/${id}`)).body;
const audit = async (id: string) => ((await tb.api('GET', `/api/audit?device=${id}`)).body as any[]).reverse();
const scrape = async () => (await tb.api<string>('GET', '/metrics')).body;

for (const transport of ['tcp', 'ws'] as const) {
  const url = () => (transport === 'ws' ? tb.broker.wsUrl : tb.broker.mqttUrl);

  t(`${transport}: an invalid hello is answered with its error on the config topic, counted, and changes nothing`, async () => {
    const d = await tb.provision();
    const { client, config: first } = await connectDevice(url(), d);
    clients.push(client);
    assert.is(first.error, undefined, 'a valid hello is answered without an error');
    const before = await device(d.id);
    const invalidBefore = metric(await scrape(), 'fleetbind_hello_refusals_total', { reason: 'invalid' });

    const answer = await hello(client, d, { fw: 'x'.repeat(300), caps: ['identify'] });
    assert.equal(answer.error, { code: ErrorCode.BAD_REQUEST, message: answer.error?.message ?? '', field: 'fw' });
    assert.match(answer.error?.message ?? '', /fw/);
    assert.is(answer.claimCode, first.claimCode, 'the claim code on screen is kept');
    assert.is(answer.agent, null);

    const after = await device(d.id);
    assert.equal([after.fw, after.caps, after.lastSeen], [before.fw, before.caps, before.lastSeen], 'nothing of the invalid hello was recorded');
    assert.is(metric(await scrape(), 'fleetbind_hello_refusals_total', { reason: 'invalid' }), invalidBefore + 1);
    assert.ok(client.connected, 'the device stays connected');

    const fixed = await hello(client, d, { fw: '1.0.1' });
    assert.is(fixed.error, undefined);
    assert.is((await device(d.id)).fw, '1.0.1');
  });

  t(`${transport}: a device enrolled with a token that does not allow codes cannot take a pre-printed label's code`, async () => {
    const code = newCode();
    const d = await enroll(await token(false), code);
    assert.is((await device(d.id)).machineCode, null, 'the enrollment did not adopt the code');
    const { client, config } = await connectDevice(url(), d);
    clients.push(client);
    assert.is(config.machine, undefined);
    const refusedBefore = metric(await scrape(), 'fleetbind_machine_code_refusals_total', { via: 'hello', reason: 'not-allowed' });

    const answer = await hello(client, d, { machine: code });
    assert.is(answer.error?.code, ErrorCode.FORBIDDEN);
    assert.is(answer.error?.field, 'machine');
    assert.is(answer.machine, undefined);
    assert.is((await device(d.id)).machineCode, null);
    assert.is(metric(await scrape(), 'fleetbind_machine_code_refusals_total', { via: 'hello', reason: 'not-allowed' }), refusedBefore + 1);
    const refusals = (await audit(d.id)).filter((a) => a.action === 'device.machine_refused');
    assert.equal(
      refusals.map((a) => [a.actor.startsWith('enroll:') ? 'enroll' : a.actor, a.detail.code, a.detail.reason]),
      [
        ['enroll', code, 'not-allowed'],
        [d.id, code, 'not-allowed'],
      ],
    );
    assert.is((await tb.api('GET', `/api/labels/${code}`)).body.device, null, 'no device serves the code');
  });

  t(`${transport}: with an allowing token the first device takes a free code; a second one announcing it is refused and audited`, async () => {
    const tokenText = await token(true);
    const code = newCode();
    const owner = await enroll(tokenText, code);
    assert.is((await device(owner.id)).machineCode, code);
    assert.ok((await audit(owner.id)).some((a) => a.action === 'device.machine_announced' && a.detail.code === code));

    const thief = await enroll(tokenText);
    const { client, config } = await connectDevice(url(), thief);
    clients.push(client);
    assert.is(config.error, undefined);
    const takenBefore = metric(await scrape(), 'fleetbind_machine_code_refusals_total', { via: 'hello', reason: 'taken' });
    const answer = await hello(client, thief, { machine: code });
    assert.is(answer.error?.code, ErrorCode.CONFLICT);
    assert.is(answer.error?.field, 'machine');
    assert.not.match(answer.error?.message ?? '', owner.id, 'the device is not told which device holds the code');
    assert.is((await device(thief.id)).machineCode, null);
    assert.is((await device(owner.id)).machineCode, code);
    assert.is(metric(await scrape(), 'fleetbind_machine_code_refusals_total', { via: 'hello', reason: 'taken' }), takenBefore + 1);
    const refused = (await audit(thief.id)).find((a) => a.action === 'device.machine_refused');
    assert.equal([refused?.detail.code, refused?.detail.reason, refused?.detail.holder], [code, 'taken', owner.id]);

    // A free code is still adopted by hello, once; the device then cannot change it.
    const other = newCode();
    assert.is((await hello(client, thief, { machine: other })).machine, other);
    const differs = await hello(client, thief, { machine: newCode() });
    assert.equal([differs.error?.code, differs.machine], [ErrorCode.CONFLICT, other]);
    assert.is((await hello(client, thief, { machine: other })).error, undefined, 'announcing the code it has is no news');
  });
}

t('an admin-provisioned device keeps the code the admin gave it and may not announce another', async () => {
  const code = newCode();
  const d = await tb.provision(randomMac(), code);
  const { client, config } = await connectDevice(tb.broker.mqttUrl, d);
  clients.push(client);
  assert.is(config.machine, code);
  assert.is((await hello(client, d, { machine: code })).error, undefined);
  const answer = await hello(client, d, { machine: newCode() });
  assert.is(answer.error?.code, ErrorCode.FORBIDDEN);
  assert.is((await device(d.id)).machineCode, code);
});

t('a config from a row read before a claim is read again, and names the agent', async () => {
  const d = await tb.provision();
  const { client } = await connectDevice(tb.broker.mqttUrl, d);
  clients.push(client);
  const heard = recorder(client);
  const configs = () => heard.filter((m) => m.topic === deviceTopic(d.id, 'config')).map((m) => parseConfig(m.json));

  const before = await getDevice(tb.broker.ctx.db, d.id);
  assert.is(before?.agent_id, null);
  const agent = await tb.agent('config-order-agent');
  clients.push(agent.client);
  await claim(agent, d.id);
  await waitUntil(() => configs().at(-1)?.agent?.id === agent.id, 5000, "the claim's config");

  await publishConfigOf(tb.broker.ctx, before!);
  await waitUntil(() => configs().length >= 2, 5000, 'the config built from the older row');
  assert.equal(
    configs().map((c) => c.agent?.id ?? null),
    [agent.id, agent.id],
    'no config went back to no holder',
  );
  assert.is(configs().at(-1)!.claimCode, undefined, 'a claimed device shows no claim code');
});

t.run();
