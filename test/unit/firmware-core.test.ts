// The core's state machine on Node: provisioning checks, timeouts, bounded memory, fleet-wide
// jitter and robustness against a failing adapter. The wire-level scenarios that must also hold
// under XS are in test/xs/core-scenarios.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DeviceCore } from '../../firmware/core/core';
import { MAX_QR_MS } from '../../firmware/core/handlers/qr-show';
import { MAX_SERIAL_REPLY_BYTES } from '../../firmware/core/handlers/serial-send';
import { ScriptedPlatform } from '../xs/harness/scripted-platform';
import { nodeDriver } from '../xs/harness/drivers';
import { DEVICE, MAC, Peer, SECRET, T0, bootEvent } from '../xs/harness/peer';
import { TEST_BACKOFF } from '../xs/core-scenarios';
import type { PlatformCall } from '../xs/harness/wire';

const provisioning = suite('firmware core: provisioning');

for (const [what, prefs, reason] of [
  ['no ssid', { broker: 'broker.local', id: DEVICE, secret: SECRET }, /Wi-Fi network/],
  ['no broker', { ssid: 'lab', id: DEVICE, secret: SECRET }, /broker address/],
  ['a bad broker', { ssid: 'lab', broker: 'http://x', id: DEVICE, secret: SECRET }, /broker address/],
  ['no credentials', { ssid: 'lab', broker: 'broker.local', insecure: '1', id: DEVICE }, /enrollment token/],
] as const) {
  provisioning(`${what}: stays unprovisioned, says why, touches no radio`, async () => {
    const peer = new Peer(nodeDriver());
    await peer.boot({ prefs });
    assert.is(peer.lastState(), 'unprovisioned');
    assert.match(String(peer.logs('error', 'not provisioned')[0]?.fields?.reason), reason);
    assert.match(peer.of('display.status').at(-1)?.line ?? '', /^Not provisioned: /);
    assert.is(peer.of('wifi.connect').length + peer.of('mqtt.connect').length, 0);
    assert.is((await peer.stats()).pendingTimers, 0);
  });
}

provisioning('a core starts once', () => {
  const p = new ScriptedPlatform(() => undefined, bootEvent());
  const core = new DeviceCore(p);
  core.start();
  assert.throws(() => core.start(), /starts once/);
  assert.throws(() => new DeviceCore(p, { keepaliveS: 0 }), /keepaliveS must be at least 1/);
});

const timeouts = suite('firmware core: timeouts');

timeouts('no IP address in time → Wi-Fi is dropped and retried with backoff', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ options: { wifiTimeoutMs: 10_000, wifiBackoff: TEST_BACKOFF } });
  peer.fresh();
  await peer.advance(10_000);
  assert.is(peer.of('wifi.disconnect', peer.fresh()).length, 1);
  await peer.advance(1_000);
  assert.is(peer.of('wifi.connect', peer.fresh()).length, 1);
  peer.assertHealthy();
});

timeouts('no CONNACK in time, or no enrollment reply in time → closed and retried', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({
    prefs: { ssid: 'lab', broker: 'b.local', insecure: '1', enroll: 'tok-0123456789' },
    options: { connectTimeoutMs: 5_000, enrollReplyTimeoutMs: 7_000, mqttBackoff: TEST_BACKOFF },
  });
  await peer.send({ type: 'wifi', status: 'gotip' });
  peer.fresh();
  await peer.advance(5_000);
  assert.is(peer.of('mqtt.close', peer.fresh()).length, 1);
  await peer.advance(1_000);
  assert.is(peer.of('mqtt.connect', peer.fresh()).length, 1);
  await peer.send({ type: 'mqtt.ready' });
  await peer.advance(7_000);
  const calls = peer.fresh();
  assert.is(peer.of('mqtt.close', calls).length, 1);
  assert.match(String(peer.logs('warn', 'broker connection lost, retrying', calls)[0]?.fields?.reason), /no enrollment reply/);
  peer.assertHealthy();
});

timeouts('stop() ends everything: no timers left, no further calls', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot();
  await peer.online();
  await peer.cmd('j', 'identify', { seconds: 30 });
  await peer.send({ type: 'stop' });
  const stats = await peer.stats();
  assert.is(stats.stats.state, 'stopped');
  assert.is(stats.pendingTimers, 0);
  peer.fresh();
  await peer.advance(3_600_000);
  assert.equal(peer.fresh(), []);
  peer.assertHealthy();
});

