// The real side of the model test: one broker process (`npm start`) on a SQLite data dir, a
// fault-injecting proxy in front of its MQTT port that every device and agent goes through, an
// admin that watches device traffic directly, and the registry file read straight from disk.
// Each run gets fresh devices; the agents are made once and log in once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import type { Cmd } from '../../protocol/messages';
import { agentTopic, deviceTopic, eventTopic } from '../../protocol/topics';
import { connectAgent, connectDevice, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { FaultProxy } from '../helpers/fault-proxy';
import { type Received, connect, end, publish, subscribe } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

/** Limits lifted so the model's bursts are never RATE_LIMITED; resends far beyond a run. */
const FLAGS = ['--job-ack-timeout-ms', '600000', '--request-rate', '100000', '--request-burst', '100000', '--agent-request-rate', '100000', '--agent-request-burst', '100000'];
export const WAIT_MS = 15_000;

/** A message as a client received it, with the model step it arrived in. */
export interface Seen extends Received { step: number }

/** A device or agent connected through the proxy, recording what it receives. */
abstract class ProxiedClient {
  client: MqttClient | null = null;
  readonly seen: Seen[] = [];

  constructor(protected readonly sys: System) {}

  /** Cut at the proxy: no DISCONNECT, as a power cut or Wi-Fi loss. */
  async drop(): Promise<void> {
    const c = this.client!;
    this.client = null;
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    this.sys.proxy.drop((c.stream as unknown as { localPort: number }).localPort);
    await closed;
    c.end(true);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await end(c ?? undefined);
  }
}

export class RealDevice extends ProxiedClient {
  /** Jobs the broker sent to run (not cancels), in order. */
  readonly cmds: string[] = [];

  constructor(
    readonly dev: Dev,
    sys: System,
  ) {
    super(sys);
  }

  async connect(): Promise<void> {
    const { client } = await connectDevice(this.sys.proxy.url, this.dev);
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      this.seen.push({ topic, text, json: undefined, retain: packet.retain, step: this.sys.step });
      if (topic !== deviceTopic(this.dev.id, 'cmd')) return;
      const cmd = JSON.parse(text) as Cmd;
      // The firmware confirms every cancel it is sent; a job it does not run is simply not running.
      if (cmd.cancel) void this.ack(cmd.job, 'cancelled').catch(() => undefined);
      else if (!cmd.complete) this.cmds.push(cmd.job);
    });
  }

  ack(job: string, state: 'accepted' | 'done' | 'failed' | 'cancelled'): Promise<void> {
    return publish(this.client!, deviceTopic(this.dev.id, 'ack'), { job, state, ...(state === 'failed' ? { error: 'FAILED: model says so' } : {}) });
  }

  evt(stream: string, body: unknown): Promise<void> {
    return publish(this.client!, eventTopic(this.dev.id, stream), body);
  }

}

export class RealAgent extends ProxiedClient {
  constructor(
    readonly id: string,
    readonly token: string,
    sys: System,
  ) {
    super(sys);
  }

  async connect(): Promise<void> {
    const client = await connectAgent(this.sys.proxy.url, this.id, this.token);
    this.client = client;
    client.on('message', (topic, payload, packet) => this.seen.push({ topic, text: payload.toString('utf8'), json: undefined, retain: packet.retain, step: this.sys.step }));
  }

  request(body: Record<string, unknown>): Promise<any> {
    return request(this.client!, { kind: 'agent', id: this.id }, body, WAIT_MS);
  }

}

export class System {
  step = 0;
  devices: RealDevice[] = [];
  readonly agents: RealAgent[] = [];
  /** Every device event the admin watcher saw, by its payload's mark. */
  private readonly marks = new Set<string>();
  private watcher: MqttClient | null = null;
  private db: SQLite.Database | null = null;
  restarts = 0;

  private constructor(
    readonly dir: string,
    readonly adminToken: string,
    public broker: BrokerProcess,
    readonly proxy: FaultProxy,
  ) {}

  static async start(agents: number): Promise<System> {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbind-model-'));
    const adminToken = randomBytes(24).toString('hex');
    const broker = await BrokerProcess.start(dir, adminToken, FLAGS);
    const proxy = await FaultProxy.start(Number(new URL(broker.mqttUrl).port));
    const sys = new System(dir, adminToken, broker, proxy);
    await sys.watch();
    for (let i = 0; i < agents; i++) {
      const id = `model-agent-${i}`;
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const made = await broker.api('POST', '/api/agents', { id, name: `Model agent ${i}`, password, deviceLimit: 10_000 });
      if (made.status !== 201) throw new Error(`creating ${id}: ${made.status} ${JSON.stringify(made.body)}`);
      const login = await broker.api('POST', '/api/login', { id, password }, undefined);
      if (login.status !== 200) throw new Error(`login ${id}: ${login.status} ${JSON.stringify(login.body)}`);
      sys.agents.push(new RealAgent(id, login.body.token as string, sys));
    }
    return sys;
  }

