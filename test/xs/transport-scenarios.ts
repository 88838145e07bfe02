// How the device reaches the broker, written once and run on Node and under XS (core.test.ts):
// TLS with the CA certificate from NVS, plain MQTT only with insecure=1, a clean stop, and the
// clock taken from the broker.
// The scripted MQTT plays the secure socket: a server that does not chain to the CA ends the
// connection during the handshake, which the adapter reports as a close with a reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { parseHello } from '../../protocol/messages';
import { deviceTopic } from '../../protocol/topics';
import { DEVICE, SECRET, T0, bootEvent, type Peer } from './harness/peer';

const bootPrefs = (): ReturnType<typeof bootEvent>['prefs'] => bootEvent().prefs;
import { TEST_BACKOFF, type Scenario } from './core-scenarios';

const CA_PEM = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'tls', 'test-ca.pem'), 'utf8');
const PLAIN_WARNING = 'plain MQTT: the device secret crosses the network in clear (insecure=1)';
const CA_DER_HEX = Buffer.from(CA_PEM.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('hex');

async function haltReason(peer: Peer): Promise<string> {
  assert.is(peer.lastState(), 'unprovisioned');
  assert.is(peer.of('wifi.connect').length, 0, 'no radio without a safe way to the broker');
  return String(peer.logs('error', 'not provisioned')[0]?.fields?.reason);
}

export const transportScenarios: Record<string, Scenario> = {
  async 'tls: mqtts:// connects over TLS trusting only the CA from NVS; a server that does not chain to it is refused and retried'(peer) {
    await peer.boot({ prefs: { ssid: 'lab', broker: 'mqtts://broker.local', ca: CA_PEM, id: DEVICE, secret: SECRET }, options: { mqttBackoff: TEST_BACKOFF } });
    await peer.send({ type: 'wifi', status: 'gotip' });
    const [connect] = peer.of('mqtt.connect', peer.fresh());
    assert.ok(connect, 'connects');
    assert.is(connect.options.secure, true);
    assert.is(connect.options.port, 8883);
    assert.is(connect.options.ca, CA_DER_HEX, 'the DER of the provisioned CA, nothing else');
    assert.is(peer.logs('warn', PLAIN_WARNING).length, 0);

    await peer.send({ type: 'mqtt.close', reason: 'TLS handshake failed: certificate not trusted' });
    assert.is(peer.lastState(), 'mqtt');
    await peer.advance(1_000);
    const retry = peer.of('mqtt.connect', peer.fresh());
    assert.is(retry.length, 1, 'retried with backoff');
    assert.is(retry[0]!.options.ca, CA_DER_HEX);
    assert.is(peer.of('mqtt.publish').length, 0, 'nothing was sent to the untrusted server');
    peer.assertHealthy();
  },

  async 'tls: mqtts:// without a CA, or with one that is not a PEM certificate, never connects'(peer) {
    await peer.boot({
      prefs: {
        ssid: 'lab',
        broker: 'mqtts://broker.local',
        ca: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----',
        id: DEVICE,
        secret: SECRET,
      },
    });
    assert.match(await haltReason(peer), /pref ca is not a PEM certificate/);
  },

  async 'tls: mqtts:// with no CA in NVS never connects'(peer) {
    await peer.boot({ prefs: { ssid: 'lab', broker: 'mqtts://broker.local', id: DEVICE, secret: SECRET } });
    assert.match(await haltReason(peer), /needs the broker CA certificate/);
  },

  async 'tls: plain mqtt:// is refused unless NVS sets insecure=1'(peer) {
    await peer.boot({ prefs: { ssid: 'lab', broker: 'mqtt://broker.local', id: DEVICE, secret: SECRET } });
    assert.match(await haltReason(peer), /insecure=1/);
  },

  async 'tls: with insecure=1 plain mqtt:// connects, and the device warns that its secret crosses in clear'(peer) {
    await peer.boot({ prefs: { ssid: 'lab', broker: 'mqtt://broker.local', insecure: '1', id: DEVICE, secret: SECRET } });
    assert.is(peer.logs('warn', PLAIN_WARNING).length, 1);
    await peer.send({ type: 'wifi', status: 'gotip' });
    const [connect] = peer.of('mqtt.connect', peer.fresh());
    assert.is(connect?.options.secure, false);
    assert.is(connect?.options.ca, undefined);
    peer.assertHealthy();
  },

  async 'stop: the session ends with a DISCONNECT, the radio is released, nothing stays scheduled'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.send({ type: 'stop' });
    const calls = peer.fresh();
    assert.equal(
      calls.filter((c) => c.op === 'mqtt.close' || c.op === 'wifi.disconnect').map((c) => c.op),
      ['mqtt.close', 'wifi.disconnect'],
      'close() is the adapter call that sends DISCONNECT',
    );
    assert.is(peer.lastState(), 'stopped');
    assert.is((await peer.stats()).pendingTimers, 0);
  },

  async 'clock: a device that boots at 1970 takes the broker time from the config answering its hello, plus half the round trip'(peer) {
    await peer.boot({ startAt: 0 });
    await peer.advance(5_000);
    await peer.online();
    const helloCall = peer.of('mqtt.publish').find((c) => c.topic === deviceTopic(DEVICE, 'hello'));
    const hello = parseHello(JSON.parse(helloCall!.payload));
    assert.is(hello.sentAt, 5_000, 'uptime ms at sending');
    await peer.advance(400);
    await peer.deliver('config', { agent: null, settings: {}, time: { now: T0, hello: hello.sentAt } });
    assert.is((await peer.stats()).now, T0 + 200, 'the broker time plus half the 400 ms round trip');
    assert.equal(
      peer.logs('info', 'clock set from the broker').map((l) => l.fields?.roundTripMs),
      [400],
    );

    // A later config (a claim) carries the time but answers no hello: the clock stays.
    await peer.advance(1_000);
    await peer.deliver('config', { agent: null, settings: {}, time: { now: T0 + 999_999 } });
    await peer.deliver('config', { agent: null, settings: {}, time: { now: T0 + 999_999, hello: hello.sentAt } });
    assert.is((await peer.stats()).now, T0 + 1_200);
    peer.assertHealthy();
  },

  async 'clock: SNTP is optional; its server comes from NVS and the broker can change it in desired settings'(peer) {
    await peer.boot({ prefs: { ...bootPrefs(), sntp: 'none' } });
    await peer.online();
    await peer.deliver('config', { agent: null, settings: { sntp: 'ntp.site.lan' } });
    assert.is((await peer.stats()).prefs.sntp, 'ntp.site.lan');
    await peer.deliver('config', { agent: null, settings: { sntp: 'ntp.site.lan' } });
    assert.is(peer.of('prefs.set').filter((c) => c.key === 'sntp').length, 1, 'stored once, not on every config');
    peer.assertHealthy();
  },
};
