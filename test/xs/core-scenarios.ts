// Device scenarios written once and run on both engines (core.test.ts): the same code drives
// the core in-process on Node and inside the real XS engine.
import * as assert from 'uvu/assert';
import { parseEnrollRequest, parseHello } from '../../protocol/messages';
import { deviceTopic, enrollReplyTopic, enrollTopic } from '../../protocol/topics';
import { DEVICE, MAC, SECRET, T0, type Peer } from './harness/peer';

export type Scenario = (peer: Peer) => Promise<void>;

/** Small, fixed backoff so scenarios can state exact windows. */
export const TEST_BACKOFF = { baseMs: 1_000, capMs: 8_000, factor: 2, jitter: 0.5 };

const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
const hex = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

/** Delay between a drop at `since` and the next call of `op`, asserting exactly one such call. */
function delayOf(peer: Peer, op: 'mqtt.connect' | 'wifi.connect', since: number): number {
  const calls = peer.of(op, peer.fresh());
  assert.is(calls.length, 1, `expected one ${op}, saw ${calls.length}`);
  return calls[0]!.at - since;
}

function within(delay: number, lo: number, hi: number, what: string): void {
  assert.ok(delay >= lo && delay <= hi, `${what}: ${delay} ms is outside [${lo}, ${hi}]`);
}

