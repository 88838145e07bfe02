// The test's side of the conversation: boots a scripted device, plays Wi-Fi and the MQTT
// broker, and reads back what the device did. Device output is parsed with protocol/'s own
// validators, so a scenario also checks that the device speaks the wire contract.
import * as assert from 'uvu/assert';
import { parseAck, type Ack } from '../../../protocol/messages';
import { deviceTopic } from '../../../protocol/topics';
import type { CoreDriver } from './drivers';
import type { BootEvent, CallOf, CallOp, HarnessEvent, PlatformCall, StatsReply } from './wire';

export const MAC = 'a4cf12b4c9e0';
export const DEVICE = `esp32-${MAC}`;
export const SECRET = 'k3y-5ecret-0123456789abcdef';
/** Virtual wall clock at boot. */
export const T0 = 1_700_000_000_000;

export function bootEvent(over: Partial<BootEvent> = {}): BootEvent {
  return {
    type: 'boot',
    prefs: { ssid: 'lab', psk: 'wifi-pass', broker: 'mqtt://broker.local:1884', insecure: '1', id: DEVICE, secret: SECRET },
    facts: { mac: 'A4:CF:12:B4:C9:E0', model: 'moddable_two', fw: '0.1.0', caps: ['qr.show', 'identify'], boot: 7 },
    seed: 42,
    startAt: T0,
    serial: false,
    ...over,
  };
}

export class Peer {
  private mark = 0;

  constructor(readonly d: CoreDriver) {}

  get engine(): string {
    return this.d.engine;
  }

  send(event: HarnessEvent): Promise<StatsReply | null> {
    return this.d.send(event);
  }

  async boot(over: Partial<BootEvent> = {}): Promise<void> {
    await this.send(bootEvent(over));
  }

  advance(ms: number): Promise<StatsReply | null> {
    return this.send({ type: 'advance', ms });
  }

  /** Wi-Fi comes up and the broker accepts the connection. */
  async online(): Promise<void> {
    await this.send({ type: 'wifi', status: 'gotip' });
    await this.send({ type: 'mqtt.ready' });
  }

  deliver(leaf: 'cmd' | 'config', body: unknown, device = DEVICE): Promise<StatsReply | null> {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    return this.send({ type: 'mqtt.message', topic: deviceTopic(device, leaf), payload });
  }

  cmd(job: string, kind: string, params: unknown, extra: Record<string, unknown> = {}): Promise<StatsReply | null> {
    return this.deliver('cmd', { job, kind, params, attempt: 1, deadline: 0, ...extra });
  }

  async stats(): Promise<StatsReply> {
    const r = await this.send({ type: 'stats' });
    if (r === null) throw new Error('stats returned nothing');
    return r;
  }

  /** Calls since the previous fresh(). */
  fresh(): PlatformCall[] {
    const out = this.d.calls.slice(this.mark);
    this.mark = this.d.calls.length;
    return out;
  }

  of<O extends CallOp>(op: O, calls: readonly PlatformCall[] = this.d.calls): CallOf<O>[] {
    return calls.filter((c): c is CallOf<O> => c.op === op);
  }

  published(leaf: 'ack' | 'hello' | 'status' | 'state', calls: readonly PlatformCall[] = this.d.calls, device = DEVICE): CallOf<'mqtt.publish'>[] {
    return this.of('mqtt.publish', calls).filter((c) => c.topic === deviceTopic(device, leaf));
  }

  acks(job?: string, calls: readonly PlatformCall[] = this.d.calls): Ack[] {
    const all = this.published('ack', calls).map((c) => parseAck(JSON.parse(c.payload)));
    return job === undefined ? all : all.filter((a) => a.job === job);
  }

  ackStates(job: string, calls: readonly PlatformCall[] = this.d.calls): string[] {
    return this.acks(job, calls).map((a) => a.state);
  }

  logs(level: 'debug' | 'info' | 'warn' | 'error', msg: string, calls: readonly PlatformCall[] = this.d.calls): CallOf<'log'>[] {
    return this.of('log', calls).filter((c) => c.level === level && c.msg === msg);
  }

  lastState(): string | undefined {
    return this.of('state').at(-1)?.state;
  }

  /** The core kept the Platform contract and nothing it ran threw. */
  assertHealthy(): void {
    const violations = this.of('violation').map((v) => v.message);
    assert.equal(violations, [], `Platform contract violations on ${this.engine}`);
    const thrown = this.of('log').filter((l) => l.level === 'error' && / threw/.test(l.msg));
    assert.equal(
      thrown.map((l) => `${l.msg}: ${JSON.stringify(l.fields)}`),
      [],
      `exceptions inside the core on ${this.engine}`,
    );
  }
}
