// The model test's commands (fast-check's command model): each has a precondition on the model,
// does the real thing over MQTT or REST, checks the broker's answer against the model's
// prediction, applies the rule to the model, then verifies the whole system (check.ts).
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { agentTopic } from '../../protocol/topics';
import { subscribe } from '../helpers/mqtt';
import { verify } from './check';
import { type Kind, Model, matches } from './model';
import type { System } from './system';

export const DEVICES = 2;
export const AGENTS = 2;

type Cmd = fc.AsyncCommand<Model, System>;

/** Runs one step: the action, then every check. */
abstract class Step implements Cmd {
  abstract check(m: Readonly<Model>): boolean;
  abstract act(m: Model, s: System): Promise<void>;
  abstract toString(): string;
  async run(m: Model, s: System): Promise<void> {
    m.beginStep();
    s.step++;
    await this.act(m, s);
    await verify(m, s);
  }
}

function expectAnswer(r: any, ok: boolean, code: string | undefined, what: string): void {
  if (ok) assert.ok(r.ok, `${what}: expected ok, got ${JSON.stringify(r.error)}`);
  else {
    assert.not.ok(r.ok, `${what}: expected ${code}, got ok`);
    if (code) assert.is(r.error.code, code, `${what}: error code`);
  }
}

class Claim extends Step {
  constructor(readonly a: number, readonly d: number) { super(); }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const h = m.devices[this.d]!.holder;
    const r = await s.agents[this.a]!.request({ op: 'claim', target: s.devices[this.d]!.dev.id });
    expectAnswer(r, h === null || h === this.a, 'BOUND_TO_OTHER', this.toString());
    if (r.ok) m.rebind(this.d, this.a);
  }
  toString = (): string => `claim(agent ${this.a}, device ${this.d})`;
}

class Release extends Step {
  constructor(readonly a: number, readonly d: number) { super(); }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const mine = m.devices[this.d]!.holder === this.a;
    const r = await s.agents[this.a]!.request({ op: 'release', device: s.devices[this.d]!.dev.id });
    expectAnswer(r, mine, 'NOT_BOUND', this.toString());
    if (mine) m.rebind(this.d, null);
  }
  toString = (): string => `release(agent ${this.a}, device ${this.d})`;
}

class Transfer extends Step {
  constructor(readonly d: number, readonly to: number) { super(); }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    const r = await s.broker.api('POST', `/api/devices/${s.devices[this.d]!.dev.id}/transfer`, { agent: s.agents[this.to]!.id, reason: 'model' });
    assert.is(r.status, 200, `${this.toString()}: ${JSON.stringify(r.body)}`);
    m.rebind(this.d, this.to);
  }
  toString = (): string => `transfer(device ${this.d} to agent ${this.to})`;
}

const PARAMS: Record<Kind, Record<string, unknown>> = { identify: { seconds: 1 }, 'serial.send': { data: 'UFJJTlQ=', timeoutMs: 1000 } };

class Submit extends Step {
  constructor(readonly a: number, readonly d: number, readonly kind: Kind) { super(); }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const mine = m.devices[this.d]!.holder === this.a;
    const r = await s.agents[this.a]!.request({ op: 'submit', device: s.devices[this.d]!.dev.id, kind: this.kind, params: PARAMS[this.kind] });
    expectAnswer(r, mine, 'NOT_BOUND', this.toString());
    if (!r.ok) return;
    const job = m.submit(r.result.job as string, this.d, this.a, this.kind);
    // A device that just said hello may not be ready for jobs yet when the submit is answered
    // (its hello is handled in the queue's order): 'queued' then, and dispatched right after.
    const answered = job.state === 'dispatched' ? ['queued', 'dispatched'] : [job.state];
    assert.ok(answered.includes(r.result.state), `${this.toString()}: state ${r.result.state} in the answer, model says ${job.state}`);
  }
  toString = (): string => `submit(agent ${this.a}, device ${this.d}, ${this.kind})`;
}