export const scenarios: Record<string, Scenario> = {
  async 'connect: Wi-Fi first, then MQTT as itself with keepalive and a retained will'(peer) {
    await peer.boot();
    const boot = peer.fresh();
    assert.equal(
      peer.of('wifi.connect', boot).map((c) => c.ssid),
      ['lab'],
    );
    assert.is(peer.of('mqtt.connect', boot).length, 0, 'no MQTT before an IP address');
    assert.is(peer.lastState(), 'wifi');

    await peer.send({ type: 'wifi', status: 'connected' });
    assert.is(peer.of('mqtt.connect', peer.fresh()).length, 0, 'associated is not yet usable');
    await peer.send({ type: 'wifi', status: 'gotip' });
    const connects = peer.of('mqtt.connect', peer.fresh());
    assert.is(connects.length, 1);
    assert.equal(connects[0]!.options, {
      host: 'broker.local',
      port: 1884,
      secure: false,
      clientId: DEVICE,
      username: DEVICE,
      password: SECRET,
      keepalive: 30,
      will: { topic: deviceTopic(DEVICE, 'status'), payload: JSON.stringify({ state: 'offline' }), retain: true },
    });
    assert.is(peer.lastState(), 'mqtt');
    assert.is(peer.of('mqtt.publish').length, 0, 'nothing is published before CONNACK');
    peer.assertHealthy();
  },

  async 'hello: subscribes, publishes retained online, then a valid hello'(peer) {
    await peer.boot({ prefs: { ssid: 'lab', broker: 'broker.local', insecure: '1', id: DEVICE, secret: SECRET, machine: 'ct0700026' } });
    await peer.advance(5_000);
    await peer.online();
    const calls = peer.fresh();
    assert.equal(
      peer.of('mqtt.subscribe', calls).map((c) => c.topic),
      [deviceTopic(DEVICE, 'config'), deviceTopic(DEVICE, 'cmd')],
    );
    const status = peer.published('status', calls);
    assert.equal(
      status.map((s) => [JSON.parse(s.payload), s.retain]),
      [[{ state: 'online' }, true]],
    );
    const hellos = peer.published('hello', calls);
    assert.is(hellos.length, 1);
    assert.is(hellos[0]!.retain, false);
    const hello = parseHello(JSON.parse(hellos[0]!.payload));
    assert.equal(hello, {
      fw: '0.1.0',
      model: 'moddable_two',
      mac: MAC,
      caps: ['qr.show', 'identify'],
      boot: 7,
      uptime: 5,
      machine: 'CT0700026',
      sentAt: 5_000,
    });
    const order = calls.filter((c) => c.op === 'mqtt.subscribe' || c.op === 'mqtt.publish').map((c) => c.op);
    assert.equal(order, ['mqtt.subscribe', 'mqtt.subscribe', 'mqtt.publish', 'mqtt.publish'], 'subscribed before announcing itself');
    assert.is(peer.lastState(), 'ready');
    peer.assertHealthy();
  },

  async 'uptime counts from boot even when SNTP sets the wall clock later'(peer) {
    await peer.boot({ startAt: 0 });
    await peer.advance(4_000);
    await peer.send({ type: 'setClock', at: T0 });
    await peer.advance(3_000);
    await peer.online();
    const hello = parseHello(JSON.parse(peer.published('hello')[0]!.payload));
    assert.is(hello.uptime, 7);
    assert.is((await peer.stats()).now, T0 + 3_000);
    peer.assertHealthy();
  },

  async 'config: shows the bound agent, or the claim code; malformed config is ignored'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.deliver('config', { agent: { id: 263, name: 'Ada Lovelace' }, settings: {} });
    assert.equal(
      peer.of('display.agent', peer.fresh()).map((c) => [c.name, c.claimCode]),
      [['Ada Lovelace', undefined]],
    );
    await peer.deliver('config', { agent: null, claimCode: 'K7P2QX', settings: {} });
    assert.equal(
      peer.of('display.agent', peer.fresh()).map((c) => [c.name, c.claimCode]),
      [[null, 'K7P2QX']],
    );

    await peer.deliver('config', '{"agent": {');
    await peer.deliver('config', { agent: { id: 'Not An Id!', name: 'x' }, settings: {} });
    await peer.deliver('config', { agent: null, claimCode: 'K7', settings: {} });
    const after = peer.fresh();
    assert.is(peer.of('display.agent', after).length, 0, 'a malformed config changes nothing on screen');
    assert.is(peer.logs('warn', 'ignored a malformed config', after).length, 3);
    assert.is((await peer.stats()).stats.state, 'ready');
    peer.assertHealthy();
  },

  async 'config with an error: the refused hello is logged and shown; the binding still applies'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    const error = { code: 'FORBIDDEN', message: 'device esp32-x may not announce machine code CT0700026', field: 'machine' };
    await peer.deliver('config', { agent: null, claimCode: 'K7P2QX', settings: {}, error });
    const calls = peer.fresh();
    assert.equal(
      peer.of('display.agent', calls).map((c) => [c.name, c.claimCode]),
      [[null, 'K7P2QX']],
    );
    assert.equal(
      peer.logs('warn', 'the broker refused the hello', calls).map((l) => l.fields),
      [{ code: 'FORBIDDEN', message: error.message, field: 'machine' }],
    );
    assert.equal(
      peer.of('display.status', calls).map((c) => c.line),
      ['Refused machine: FORBIDDEN'],
    );

    await peer.deliver('config', { agent: null, settings: {}, error: { code: 'BAD_REQUEST', message: 'fw must be at most 64 characters' } });
    assert.equal(
      peer.of('display.status', peer.fresh()).map((c) => c.line),
      ['Refused hello: BAD_REQUEST'],
    );
    await peer.deliver('config', { agent: null, settings: {}, error: { code: 'BAD_REQUEST' } });
    const malformed = peer.fresh();
    assert.is(peer.logs('warn', 'ignored a malformed config', malformed).length, 1, 'an error without a message is malformed');
    assert.is(peer.of('display.status', malformed).length, 0);
    await peer.deliver('config', { agent: { id: 263, name: 'Ada Lovelace' }, settings: {} });
    assert.is(peer.logs('warn', 'the broker refused the hello', peer.fresh()).length, 0, 'a config without an error says nothing of one');
    assert.is((await peer.stats()).stats.state, 'ready');
    peer.assertHealthy();
  },

  async 'qr.show: accepted, progress, shown until expiresAt, then done'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    const params = { text: 'upi://pay?pa=shop@bank&am=10.00', caption: 'Order 17', amount: 10, currency: 'INR', expiresAt: T0 + 30_000 };
    await peer.cmd('job-1', 'qr.show', params);
    const started = peer.fresh();
    assert.equal(peer.ackStates('job-1', started), ['accepted', 'progress']);
    assert.equal(
      peer.of('display.showQr', started).map((c) => c.view),
      [params],
    );
    assert.is(peer.lastState(), 'busy');

    await peer.advance(29_999);
    assert.equal(peer.acks('job-1', peer.fresh()), [], 'still shown before expiresAt');
    await peer.advance(1);
    const ended = peer.fresh();
    assert.is(peer.of('display.clearQr', ended).length, 1);
    const done = peer.acks('job-1', ended);
    assert.equal(done, [{ job: 'job-1', state: 'done', result: { shown: true } }]);
    assert.is(peer.published('ack', ended)[0]!.at, 30_000);
    assert.is(peer.lastState(), 'ready');
    peer.assertHealthy();
  },

  async 'qr.show held for payment: stays up until the broker completes it, or cancels it'(peer) {
    await peer.boot();
    await peer.online();
    await peer.cmd('pay-1', 'qr.show', { text: 'pay:1', caption: 'Pay', hold: true });
    await peer.advance(3_600_000);
    assert.equal(peer.ackStates('pay-1', peer.fresh()), ['accepted', 'progress'], 'a held QR without expiry waits');
    await peer.cmd('pay-1', 'qr.show', {}, { complete: true });
    const paid = peer.fresh();
    assert.is(peer.of('display.paid', paid).length, 1);
    assert.equal(peer.acks('pay-1', paid), [{ job: 'pay-1', state: 'done', result: { paid: true } }]);

    await peer.cmd('pay-2', 'qr.show', { text: 'pay:2', caption: 'Pay', hold: true, expiresAt: (await peer.stats()).now + 60_000 });
    await peer.advance(10_000);
    await peer.cmd('pay-2', 'qr.show', {}, { cancel: true });
    const cancelled = peer.fresh();
    assert.equal(peer.ackStates('pay-2', cancelled), ['accepted', 'progress', 'cancelled']);
    assert.is(peer.of('display.clearQr', cancelled).length, 1);
    await peer.advance(120_000);
    assert.equal(peer.acks(undefined, peer.fresh()), [], 'the cancelled QR timer is gone');

    const now = (await peer.stats()).now;
    await peer.cmd('pay-3', 'qr.show', { text: 'pay:3', caption: 'Pay', hold: true, expiresAt: now + 60_000 });
    await peer.advance(60_000);
    const expired = peer.acks('pay-3', peer.fresh());
    assert.equal(
      expired.map((a) => a.state),
      ['accepted', 'progress', 'failed'],
    );
    assert.match(expired[2]!.error ?? '', /^EXPIRED/);
    peer.assertHealthy();
  },

  async 'qr.show validity counts from display; only a confirmed payment is done'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    // Held, valid 20 s from display: it expires unpaid, never done.
    await peer.cmd('v-1', 'qr.show', { text: 'pay:v1', caption: 'Pay', hold: true, expiresInSeconds: 20 });
    const shownAt = (await peer.stats()).now;
    const shown = peer.fresh();
    assert.equal(
      peer.of('display.showQr', shown).map((c) => c.view.expiresAt),
      [shownAt + 20_000],
      'the countdown runs from display',
    );
    await peer.advance(19_999);
    assert.equal(peer.acks('v-1', peer.fresh()), [], 'still valid until 20 s after display');
    await peer.advance(1);
    const expired = peer.fresh();
    assert.equal(peer.acks('v-1', expired), [{ job: 'v-1', state: 'failed', error: 'EXPIRED: not paid; the QR expired before the payment was confirmed' }]);
    assert.is(peer.of('display.clearQr', expired).length, 1);

    // Not held: done with `shown`, and a completion cannot turn it into a payment.
    await peer.cmd('v-2', 'qr.show', { text: 'menu', caption: 'Menu', expiresInSeconds: 5 });
    await peer.cmd('v-2', 'qr.show', {}, { complete: true });
    assert.is(peer.of('display.paid', peer.fresh()).length, 0);
    await peer.advance(5_000);
    assert.equal(peer.acks('v-2', peer.fresh()), [{ job: 'v-2', state: 'done', result: { shown: true } }]);

    // An absolute expiresAt already past when the job starts: EXPIRED, and never on screen.
    const now = (await peer.stats()).now;
    await peer.cmd('v-3', 'qr.show', { text: 'pay:v3', caption: 'Pay', hold: true, expiresAt: now - 1 });
    const late = peer.fresh();
    assert.is(peer.of('display.showQr', late).length, 0);
    assert.equal(peer.ackStates('v-3', late), ['accepted', 'failed']);
    assert.match(peer.acks('v-3', late)[1]!.error ?? '', /^EXPIRED: expiresAt passed before the QR could be shown/);

    // The payment template is checked on the device too, with the same protocol code.
    const pix = '00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***6304';
    await peer.cmd('v-4', 'qr.show', { text: `${pix}1D3D`, caption: 'PIX', template: 'emvco', expiresInSeconds: 1 });
    await peer.advance(1_000);
    assert.equal(peer.ackStates('v-4', peer.fresh()), ['accepted', 'progress', 'done']);
    await peer.cmd('v-5', 'qr.show', { text: `${pix}1D3E`, caption: 'PIX', template: 'emvco' });
    const wrong = peer.acks('v-5', peer.fresh());
    assert.equal(
      wrong.map((a) => a.state),
      ['rejected'],
    );
    assert.match(wrong[0]!.error ?? '', /the CRC is 1D3E, but the payload's CRC-16\/CCITT is 1D3D/);
    assert.is(peer.lastState(), 'ready');
    peer.assertHealthy();
  },

  async 'a resent cmd is re-acked accepted and never runs twice'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.cmd('job-7', 'identify', { seconds: 3 });
    await peer.cmd('job-7', 'identify', { seconds: 3 }, { attempt: 2 });
    let calls = peer.fresh();
    assert.equal(peer.ackStates('job-7', calls), ['accepted', 'progress', 'accepted']);
    assert.equal(
      peer.of('identify', calls).map((c) => c.seconds),
      [3],
    );
    await peer.advance(3_000);
    assert.equal(peer.ackStates('job-7', peer.fresh()), ['done']);
    await peer.cmd('job-7', 'identify', { seconds: 3 }, { attempt: 3 });
    calls = peer.fresh();
    assert.equal(peer.ackStates('job-7', calls), ['accepted', 'done'], 'a finished job answers with its outcome');
    assert.is(peer.of('identify', calls).length, 0);
    assert.is(peer.lastState(), 'ready');
    peer.assertHealthy();
  },

  async 'a malformed cmd is ignored and logged, and the loop keeps running'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.deliver('cmd', 'not json');
    await peer.deliver('cmd', '[1,2,3]');
    await peer.deliver('cmd', { job: 'job-1' });
    await peer.deliver('cmd', { job: 'Job 1!', kind: 'identify', params: { seconds: 1 }, attempt: 1, deadline: 0 });
    await peer.deliver('cmd', { job: 'job-2', kind: 'identify', params: 'seconds=1', attempt: 1, deadline: 0 });
    await peer.deliver('cmd', 'x'.repeat(9_000));
    const bad = peer.fresh();
    assert.equal(peer.acks(undefined, bad), [], 'no ack for a cmd that cannot be read');
    assert.is(peer.logs('warn', 'ignored a malformed cmd', bad).length, 5);
    assert.is(peer.logs('warn', 'dropped an oversized message', bad).length, 1);
    assert.is((await peer.stats()).stats.state, 'ready');

    await peer.cmd('job-3', 'identify', { seconds: 1 });
    assert.equal(peer.ackStates('job-3', peer.fresh()), ['accepted', 'progress']);
    peer.assertHealthy();
  },

  async 'reconnect after a drop: exponential backoff with jitter, capped, reset once online'(peer) {
    await peer.boot({ options: { mqttBackoff: TEST_BACKOFF } });
    await peer.online();
    peer.fresh();
    let dropAt = (await peer.stats()).now - T0;
    await peer.send({ type: 'mqtt.close', reason: 'broker restarted' });
    assert.is(peer.of('mqtt.connect', peer.fresh()).length, 0, 'no immediate reconnect');
    assert.is(peer.lastState(), 'mqtt');
    const windows: [number, number][] = [
      [500, 1_000],
      [1_000, 2_000],
      [2_000, 4_000],
      [4_000, 8_000],
      [4_000, 8_000],
    ];
    for (const [lo, hi] of windows) {
      await peer.advance(hi);
      within(delayOf(peer, 'mqtt.connect', dropAt), lo, hi, 'reconnect delay');
      dropAt = (await peer.stats()).now - T0;
      await peer.send({ type: 'mqtt.close', reason: 'connection refused by host' });
    }
    await peer.advance(8_000);
    peer.fresh();
    await peer.send({ type: 'mqtt.ready' });
    const back = peer.fresh();
    assert.is(peer.published('hello', back).length, 1, 'hello again on every connect');
    assert.is(peer.lastState(), 'ready');
    dropAt = (await peer.stats()).now - T0;
    await peer.send({ type: 'mqtt.close', reason: 'keepalive timeout' });
    await peer.advance(1_000);
    within(delayOf(peer, 'mqtt.connect', dropAt), 500, 1_000, 'after a good session the backoff starts over');
    peer.assertHealthy();
  },

  async 'a Wi-Fi drop closes MQTT, reconnects Wi-Fi with backoff, then MQTT'(peer) {
    await peer.boot({ options: { wifiBackoff: TEST_BACKOFF, mqttBackoff: TEST_BACKOFF } });
    await peer.online();
    peer.fresh();
    const dropAt = (await peer.stats()).now - T0;
    await peer.send({ type: 'wifi', status: 'disconnected' });
    const drop = peer.fresh();
    assert.is(peer.of('mqtt.close', drop).length, 1, 'the dead session is closed');
    assert.is(peer.of('wifi.disconnect', drop).length, 1);
    assert.is(peer.lastState(), 'wifi');
    await peer.advance(1_000);
    within(delayOf(peer, 'wifi.connect', dropAt), 500, 1_000, 'Wi-Fi retry delay');
    await peer.send({ type: 'wifi', status: 'gotip' });
    assert.is(peer.of('mqtt.connect', peer.fresh()).length, 1, 'MQTT follows the IP address at once');
    await peer.send({ type: 'mqtt.ready' });
    assert.is(peer.published('hello', peer.fresh()).length, 1);
    assert.is(peer.lastState(), 'ready');
    peer.assertHealthy();
  },

  async 'a job that ends while offline reports its outcome after the next hello'(peer) {
    await peer.boot({ options: { mqttBackoff: TEST_BACKOFF } });
    await peer.online();
    await peer.cmd('job-9', 'identify', { seconds: 2 });
    await peer.send({ type: 'mqtt.close', reason: 'socket' });
    await peer.advance(2_000);
    peer.fresh();
    await peer.send({ type: 'mqtt.ready' });
    const back = peer.fresh();
    const order = peer.of('mqtt.publish', back).map((c) => c.topic.split('/').at(-1));
    assert.equal(order, ['status', 'hello', 'ack']);
    assert.equal(peer.ackStates('job-9', back), ['done']);
    peer.assertHealthy();
  },

  async 'enrollment: token → enroll client → stores id and secret → reconnects as itself'(peer) {
    await peer.boot({
      prefs: { ssid: 'lab', broker: 'mqtt://broker.local', insecure: '1', enroll: 'tok-0123456789', machine: 'CT0700026' },
      options: { mqttBackoff: TEST_BACKOFF },
    });
    await peer.send({ type: 'wifi', status: 'gotip' });
    const c1 = peer.of('mqtt.connect', peer.fresh());
    assert.equal(
      c1.map((c) => c.options),
      [{ host: 'broker.local', port: 1883, secure: false, clientId: `enroll-${MAC}`, username: 'enroll', password: 'tok-0123456789', keepalive: 30 }],
    );
    assert.is(peer.lastState(), 'enroll');
    await peer.send({ type: 'mqtt.ready' });
    let calls = peer.fresh();
    assert.equal(
      peer.of('mqtt.subscribe', calls).map((c) => c.topic),
      [enrollReplyTopic(MAC)],
    );
    const requests = peer.of('mqtt.publish', calls).filter((c) => c.topic === enrollTopic(MAC));
    assert.equal(
      requests.map((r) => parseEnrollRequest(JSON.parse(r.payload))),
      [{ mac: MAC, model: 'moddable_two', fw: '0.1.0', machine: 'CT0700026' }],
    );

    // A refusal is logged with its code and retried later, still with the token.
    await peer.send({
      type: 'mqtt.message',
      topic: enrollReplyTopic(MAC),
      payload: JSON.stringify({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down' } }),
    });
    calls = peer.fresh();
    assert.equal(
      peer.logs('error', 'enrollment refused', calls).map((l) => l.fields?.code),
      ['RATE_LIMITED'],
    );
    assert.is(peer.of('mqtt.close', calls).length, 1);
    await peer.advance(1_000);
    const retry = peer.of('mqtt.connect', peer.fresh());
    assert.equal(
      retry.map((c) => c.options.username),
      ['enroll'],
    );
    await peer.send({ type: 'mqtt.ready' });
    const newSecret = 'n3w-secret-from-broker-0001';
    await peer.send({ type: 'mqtt.message', topic: enrollReplyTopic(MAC), payload: JSON.stringify({ ok: true, deviceId: DEVICE, secret: newSecret }) });
    calls = peer.fresh();
    assert.equal(
      calls.filter((c) => c.op === 'prefs.set' || c.op === 'prefs.remove').map((c) => (c.op === 'prefs.set' ? [c.key, c.value] : [c.key])),
      [['id', DEVICE], ['secret', newSecret], ['enroll']],
    );
    const asItself = peer.of('mqtt.connect', calls);
    assert.equal(
      asItself.map((c) => [c.options.clientId, c.options.username, c.options.password]),
      [[DEVICE, DEVICE, newSecret]],
    );
    await peer.send({ type: 'mqtt.ready' });
    assert.is(peer.published('hello', peer.fresh()).length, 1);
    const { prefs } = await peer.stats();
    assert.equal([prefs.id, prefs.secret, prefs.enroll], [DEVICE, newSecret, undefined]);
    assert.ok(!JSON.stringify(peer.of('log')).includes(newSecret) && !JSON.stringify(peer.of('log')).includes('tok-0123456789'), 'no secret in the logs');
    peer.assertHealthy();
  },

  async 'rotated credentials: a refused CONNACK falls back to enrollment when a token is present'(peer) {
    await peer.boot({
      prefs: { ssid: 'lab', broker: 'broker.local', insecure: '1', id: DEVICE, secret: SECRET, enroll: 'tok-new-0001' },
      options: { mqttBackoff: TEST_BACKOFF },
    });
    await peer.send({ type: 'wifi', status: 'gotip' });
    assert.equal(
      peer.of('mqtt.connect', peer.fresh()).map((c) => c.options.username),
      [DEVICE],
      'the stored secret comes first',
    );
    await peer.send({ type: 'mqtt.close', refused: 5 });
    await peer.advance(1_000);
    assert.equal(
      peer.of('mqtt.connect', peer.fresh()).map((c) => c.options.username),
      ['enroll'],
    );
    peer.assertHealthy();
  },

  async 'rotated credentials without a token: keeps retrying as itself with backoff'(peer) {
    await peer.boot({ options: { mqttBackoff: TEST_BACKOFF } });
    await peer.send({ type: 'wifi', status: 'gotip' });
    peer.fresh();
    for (const hi of [1_000, 2_000, 4_000]) {
      await peer.send({ type: 'mqtt.close', refused: 4 });
      await peer.advance(hi);
      assert.equal(
        peer.of('mqtt.connect', peer.fresh()).map((c) => c.options.username),
        [DEVICE],
      );
    }
    assert.ok(peer.logs('error', 'the broker refused the stored credentials and there is no enrollment token').length === 3);
    peer.assertHealthy();
  },

  async 'serial.send relays bytes and returns the reply in base64'(peer) {
    await peer.boot({ serial: true, facts: { mac: MAC, model: 'esp32', fw: '0.1.0', caps: ['serial.send'], boot: 1 } });
    await peer.online();
    peer.fresh();
    await peer.cmd('ser-1', 'serial.send', { data: b64('PING\r\n'), timeoutMs: 500, expect: b64('\r\n') });
    const sent = peer.fresh();
    assert.equal(
      peer.of('serial.send', sent).map((c) => [c.data, c.timeoutMs, c.expect]),
      [[hex('PING\r\n'), 500, hex('\r\n')]],
    );
    assert.equal(peer.ackStates('ser-1', sent), ['accepted', 'progress']);
    await peer.send({ type: 'serial.reply', ok: true, data: hex('PONG \xff\r\n') });
    assert.equal(peer.acks('ser-1', peer.fresh()), [{ job: 'ser-1', state: 'done', result: { data: b64('PONG \xff\r\n'), bytes: 8 } }]);
    peer.assertHealthy();
  },

  async 'unknown or unavailable kinds, bad params, busy and late jobs are rejected'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.cmd('r-1', 'print.photo', {});
    await peer.cmd('r-2', 'serial.send', { data: 'AA==', timeoutMs: 10 });
    await peer.cmd('r-3', 'qr.show', { caption: 'no text' });
    await peer.cmd('r-4', 'identify', { seconds: 1 }, { deadline: T0 - 1 });
    await peer.cmd('run-1', 'identify', { seconds: 5 });
    await peer.cmd('r-5', 'identify', { seconds: 1 });
    const acks = peer.acks(undefined, peer.fresh()).filter((a) => a.job.startsWith('r-'));
    assert.equal(
      acks.map((a) => [a.job, a.state, (a.error ?? '').split(':')[0]]),
      [
        ['r-1', 'rejected', 'UNSUPPORTED'],
        ['r-2', 'rejected', 'UNSUPPORTED'],
        ['r-3', 'rejected', 'BAD_PARAMS'],
        ['r-4', 'rejected', 'EXPIRED'],
        ['r-5', 'rejected', 'BUSY'],
      ],
    );
    assert.match(acks[2]!.error ?? '', /text/, 'the bad field is named');
    await peer.cmd('r-1', 'print.photo', {}, { attempt: 2 });
    assert.equal(peer.ackStates('r-1', peer.fresh()), ['rejected'], 'a resent rejected job is not re-accepted');
    peer.assertHealthy();
  },

  async 'cancel stops the running job; a cancel that overtakes its cmd keeps it from ever running'(peer) {
    await peer.boot();
    await peer.online();
    peer.fresh();
    await peer.cmd('c-1', 'identify', { seconds: 30 });
    await peer.advance(1_000);
    await peer.cmd('c-1', 'identify', {}, { cancel: true });
    let calls = peer.fresh();
    assert.equal(peer.ackStates('c-1', calls), ['accepted', 'progress', 'cancelled']);
    assert.equal(
      peer.of('identify', calls).map((c) => c.seconds),
      [30, 0],
    );
    assert.is(peer.lastState(), 'ready');
    await peer.advance(60_000);
    assert.equal(peer.acks('c-1', peer.fresh()), [], 'no done after cancel');

    await peer.cmd('c-2', 'identify', {}, { cancel: true });
    await peer.cmd('c-2', 'identify', { seconds: 1 });
    calls = peer.fresh();
    assert.equal(peer.ackStates('c-2', calls), ['cancelled', 'cancelled']);
    assert.is(peer.of('identify', calls).length, 0);
    peer.assertHealthy();
  },
};
