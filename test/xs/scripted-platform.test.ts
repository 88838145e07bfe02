// The scripted platform stands in for the radio, the socket, the screen and the UART, so it
// gets tests of its own: it must keep time like a clock and refuse what hardware refuses.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScriptedPlatform, fromHex, toHex } from './harness/scripted-platform';
import { bootEvent, T0 } from './harness/peer';
import type { PlatformCall } from './harness/wire';

function make(over = {}): { p: ScriptedPlatform; calls: PlatformCall[] } {
  const calls: PlatformCall[] = [];
  return { p: new ScriptedPlatform((c) => calls.push(c), { ...bootEvent(), ...over }), calls };
}
const violations = (calls: PlatformCall[]): string[] => calls.flatMap((c) => (c.op === 'violation' ? [c.message] : []));
const handlers = (log: string[]) => ({
  onReady: () => log.push('ready'),
  onMessage: (t: string, m: string) => log.push(`${t}:${m}`),
  onClose: () => log.push('close'),
});
const options = { host: 'h', port: 1, secure: false, clientId: 'c', username: 'u', password: 'p', keepalive: 30 };

const clock = suite('scripted platform: clock');

clock('timers fire in due order, ties in creation order, with now() at each due time', () => {
  const { p } = make();
  const fired: string[] = [];
  p.setTimer(300, () => fired.push(`c@${p.now() - T0}`));
  p.setTimer(100, () => fired.push(`a@${p.now() - T0}`));
  p.setTimer(100, () => fired.push(`b@${p.now() - T0}`));
  const gone = p.setTimer(200, () => fired.push('cleared'));
  p.clearTimer(gone);
  p.advance(250);
  assert.equal(fired, ['a@100', 'b@100']);
  assert.is(p.now(), T0 + 250);
  p.advance(50);
  assert.equal(fired, ['a@100', 'b@100', 'c@300']);
  assert.is(p.pendingTimers, 0);
});

clock('setting the wall clock moves now() but neither ticks() nor timers', () => {
  const { p } = make({ startAt: 0 });
  const fired: number[] = [];
  p.setTimer(1_000, () => fired.push(p.ticks()));
  p.advance(400);
  p.setClock(T0);
  assert.equal([p.now(), p.ticks()], [T0, 400]);
  p.advance(600);
  assert.equal(fired, [1_000]);
  assert.is(p.now(), T0 + 600);
});

clock('a timer set from a timer fires in the same advance when due', () => {
  const { p } = make();
  const fired: number[] = [];
  p.setTimer(10, () => p.setTimer(10, () => fired.push(p.now() - T0)));
  p.advance(20);
  assert.equal(fired, [20]);
});

clock('random() is seeded: the same seed gives the same sequence on every run', () => {
  const a = make({ seed: 9 }).p;
  const b = make({ seed: 9 }).p;
  const c = make({ seed: 10 }).p;
  const seq = (p: ScriptedPlatform) => Array.from({ length: 50 }, () => p.random());
  const sa = seq(a);
  assert.equal(sa, seq(b));
  assert.not.equal(sa, seq(c));
  assert.ok(sa.every((x) => x >= 0 && x < 1));
});

const contract = suite('scripted platform: contract');

contract('MQTT refuses publish before CONNACK, a second connect, and delivers nothing after close()', () => {
  const { p, calls } = make();
  const log: string[] = [];
  p.mqtt.publish('t', 'x');
  p.mqtt.connect(options, handlers(log));
  p.mqtt.subscribe('t');
  p.mqtt.connect(options, handlers(log));
  assert.equal(violations(calls), [
    'mqtt.publish on t with no open connection',
    'mqtt.subscribe to t with no open connection',
    'mqtt.connect while a connection is connecting; close it first',
  ]);
  p.mqttReady();
  p.mqttMessage('t', 'hi');
  p.mqtt.close();
  assert.equal(log, ['ready', 't:hi']);
  assert.throws(() => p.mqttMessage('t', 'late'), /message while the connection is idle/);
  assert.throws(() => p.mqttClose({}), /close with no connection/);
});

contract('MQTT refuses a connect without keepalive', () => {
  const { p, calls } = make();
  p.mqtt.connect({ ...options, keepalive: 0 }, handlers([]));
  assert.equal(violations(calls), ['mqtt.connect without keepalive']);
});

contract('Wi-Fi refuses a second connect without disconnect, and events need a connect in progress', () => {
  const { p, calls } = make();
  const seen: string[] = [];
  assert.throws(() => p.wifiEvent('gotip'), /no connect\(\) in progress/);
  p.wifi.connect('lab', 'pw', (s) => seen.push(s));
  p.wifi.connect('lab', 'pw', (s) => seen.push(s));
  p.wifiEvent('gotip');
  p.wifi.disconnect();
  assert.throws(() => p.wifiEvent('disconnected'), /no connect\(\) in progress/);
  assert.equal(seen, ['gotip']);
  assert.equal(violations(calls), ['wifi.connect while a connection attempt is active; disconnect first']);
});

contract('serial: one exchange at a time, replies only while one is in flight, abort drops it', () => {
  const { p, calls } = make({ serial: true });
  const results: string[] = [];
  const x = p.serial!.send({ data: new Uint8Array([1, 2]), timeoutMs: 10 }, (r) => results.push(r.ok ? toHex(r.data) : r.error));
  p.serialReply({ ok: true, data: fromHex('0a0b') });
  assert.equal(results, ['0a0b']);
  assert.throws(() => p.serialReply({ ok: false, error: 'x' }), /no exchange in flight/);
  p.serial!.send({ data: new Uint8Array([3]), timeoutMs: 10 }, () => results.push('late'));
  p.serial!.send({ data: new Uint8Array([4]), timeoutMs: 10 }, () => results.push('second'))!.abort();
  assert.throws(() => p.serialReply({ ok: true, data: new Uint8Array() }), /no exchange in flight/);
  assert.equal(violations(calls), ['serial.send while an exchange is in flight']);
  assert.ok(x !== undefined);
  assert.is(make().p.serial, undefined, 'a board without UART has no serial');
});

contract('hex helpers round-trip and refuse odd input', () => {
  assert.equal(fromHex(toHex(new Uint8Array([0, 15, 16, 255]))), new Uint8Array([0, 15, 16, 255]));
  assert.throws(() => fromHex('abc'), /pairs/);
  assert.throws(() => fromHex('AB'), /lower-case/);
});

clock.run();
contract.run();
