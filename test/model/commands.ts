// The model test's commands (fast-check's command model): each has a precondition on the model,
// does the real thing over MQTT or REST, checks the broker's answer against the model's
// prediction, applies the rule to the model, then verifies the whole system (check.ts).
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { agentTopic } from '../../protocol/topics';
import { subscribe } from '../helpers/mqtt';
import { verify } from './check';
import { type Kind, type Model, matches } from './model';
import type { Backend, System } from './system';

/** Owned devices (indexes 0 and 1), then the pool devices of the run's location. */
export const DEVICES = 2;
export const AGENTS = 2;
/**
 * One pool device runs only identify, the other only serial.send: which free device takes a job
 * is then never a coin toss (the broker shuffles free devices), and FIFO must let a job of the
 * other kind go ahead of one no free device runs.
 */
export const POOL_CAPS: readonly (readonly Kind[])[] = [['identify'], ['serial.send']];
export const ALL_DEVICES = DEVICES + POOL_CAPS.length;

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

export class Claim extends Step {
  constructor(
    readonly a: number,
    readonly d: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const { holder: h, pool } = m.devices[this.d]!;
    const r = await s.agents[this.a]!.request({ op: 'claim', target: s.devices[this.d]!.dev.id });
    // A pool device is never claimed for keeps, whoever leases it.
    expectAnswer(r, pool === null && (h === null || h === this.a), pool === null ? 'BOUND_TO_OTHER' : 'FORBIDDEN', this.toString());
    if (r.ok) m.rebind(this.d, this.a);
  }
  toString = (): string => `claim(agent ${this.a}, device ${this.d})`;
}

export class Release extends Step {
  constructor(
    readonly a: number,
    readonly d: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const mine = m.devices[this.d]!.holder === this.a;
    const pool = m.devices[this.d]!.pool !== null;
    const r = await s.agents[this.a]!.request({ op: 'release', device: s.devices[this.d]!.dev.id });
    // A lessee cannot release its pool device: the lease ends with its job.
    expectAnswer(r, mine && !pool, mine ? 'CONFLICT' : 'NOT_BOUND', this.toString());
    if (r.ok) m.release(this.a, this.d, r.id);
  }
  toString = (): string => `release(agent ${this.a}, device ${this.d})`;
}

export class Transfer extends Step {
  constructor(
    readonly d: number,
    readonly to: number,
  ) {
    super();
  }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    const r = await s.api('POST', `/api/devices/${s.devices[this.d]!.dev.id}/transfer`, { agent: s.agents[this.to]!.id, reason: 'model' });
    if (m.devices[this.d]!.pool !== null) {
      assert.is(r.body?.error?.code, 'CONFLICT', `${this.toString()}: a pool device is not transferred (${r.status} ${JSON.stringify(r.body)})`);
      return;
    }
    assert.is(r.status, 200, `${this.toString()}: ${JSON.stringify(r.body)}`);
    m.rebind(this.d, this.to);
  }
  toString = (): string => `transfer(device ${this.d} to agent ${this.to})`;
}

const PARAMS: Record<Kind, Record<string, unknown>> = { identify: { seconds: 1 }, 'serial.send': { data: 'UFJJTlQ=', timeoutMs: 1000 } };