const memory = suite('firmware core: bounded memory');

memory('ten thousand distinct jobs leave the ring at its size and no timers behind', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot();
  await peer.online();
  for (let i = 0; i < 10_000; i++) await peer.cmd(`flood-${i}`, i % 2 ? 'print.photo' : 'qr.show', i % 2 ? {} : { caption: 'no text' });
  const { stats, pendingTimers } = await peer.stats();
  assert.is(stats.rememberedJobs, 32);
  assert.is(pendingTimers, 0);
  assert.is(peer.acks().length, 10_000);
  peer.assertHealthy();
});

memory('a huge serial reply is truncated, and a resend gets the outcome without the large result', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ serial: true, facts: { mac: MAC, model: 'esp32', fw: '0.1.0', caps: ['serial.send'], boot: 1 } });
  await peer.online();
  await peer.cmd('s1', 'serial.send', { data: 'AA==', timeoutMs: 100 });
  await peer.send({ type: 'serial.reply', ok: true, data: 'ab'.repeat(50_000) });
  const done = peer.acks('s1').at(-1)!;
  assert.is(done.state, 'done');
  const result = done.result as { data: string; bytes: number; truncated: boolean };
  assert.equal([Buffer.from(result.data, 'base64').length, result.bytes, result.truncated], [MAX_SERIAL_REPLY_BYTES, 50_000, true]);
  peer.fresh();
  await peer.cmd('s1', 'serial.send', { data: 'AA==', timeoutMs: 100 }, { attempt: 2 });
  assert.equal(peer.acks('s1', peer.fresh()), [
    { job: 's1', state: 'accepted' },
    { job: 's1', state: 'done' },
  ]);
  peer.assertHealthy();
});

memory('a serial adapter that never answers fails the job instead of holding the device', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ serial: true, facts: { mac: MAC, model: 'esp32', fw: '0.1.0', caps: ['serial.send'], boot: 1 } });
  await peer.online();
  await peer.cmd('s2', 'serial.send', { data: 'AA==', timeoutMs: 2_000 });
  await peer.advance(3_000);
  const last = peer.acks('s2').at(-1)!;
  assert.equal([last.state, (last.error ?? '').split(':')[0]], ['failed', 'SERIAL_TIMEOUT']);
  assert.is(peer.of('serial.abort').length, 1);
  assert.is(peer.lastState(), 'ready');
  peer.assertHealthy();
});

memory('a QR whose expiry is decades away (clock not yet set) still ends, after MAX_QR_MS', async () => {
  const peer = new Peer(nodeDriver());
  await peer.boot({ startAt: 0 });
  await peer.online();
  await peer.cmd('q', 'qr.show', { text: 'x', caption: 'y', expiresAt: T0 });
  await peer.advance(MAX_QR_MS - 1);
  assert.equal(peer.ackStates('q'), ['accepted', 'progress']);
  await peer.advance(1);
  assert.equal(peer.ackStates('q'), ['accepted', 'progress', 'done']);
  peer.assertHealthy();
});

const fleet = suite('firmware core: a fleet after a broker restart');

fleet('100 devices dropped at once reconnect spread across the backoff window', async () => {
  const firstRetry: number[] = [];
  for (let seed = 1; seed <= 100; seed++) {
    const peer = new Peer(nodeDriver());
    await peer.boot({ seed });
    await peer.online();
    await peer.send({ type: 'mqtt.close', reason: 'broker restart' });
    peer.fresh();
    await peer.advance(1_000);
    const connects = peer.of('mqtt.connect', peer.fresh());
    assert.is(connects.length, 1);
    firstRetry.push(connects[0]!.at);
  }
  assert.ok(
    firstRetry.every((t) => t >= 500 && t <= 1_000),
    'all within the first window',
  );
  const spread = Math.max(...firstRetry) - Math.min(...firstRetry);
  assert.ok(spread >= 400, `retries spread over ${spread} ms of the 500 ms window`);
  const perSlot = new Map<number, number>();
  for (const t of firstRetry) perSlot.set(Math.floor(t / 50), (perSlot.get(Math.floor(t / 50)) ?? 0) + 1);
  assert.ok(Math.max(...perSlot.values()) <= 25, 'no 50 ms slot takes a quarter of the fleet');
});