/** Cancels the agent's n-th job (of all its jobs in this run, modulo their number). */
class Cancel extends Step {
  constructor(readonly a: number, readonly n: number) { super(); }
  private target(m: Readonly<Model>) {
    const own = [...m.jobs.values()].filter((j) => j.agent === this.a).sort((x, y) => x.seq - y.seq);
    return own.length === 0 ? undefined : own[this.n % own.length];
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected && this.target(m) !== undefined;
  async act(m: Model, s: System): Promise<void> {
    const job = this.target(m)!;
    const r = await s.agents[this.a]!.request({ op: 'cancel', job: job.id });
    const want = m.cancel(job);
    expectAnswer(r, want.ok, want.code, `${this.toString()} of job ${job.seq}`);
  }
  toString = (): string => `cancel(agent ${this.a}, its job #${this.n})`;
}

/** The device acknowledges its active job: accepted, done or failed. */
class DeviceAck extends Step {
  constructor(readonly d: number, readonly state: 'accepted' | 'done' | 'failed') { super(); }
  check = (m: Readonly<Model>): boolean => {
    const job = m.active(this.d);
    return job !== undefined && (this.state !== 'accepted' || job.state === 'dispatched');
  };
  async act(m: Model, s: System): Promise<void> {
    const job = m.finish(this.d, this.state === 'accepted' ? 'running' : this.state);
    await s.devices[this.d]!.ack(job.id, this.state);
  }
  toString = (): string => `device ${this.d} acks ${this.state}`;
}

class DeviceDrop extends Step {
  constructor(readonly d: number, readonly clean: boolean) { super(); }
  check = (m: Readonly<Model>): boolean => m.devices[this.d]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const dev = s.devices[this.d]!;
    if (this.clean) await dev.close();
    else await dev.drop();
    if (!this.clean) m.faults++;
    await s.deviceGone(dev.dev.id);
    m.deviceGone(this.d);
  }
  toString = (): string => `device ${this.d} ${this.clean ? 'disconnects' : 'connection dropped at the proxy'}`;
}

class DeviceBack extends Step {
  constructor(readonly d: number) { super(); }
  check = (m: Readonly<Model>): boolean => !m.devices[this.d]!.connected;
  async act(m: Model, s: System): Promise<void> {
    await s.devices[this.d]!.connect();
    m.deviceBack(this.d);
  }
  toString = (): string => `device ${this.d} reconnects`;
}

class AgentDrop extends Step {
  constructor(readonly a: number, readonly clean: boolean) { super(); }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    if (this.clean) await s.agents[this.a]!.close();
    else await s.agents[this.a]!.drop();
    if (!this.clean) m.faults++;
    m.agents[this.a]!.connected = false;
    m.agents[this.a]!.subs.clear();
  }
  toString = (): string => `agent ${this.a} ${this.clean ? 'disconnects' : 'connection dropped at the proxy'}`;
}

class AgentBack extends Step {
  constructor(readonly a: number) { super(); }
  check = (m: Readonly<Model>): boolean => !m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const agent = s.agents[this.a]!;
    await agent.connect();
    m.agents[this.a]!.connected = true;
    for (const t of ['res', 'bindings'] as const) m.agents[this.a]!.subs.add(agentTopic(agent.id, t));
  }
  toString = (): string => `agent ${this.a} reconnects`;
}

/**
 * Every filter shape an agent may use on a device (docs/architecture.md, ACL rules) and on its
 * own tree, and shapes it may never use. `<d>` and `<a>` are filled in.
 */
export const SHAPES: { filter: string; allowed: 'bound' | 'always' | 'never' }[] = [
  { filter: 'fb/v1/d/<d>/status', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/jobs', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/+', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/#', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/evt/+', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/evt/#', allowed: 'bound' },
  { filter: 'fb/v1/d/<d>/evt/mark', allowed: 'bound' },
  { filter: 'fb/v1/a/<a>/+', allowed: 'always' },
  { filter: 'fb/v1/a/<a>/#', allowed: 'always' },
  { filter: 'fb/v1/d/+/evt/mark', allowed: 'never' },
  { filter: 'fb/v1/d/<d>/cmd', allowed: 'never' },
  { filter: 'fb/v1/#', allowed: 'never' },
  { filter: 'fb/v1/a/<other>/res', allowed: 'never' },
];

class Subscribe extends Step {
  constructor(readonly a: number, readonly d: number, readonly shape: number) { super(); }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const { filter: f, allowed } = SHAPES[this.shape]!;
    const filter = f.replace('<d>', s.devices[this.d]!.dev.id).replace('<a>', s.agents[this.a]!.id).replace('<other>', s.agents[(this.a + 1) % AGENTS]!.id);
    const ok = allowed === 'always' || (allowed === 'bound' && m.devices[this.d]!.holder === this.a);
    const granted = await subscribe(s.agents[this.a]!.client!, filter);
    assert.equal(granted, [ok ? 0 : 128], `${this.toString()} = ${filter}`);
    if (ok) m.agents[this.a]!.subs.add(filter);
  }
  toString = (): string => `agent ${this.a} subscribes ${SHAPES[this.shape]!.filter} for device ${this.d}`;
}