  /** The admin watcher subscribes to every device's events, directly (not through the proxy). */
  private async watch(): Promise<void> {
    const c = await connect(this.broker.mqttUrl, { clientId: `admin:model:${randomBytes(3).toString('hex')}`, username: 'admin:model', password: this.adminToken });
    await subscribe(c, 'fb/v1/d/+/evt/mark');
    c.on('message', (_t, payload) => {
      const mark = (JSON.parse(payload.toString('utf8')) as { mark?: string }).mark;
      if (mark) this.marks.add(mark);
    });
    this.watcher = c;
  }

  /** The registry as the broker wrote it (WAL: this reader sees every committed transaction). */
  registry(): SQLite.Database {
    this.db ??= new SQLite(join(this.dir, 'fleetbind.db'), { readonly: true, fileMustExist: true });
    return this.db;
  }

  /** Fresh devices for a run, provisioned and connected through the proxy. */
  async newRun(devices: number): Promise<void> {
    this.step = 0;
    this.devices = [];
    for (let i = 0; i < devices; i++) {
      const mac = randomMac();
      const r = await this.broker.api('POST', '/api/devices', { mac, model: 'test-board' });
      if (r.status !== 201) throw new Error(`provisioning: ${r.status} ${JSON.stringify(r.body)}`);
      const d = new RealDevice({ id: r.body.id, secret: r.body.secret, mac }, this);
      await d.connect();
      this.devices.push(d);
    }
    for (const a of this.agents) {
      a.seen.length = 0;
      await a.connect();
    }
  }

  /** Closes the run's clients and removes its devices, so the next run starts from nothing. */
  async endRun(): Promise<void> {
    this.proxy.setDelay(0);
    for (const c of [...this.devices, ...this.agents]) await c.close();
    for (const d of this.devices) {
      const released = await this.broker.api('POST', `/api/devices/${d.dev.id}/release`, { reason: 'model run over', force: true });
      if (released.status !== 200) throw new Error(`releasing ${d.dev.id}: ${released.status} ${JSON.stringify(released.body)}`);
      const deleted = await this.broker.api('DELETE', `/api/devices/${d.dev.id}`);
      if (deleted.status !== 204) throw new Error(`deleting ${d.dev.id}: ${deleted.status} ${JSON.stringify(deleted.body)}`);
    }
  }

  /**
   * Ends the step's traffic: each connected device's earlier messages have been handled once its
   * marker reaches the watcher, and each connected agent has received everything forwarded to it
   * once its `list` round trip comes back. Returns each device's marker and each agent's list.
   */
  async barrier(): Promise<{ marks: Map<number, string>; lists: Map<number, string[]> }> {
    const marks = new Map<number, string>();
    for (const [i, d] of this.devices.entries()) {
      if (!d.client) continue;
      const mark = randomBytes(6).toString('hex');
      marks.set(i, mark);
      await d.evt('mark', { mark });
    }
    await waitUntil(() => [...marks.values()].every((m) => this.marks.has(m)), WAIT_MS, 'device markers at the admin watcher');
    const lists = new Map<number, string[]>();
    for (const [i, a] of this.agents.entries()) {
      if (!a.client) continue;
      const r = await a.request({ op: 'list' });
      if (!r.ok) throw new Error(`barrier list for ${a.id}: ${JSON.stringify(r.error)}`);
      lists.set(i, (r.result.devices as { id: string }[]).map((d) => d.id));
    }
    return { marks, lists };
  }

  /** SIGKILL, then the broker again on the same data dir; the proxy follows it to its new port. */
  async restart(): Promise<void> {
    this.db?.close();
    this.db = null;
    await this.broker.stop('SIGKILL');
    this.proxy.dropAll();
    await end(this.watcher ?? undefined);
    for (const c of [...this.devices, ...this.agents]) {
      if (c.client) await new Promise<void>((r) => (c.client!.connected ? c.client!.once('close', () => r()) : r()));
      await c.close();
    }
    this.broker = await BrokerProcess.start(this.dir, this.adminToken, FLAGS);
    this.proxy.retarget(Number(new URL(this.broker.mqttUrl).port));
    await this.watch();
    this.restarts++;
  }

  /** Waits until the broker no longer shows the device online: its drop has been handled. */
  async deviceGone(id: string): Promise<void> {
    await waitUntil(async () => {
      const r = await this.broker.api('GET', `/api/devices/${id}`);
      return r.status === 200 && r.body.presence.state !== 'online';
    }, WAIT_MS, `${id} not online`);
  }

  /** Waits for a message on the agent matching `topic` and carrying `needle`. */
  async agentGets(a: RealAgent, topic: string, needle: string): Promise<void> {
    await waitUntil(() => a.seen.some((m) => m.topic === topic && m.text.includes(needle)), WAIT_MS, `${a.id} to receive ${needle} on ${topic}`);
  }

  async stop(): Promise<void> {
    this.db?.close();
    for (const c of [...this.devices, ...this.agents]) await c.close();
    await end(this.watcher ?? undefined);
    await this.proxy.close();
    await this.broker.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const ownTopics = (agent: string): string[] => [agentTopic(agent, 'res'), agentTopic(agent, 'bindings')];