fleet('a fleet whose random() repeats after every boot still spreads its retries: jitter is seeded by MAC and boot count', async () => {
  const firstRetry = async (mac: string, boot: number): Promise<number> => {
    const peer = new Peer(nodeDriver());
    // The same seed everywhere models an unseeded Math.random (Moddable's lin build).
    await peer.boot({ seed: 42, facts: { ...bootEvent().facts, mac, boot } });
    await peer.online();
    await peer.send({ type: 'mqtt.close', reason: 'broker restart' });
    peer.fresh();
    await peer.advance(1_000);
    const connects = peer.of('mqtt.connect', peer.fresh());
    assert.is(connects.length, 1);
    return connects[0]!.at;
  };
  const byMac: number[] = [];
  for (let i = 0; i < 20; i++) byMac.push(await firstRetry(`a4cf12b4c9${(0x10 + i).toString(16)}`, 7));
  assert.ok(new Set(byMac).size >= 15, `20 MACs, same boot count and random(): ${new Set(byMac).size} distinct first retries`);
  const byBoot: number[] = [];
  for (let boot = 1; boot <= 20; boot++) byBoot.push(await firstRetry(MAC, boot));
  assert.ok(new Set(byBoot).size >= 15, `one MAC over 20 boots: ${new Set(byBoot).size} distinct first retries`);
});

const robust = suite('firmware core: a failing adapter');

robust('a throwing display is logged; the device still connects and runs jobs', () => {
  const calls: PlatformCall[] = [];
  const p = new ScriptedPlatform((c) => calls.push(c), bootEvent());
  Object.assign(p.display, {
    status: () => {
      throw new Error('screen unplugged');
    },
  });
  const core = new DeviceCore(p);
  core.start();
  p.wifiEvent('gotip');
  p.mqttReady();
  p.mqttMessage(`fb/v1/d/${DEVICE}/cmd`, JSON.stringify({ job: 'j1', kind: 'identify', params: { seconds: 1 }, attempt: 1, deadline: 0 }));
  p.advance(1_000);
  const acks = calls.flatMap((c) => (c.op === 'mqtt.publish' && c.topic.endsWith('/ack') ? [JSON.parse(c.payload).state as string] : []));
  assert.ok(acks.includes('accepted'), `acks: ${acks}`);
  const thrown = calls.filter((c) => c.op === 'log' && c.level === 'error' && c.msg.includes('threw'));
  assert.ok(thrown.length > 0);
  assert.ok(thrown.every((c) => c.op === 'log' && String(c.fields?.error).includes('screen unplugged')));
  assert.ok(p.now() >= T0);
});

robust('a publish that throws loses nothing final: the outcome goes out after the next hello', () => {
  const calls: PlatformCall[] = [];
  const p = new ScriptedPlatform((c) => calls.push(c), bootEvent({ options: { mqttBackoff: TEST_BACKOFF } }));
  const publish = p.mqtt.publish;
  let socketDead = false;
  Object.assign(p.mqtt, {
    publish: (topic: string, payload: string, retain?: boolean) => {
      if (socketDead) throw new Error('socket is closed');
      publish(topic, payload, retain);
    },
  });
  const core = new DeviceCore(p, { mqttBackoff: TEST_BACKOFF });
  core.start();
  p.wifiEvent('gotip');
  p.mqttReady();
  p.mqttMessage(`fb/v1/d/${DEVICE}/cmd`, JSON.stringify({ job: 'j1', kind: 'identify', params: { seconds: 1 }, attempt: 1, deadline: 0 }));
  socketDead = true;
  p.advance(1_000);
  assert.ok(calls.some((c) => c.op === 'log' && c.msg === 'publish failed'));
  p.mqttClose({ reason: 'socket' });
  socketDead = false;
  p.advance(1_000);
  p.mqttReady();
  const acks = calls.flatMap((c) => (c.op === 'mqtt.publish' && c.topic.endsWith('/ack') ? [JSON.parse(c.payload).state as string] : []));
  assert.equal(acks, ['accepted', 'progress', 'done']);
  assert.is(core.state, 'ready');
});

provisioning.run();
timeouts.run();
memory.run();
fleet.run();
robust.run();