/** A device publishes on a stream; a connected holder subscribed to it receives it (others: check.ts). */
class DevicePublish extends Step {
  constructor(readonly d: number, readonly stream: string) { super(); }
  check = (m: Readonly<Model>): boolean => m.devices[this.d]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const nonce = `n${m.steps}-${Math.random().toString(36).slice(2)}`;
    const dev = s.devices[this.d]!;
    await dev.evt(this.stream, { nonce });
    const topic = `fb/v1/d/${dev.dev.id}/evt/${this.stream}`;
    const holder = m.devices[this.d]!.holder;
    if (holder !== null && m.agents[holder]!.connected && [...m.agents[holder]!.subs].some((f) => matches(f, topic))) await s.agentGets(s.agents[holder]!, topic, nonce);
  }
  toString = (): string => `device ${this.d} publishes evt/${this.stream}`;
}

class ProxyDelay extends Step {
  constructor(readonly ms: number) { super(); }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    s.proxy.setDelay(this.ms);
    if (this.ms > 0) m.faults++;
  }
  toString = (): string => `proxy delays every byte by ${this.ms} ms`;
}

/** SIGKILL and restart: every connection drops, running jobs follow the interrupted rule, then everyone that was connected comes back. */
class Restart extends Step {
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    m.faults++;
    await s.restart();
    const wasConnected = m.devices.map((d) => d.connected);
    for (let d = 0; d < DEVICES; d++) if (wasConnected[d]) m.deviceGone(d);
    for (const a of m.agents) a.subs.clear();
    for (const [i, a] of s.agents.entries()) {
      if (!m.agents[i]!.connected) continue;
      await a.connect();
      for (const t of ['res', 'bindings'] as const) m.agents[i]!.subs.add(agentTopic(a.id, t));
    }
    for (const [d, dev] of s.devices.entries()) {
      if (!wasConnected[d]) continue;
      await dev.connect();
      m.deviceBack(d);
    }
  }
  toString = (): string => 'SIGKILL the broker and start it again';
}


const agent = fc.integer({ min: 0, max: AGENTS - 1 });
const device = fc.integer({ min: 0, max: DEVICES - 1 });

/** Weighted so that a run of a few steps usually claims, submits and runs jobs; restarts are rare (they cost seconds). */
export function commandArbitrary(restartWeight: number): fc.Arbitrary<Cmd> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.tuple(agent, device).map(([a, d]) => new Claim(a, d)) },
    { weight: 10, arbitrary: fc.tuple(agent, device).map(([a, d]) => new Release(a, d)) },
    { weight: 10, arbitrary: fc.tuple(device, agent).map(([d, a]) => new Transfer(d, a)) },
    { weight: 30, arbitrary: fc.tuple(agent, device, fc.constantFrom<Kind>('identify', 'serial.send')).map(([a, d, k]) => new Submit(a, d, k)) },
    { weight: 10, arbitrary: fc.tuple(agent, fc.nat(7)).map(([a, n]) => new Cancel(a, n)) },
    { weight: 25, arbitrary: fc.tuple(device, fc.constantFrom('accepted' as const, 'done' as const, 'failed' as const)).map(([d, st]) => new DeviceAck(d, st)) },
    { weight: 10, arbitrary: fc.tuple(device, fc.boolean()).map(([d, c]) => new DeviceDrop(d, c)) },
    { weight: 10, arbitrary: device.map((d) => new DeviceBack(d)) },
    { weight: 5, arbitrary: fc.tuple(agent, fc.boolean()).map(([a, c]) => new AgentDrop(a, c)) },
    { weight: 5, arbitrary: agent.map((a) => new AgentBack(a)) },
    { weight: 25, arbitrary: fc.tuple(agent, device, fc.nat(SHAPES.length - 1)).map(([a, d, sh]) => new Subscribe(a, d, sh)) },
    { weight: 15, arbitrary: fc.tuple(device, fc.constantFrom('telemetry', 'data')).map(([d, st]) => new DevicePublish(d, st)) },
    { weight: 5, arbitrary: fc.constantFrom(0, 40).map((ms) => new ProxyDelay(ms)) },
    ...(restartWeight > 0 ? [{ weight: restartWeight, arbitrary: fc.constant(new Restart()) }] : []),
  );
}

