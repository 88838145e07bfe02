// Client ids are namespaced by identity kind (docs/architecture.md, Identities): only a device may
// use its device id, only an enrollment of that MAC may use enroll-<mac>, and agents and admins
// must use agent:<id>:… / admin:<name>:…. Anyone else's CONNECT is refused, over TCP and
// WebSocket, and the holder of the id stays connected.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceTopic, enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { TestBroker, request } from '../helpers/broker';
import { connect, connectRefused, end, publish, subscribe, waitFor } from '../helpers/mqtt';
import type { Transport } from '../scenarios/fleet';

let tb: TestBroker;
const clients: MqttClient[] = [];
const track = <T extends MqttClient>(c: T): T => (clients.push(c), c);
const fresh = (p: string): string => `${p}${randomBytes(3).toString('hex')}`;

const ids = suite('client ids');
ids.before(async () => {
  tb = await TestBroker.start();
});
ids.after.each(async () => {
  await end(...clients.splice(0));
});
ids.after(async () => {
  await tb.stop();
});

/** The device still answers: a hello is answered with its config on the same connection. */
async function stillConnected(device: MqttClient, id: string, mac: string): Promise<void> {
  assert.ok(device.connected, 'the device connection is still open');
  const config = waitFor(device, (t) => t === deviceTopic(id, 'config'), 5000, 'config after hello');
  await publish(device, deviceTopic(id, 'hello'), { fw: '1.0.0', model: 'test-board', mac, caps: ['qr.show'], boot: 2, uptime: 1 });
  await config;
}

for (const transport of ['tcp', 'ws'] as Transport[]) {
  const url = (): string => tb.urlFor({ transport });

  ids(`${transport}: an agent using a live device's id is refused and the device stays connected`, async () => {
    const d = await tb.provision();
    const device = track((await tb.device(d, { transport: 'tcp' })).client);
    const a = await tb.agent(fresh('thief-'), { transport });
    track(a.client);
    const err = await connectRefused(url(), { clientId: d.id, username: `agent:${a.id}`, password: a.token });
    assert.match(err.message, /Identifier rejected/);
    const err2 = await connectRefused(url(), { clientId: d.id, username: 'admin:ops', password: tb.adminToken });
    assert.match(err2.message, /Identifier rejected/, 'an admin may not use a device id either');
    await stillConnected(device, d.id, d.mac);
  });

  ids(`${transport}: an agent using an enrolling device's enroll-<mac> is refused and the enrollment completes`, async () => {
    const t = await tb.api('POST', '/api/enrollment-tokens', { uses: 1, expiresIn: '1h' });
    const mac = randomBytes(6).toString('hex');
    const enroller = track(await connect(tb.broker.mqttUrl, { clientId: `enroll-${mac}`, username: 'enroll', password: t.body.token }));
    await subscribe(enroller, enrollReplyTopic(mac));
    const a = await tb.agent(fresh('thief-'), { transport });
    track(a.client);
    const err = await connectRefused(url(), { clientId: `enroll-${mac}`, username: `agent:${a.id}`, password: a.token });
    assert.match(err.message, /Identifier rejected/);
    const reply = waitFor<any>(enroller, (topic) => topic === enrollReplyTopic(mac), 10_000, 'enroll reply');
    await publish(enroller, enrollTopic(mac), { mac, model: 'test-board', fw: '1.0.0' });
    assert.is((await reply).json.ok, true, 'the enrolling connection was not closed');
  });

  ids(`${transport}: an agent's client id must carry its own identity`, async () => {
    const a = await tb.agent(fresh('a-'), { transport });
    const b = await tb.agent(fresh('b-'), { transport });
    track(a.client);
    track(b.client);
    for (const clientId of [`agent:${b.id}:x`, `agent:${a.id}:`, `agent:${a.id}`, `admin:ops:x`, fresh('plain-')]) {
      const err = await connectRefused(url(), { clientId, username: `agent:${a.id}`, password: a.token });
      assert.match(err.message, /Identifier rejected/, clientId);
    }
    const ok = track(await connect(url(), { clientId: `agent:${a.id}:tab-2`, username: `agent:${a.id}`, password: a.token }));
    assert.ok(ok.connected);
    assert.ok(b.client.connected, "the other agent's connection is untouched");
  });

  ids(`${transport}: another client cannot resume an agent's persistent session, and the agent keeps it`, async () => {
    const a = await tb.createAgent(fresh('p-'));
    const token = await tb.login(a.id, a.password);
    const clientId = `agent:${a.id}:persistent`;
    const first = await connect(url(), { clientId, username: `agent:${a.id}`, password: token, clean: false });
    await new Promise<void>((resolve, reject) => first.subscribe(`fb/v1/a/${a.id}/res`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    await end(first);
    const thief = await tb.agent(fresh('t-'), { transport });
    track(thief.client);
    const err = await connectRefused(url(), { clientId, username: `agent:${thief.id}`, password: thief.token, clean: false });
    assert.match(err.message, /Identifier rejected/);
    const back = track(await connect(url(), { clientId, username: `agent:${a.id}`, password: token, clean: false }));
    // The session survived: its subscription still delivers without subscribing again.
    const res = await request(back, { kind: 'agent', id: a.id }, { op: 'list' });
    assert.is(res.ok, true);
  });
}

ids.run();