export class Submit extends Step {
  constructor(
    readonly a: number,
    readonly d: number,
    readonly kind: Kind,
  ) {
    super();
  }
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

/** A submit to the run's pool: leased at once to a free capable device if nobody waits, else queued. */
export class PoolSubmit extends Step {
  constructor(
    readonly a: number,
    readonly kind: Kind,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const place = m.poolPlace(this.kind);
    const r = await s.agents[this.a]!.request({ op: 'submit', pool: s.location, kind: this.kind, params: PARAMS[this.kind] });
    expectAnswer(r, place !== 'refused', 'NO_DEVICE_AVAILABLE', this.toString());
    if (!r.ok || place === 'refused') return;
    const want = place === null ? null : s.devices[place]!.dev.id;
    assert.is(r.result.device, want, `${this.toString()}: leased to ${r.result.device}, model says ${want ?? 'the pool queue'}`);
    const job = m.poolSubmit(r.result.job as string, this.a, this.kind, place);
    const answered = job.state === 'dispatched' ? ['queued', 'dispatched'] : [job.state];
    assert.ok(answered.includes(r.result.state), `${this.toString()}: state ${r.result.state} in the answer, model says ${job.state}`);
  }
  toString = (): string => `poolSubmit(agent ${this.a}, ${this.kind})`;
}

/** Cancels the agent's n-th job (of all its jobs in this run, modulo their number). */
export class Cancel extends Step {
  constructor(
    readonly a: number,
    readonly n: number,
  ) {
    super();
  }
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
export class DeviceAck extends Step {
  constructor(
    readonly d: number,
    readonly state: 'accepted' | 'done' | 'failed',
  ) {
    super();
  }
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

export class DeviceDrop extends Step {
  constructor(
    readonly d: number,
    readonly clean: boolean,
  ) {
    super();
  }
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

export class DeviceBack extends Step {
  constructor(readonly d: number) {
    super();
  }
  check = (m: Readonly<Model>): boolean => !m.devices[this.d]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const dev = s.devices[this.d]!;
    // In a cluster it comes back through the other node, as behind a load balancer it may.
    dev.node = (dev.node + 1) % s.nodes.length;
    await dev.connect();
    m.deviceBack(this.d);
  }
  toString = (): string => `device ${this.d} reconnects (to the other node of a cluster)`;
}

export class AgentDrop extends Step {
  constructor(
    readonly a: number,
    readonly clean: boolean,
  ) {
    super();
  }
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

export class AgentBack extends Step {
  constructor(readonly a: number) {
    super();
  }
  check = (m: Readonly<Model>): boolean => !m.agents[this.a]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const agent = s.agents[this.a]!;
    agent.node = (agent.node + 1) % s.nodes.length;
    await agent.connect();
    m.agents[this.a]!.connected = true;
    for (const t of ['res', 'bindings'] as const) m.agents[this.a]!.subs.add(agentTopic(agent.id, t));
  }
  toString = (): string => `agent ${this.a} reconnects (to the other node of a cluster)`;
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

/**
 * With `own`, the device is one the agent holds when it holds any (the d-th of them): a leak
 * needs a subscription that a later binding change should cut off, and drawing the device blindly
 * makes that rare.
 */
export class Subscribe extends Step {
  constructor(
    readonly a: number,
    readonly d: number,
    readonly shape: number,
    readonly own = false,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  private device(m: Readonly<Model>): number {
    const held = m.devices.flatMap((dev, i) => (dev.holder === this.a ? [i] : []));
    return this.own && held.length > 0 ? held[this.d % held.length]! : this.d;
  }
  async act(m: Model, s: System): Promise<void> {
    const { filter: f, allowed } = SHAPES[this.shape]!;
    const d = this.device(m);
    const filter = f
      .replace('<d>', s.devices[d]!.dev.id)
      .replace('<a>', s.agents[this.a]!.id)
      .replace('<other>', s.agents[(this.a + 1) % AGENTS]!.id);
    const ok = allowed === 'always' || (allowed === 'bound' && m.devices[d]!.holder === this.a);
    const granted = await subscribe(s.agents[this.a]!.client!, filter);
    assert.equal(granted, [ok ? 0 : 128], `${this.toString()} = ${filter}`);
    if (ok) m.agents[this.a]!.subs.add(filter);
  }
  toString = (): string => `agent ${this.a} subscribes ${SHAPES[this.shape]!.filter} for ${this.own ? `its held device #${this.d}` : `device ${this.d}`}`;
}

/** The shapes an agent may use on a device it holds: each matches some of its topics, retained ones among them. */
const DEVICE_SHAPES = SHAPES.filter((sh) => sh.allowed === 'bound');

/**
 * The agent subscribes to a device (the d-th it holds, when it holds any) and releases it in the
 * same TCP write. The subscription is authorised while the agent still holds the device, and the
 * release lands while the device's retained messages are on their way: each must be checked
 * again as it is delivered (docs/architecture.md, ACL rules), so none may follow the release's
 * answer (check.ts).
 */
export class SubscribeRelease extends Step {
  constructor(
    readonly a: number,
    readonly d: number,
    readonly shape: number,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.agents[this.a]!.connected;
  private device(m: Readonly<Model>): number {
    // An owned one: a lessee's release of its pool device is refused, and cuts nothing off.
    const held = m.devices.flatMap((dev, i) => (dev.holder === this.a && dev.pool === null ? [i] : []));
    return held.length > 0 ? held[this.d % held.length]! : this.d;
  }
  async act(m: Model, s: System): Promise<void> {
    const d = this.device(m);
    const id = s.devices[d]!.dev.id;
    const filter = DEVICE_SHAPES[this.shape]!.filter.replace('<d>', id);
    const mine = m.devices[d]!.holder === this.a;
    const { granted, answer } = await s.agents[this.a]!.subscribeWith(filter, { op: 'release', device: id });
    assert.equal(granted, [mine ? 0 : 128], `${this.toString()} = ${filter}`);
    expectAnswer(answer, mine, 'NOT_BOUND', this.toString());
    if (!mine) return;
    m.agents[this.a]!.subs.add(filter);
    m.release(this.a, d, answer.id);
  }
  toString = (): string => `agent ${this.a} subscribes ${DEVICE_SHAPES[this.shape]!.filter} for its held device #${this.d} and releases it in the same write`;
}

/** A device publishes on a stream; a connected holder subscribed to it receives it (others: check.ts). */
export class DevicePublish extends Step {
  constructor(
    readonly d: number,
    readonly stream: string,
  ) {
    super();
  }
  check = (m: Readonly<Model>): boolean => m.devices[this.d]!.connected;
  async act(m: Model, s: System): Promise<void> {
    const nonce = `n${m.steps}-${Math.random().toString(36).slice(2)}`;
    const dev = s.devices[this.d]!;
    await dev.evt(this.stream, { nonce });
    const topic = `fb/v1/d/${dev.dev.id}/evt/${this.stream}`;
    const holder = m.devices[this.d]!.holder;
    if (holder !== null && m.agents[holder]!.connected && [...m.agents[holder]!.subs].some((f) => matches(f, topic)))
      await s.agentGets(s.agents[holder]!, topic, nonce);
  }
  toString = (): string => `device ${this.d} publishes evt/${this.stream}`;
}

export class ProxyDelay extends Step {
  constructor(readonly ms: number) {
    super();
  }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    for (const n of s.nodes) n.proxy.setDelay(this.ms);
    if (this.ms > 0) m.faults++;
  }
  toString = (): string => `proxy delays every byte by ${this.ms} ms`;
}

/**
 * SIGKILL a node and start it again: its connections drop, running jobs on its devices follow the
 * interrupted rule, then everyone that was connected to it comes back, to the restarted node or
 * (`moveOver`, in a cluster) to the other one.
 */
export class Restart extends Step {
  constructor(
    readonly node = 0,
    readonly moveOver = false,
  ) {
    super();
  }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    m.faults++;
    const on = (c: { node: number }): boolean => c.node === this.node;
    const wasConnected = m.devices.map((d, i) => d.connected && on(s.devices[i]!));
    const agentsBack = m.agents.map((a, i) => a.connected && on(s.agents[i]!));
    await s.restart(this.node);
    for (const [d, was] of wasConnected.entries()) if (was) m.deviceGone(d);
    for (const [i, a] of m.agents.entries()) if (on(s.agents[i]!)) a.subs.clear();
    const to = this.moveOver ? (this.node + 1) % s.nodes.length : this.node;
    for (const [i, a] of s.agents.entries()) {
      if (!agentsBack[i]) continue;
      a.node = to;
      await a.connect();
      for (const t of ['res', 'bindings'] as const) m.agents[i]!.subs.add(agentTopic(a.id, t));
    }
    for (const [d, dev] of s.devices.entries()) {
      if (!wasConnected[d]) continue;
      dev.node = to;
      await dev.connect();
      m.deviceBack(d);
    }
  }
  toString = (): string =>
    this.node === 0 && !this.moveOver
      ? 'SIGKILL the broker and start it again'
      : `SIGKILL node ${this.node} and start it again; its clients come back ${this.moveOver ? 'to the other node' : 'to it'}`;
}

/** A change an agent or admin asks for while a backend is down. */
export type OutageOp = { op: 'claim' | 'release' | 'submit' | 'transfer'; a: number; d: number } | { op: 'cancel'; a: number; n: number };

/**
 * PostgreSQL or Redis is cut off from every node for a while. Meanwhile the change asked for is
 * refused with UNAVAILABLE naming the backend (docs/architecture.md, Backends), and changes
 * nothing; afterwards every node is healthy again and the checks show nothing answered before
 * was lost. An agent that is not connected asks through the REST API as an admin transfer.
 */
export class Outage extends Step {
  constructor(
    readonly backend: Backend,
    readonly op: OutageOp,
  ) {
    super();
  }
  check = (): boolean => true;
  async act(m: Model, s: System): Promise<void> {
    m.faults++;
    const op = this.op;
    const jobs = op.op === 'cancel' ? [...m.jobs.values()].filter((j) => j.agent === op.a).sort((x, y) => x.seq - y.seq) : [];
    const what = `${this.toString()}: `;
    const target = op.op === 'cancel' ? jobs[op.n % Math.max(1, jobs.length)] : undefined;
    const device = s.devices[op.op === 'cancel' ? 0 : op.d]!.dev.id;
    await s.outage(this.backend, async () => {
      const byAgent = op.op !== 'transfer' && m.agents[op.a]!.connected && (op.op !== 'cancel' || target !== undefined);
      if (!byAgent) {
        const r = await s.api('POST', `/api/devices/${device}/transfer`, { agent: s.agents[op.a]!.id, reason: 'model, during an outage' });
        assert.is(r.status, 503, `${what}REST transfer: ${JSON.stringify(r.body)}`);
        this.refused(r.body.error, what);
        return;
      }
      const body =
        op.op === 'claim'
          ? { op: 'claim', target: device }
          : op.op === 'release'
            ? { op: 'release', device }
            : op.op === 'submit'
              ? { op: 'submit', device, kind: 'identify', params: PARAMS.identify }
              : { op: 'cancel', job: target!.id };
      const r = await s.agents[op.a]!.request(body);
      assert.not.ok(r.ok, `${what}answered ok during the outage`);
      this.refused(r.error, what);
    });
  }
  private refused(error: { code: string; message: string }, what: string): void {
    assert.is(error.code, 'UNAVAILABLE', `${what}${JSON.stringify(error)}`);
    assert.ok(
      error.message.includes(`${this.backend} is unavailable`) && error.message.includes('Nothing was changed'),
      `${what}the refusal names ${this.backend}: ${error.message}`,
    );
  }
  toString = (): string => {
    const o = this.op;
    const asked =
      o.op === 'cancel'
        ? `agent ${o.a} cancels its job #${o.n}`
        : o.op === 'transfer'
          ? `device ${o.d} transferred to agent ${o.a}`
          : `agent ${o.a} asks ${o.op} of device ${o.d}`;
    return `${this.backend} outage; meanwhile ${asked}`;
  };
}

const agent = fc.integer({ min: 0, max: AGENTS - 1 });
const kind = fc.constantFrom<Kind>('identify', 'serial.send');
const device = fc.integer({ min: 0, max: DEVICES - 1 });
/** Owned and pool devices alike. */
const anyDevice = fc.integer({ min: 0, max: ALL_DEVICES - 1 });

/** How often the faults that cost seconds come up, against the other commands' weights (about 250 in all). */
export interface FaultWeights {
  /** SIGKILL and restart of a node. */
  restart: number;
  /** PostgreSQL and Redis outages (cluster mode only), each. */
  outage: number;
  /** Broker nodes: 1 (SQLite) or 2 (a cluster). */
  nodes: number;
}

const outageOp: fc.Arbitrary<OutageOp> = fc.oneof(
  fc.tuple(fc.constantFrom('claim' as const, 'release' as const, 'submit' as const, 'transfer' as const), agent, device).map(([op, a, d]) => ({ op, a, d })),
  fc.tuple(agent, fc.nat(7)).map(([a, n]) => ({ op: 'cancel' as const, a, n })),
);

/** Weighted so that a run of a few steps usually claims, submits and runs jobs; restarts and outages are rare (they cost seconds). */
export function commandArbitrary(f: FaultWeights): fc.Arbitrary<Cmd> {
  const node = fc.integer({ min: 0, max: f.nodes - 1 });
  return fc.oneof(
    { weight: 30, arbitrary: fc.tuple(agent, anyDevice).map(([a, d]) => new Claim(a, d)) },
    { weight: 10, arbitrary: fc.tuple(agent, anyDevice).map(([a, d]) => new Release(a, d)) },
    { weight: 15, arbitrary: fc.tuple(anyDevice, agent).map(([d, a]) => new Transfer(d, a)) },
    { weight: 30, arbitrary: fc.tuple(agent, device, kind).map(([a, d, k]) => new Submit(a, d, k)) },
    { weight: 30, arbitrary: fc.tuple(agent, kind).map(([a, k]) => new PoolSubmit(a, k)) },
    { weight: 10, arbitrary: fc.tuple(agent, fc.nat(7)).map(([a, n]) => new Cancel(a, n)) },
    {
      weight: 35,
      arbitrary: fc.tuple(anyDevice, fc.constantFrom('accepted' as const, 'done' as const, 'failed' as const)).map(([d, st]) => new DeviceAck(d, st)),
    },
    { weight: 10, arbitrary: fc.tuple(anyDevice, fc.boolean()).map(([d, c]) => new DeviceDrop(d, c)) },
    { weight: 10, arbitrary: anyDevice.map((d) => new DeviceBack(d)) },
    { weight: 5, arbitrary: fc.tuple(agent, fc.boolean()).map(([a, c]) => new AgentDrop(a, c)) },
    { weight: 5, arbitrary: agent.map((a) => new AgentBack(a)) },
    { weight: 25, arbitrary: fc.tuple(agent, anyDevice, fc.nat(SHAPES.length - 1), fc.boolean()).map(([a, d, sh, own]) => new Subscribe(a, d, sh, own)) },
    { weight: 10, arbitrary: fc.tuple(agent, device, fc.nat(DEVICE_SHAPES.length - 1)).map(([a, d, sh]) => new SubscribeRelease(a, d, sh)) },
    { weight: 15, arbitrary: fc.tuple(anyDevice, fc.constantFrom('telemetry', 'data')).map(([d, st]) => new DevicePublish(d, st)) },
    { weight: 5, arbitrary: fc.constantFrom(0, 40).map((ms) => new ProxyDelay(ms)) },
    ...(f.restart > 0
      ? [
          {
            weight: f.restart,
            arbitrary: (f.nodes > 1 ? fc.tuple(node, fc.boolean()) : fc.constant<[number, boolean]>([0, false])).map(([n, over]) => new Restart(n, over)),
          },
        ]
      : []),
    ...(f.outage > 0
      ? [
          { weight: f.outage, arbitrary: outageOp.map((op) => new Outage('postgres', op)) },
          { weight: f.outage, arbitrary: outageOp.map((op) => new Outage('redis', op)) },
        ]
      : []),
  );
}
