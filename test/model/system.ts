// The real side of the model test: broker processes (`npm start`) with a fault-injecting proxy in
// front of each one's MQTT port that every device and agent goes through, an admin per node that
// watches device traffic directly, and the registry read straight from its store. One node on a
// SQLite data dir, or (cluster mode) two nodes on PostgreSQL and Redis, each behind a proxy of its
// own too, so the test can cut and refuse every connection to one of them for a while.
// Each run gets fresh devices and a fresh location whose pool holds some of them; the agents are
// made once and log in once, and join each run's location.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import type { Cmd } from '../../protocol/messages';
import { FINAL_JOB_STATES } from '../../protocol/jobs';
import { agentTopic, deviceTopic, eventTopic } from '../../protocol/topics';
import type { Backends } from '../helpers/backends';
import { connectAgent, connectDevice, randomMac, request } from '../helpers/broker';
import { BrokerProcess } from '../helpers/broker-process';
import { FaultProxy } from '../helpers/fault-proxy';
import { type Received, connect, end, publish, subscribe } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';
import type { Dev } from '../scenarios/fleet';

/** Limits lifted so the model's bursts are never RATE_LIMITED; resends far beyond a run. */
const FLAGS = [
  '--job-ack-timeout-ms',
  '600000',
  '--request-rate',
  '100000',
  '--request-burst',
  '100000',
  '--agent-request-rate',
  '100000',
  '--agent-request-burst',
  '100000',
];
export const WAIT_MS = 15_000;
/** A restarted node, or one back on its backends, may take this long to say it is healthy. */
const RECOVERY_MS = 60_000;

/** A message as a client received it, with the model step it arrived in. */
export interface Seen extends Received {
  step: number;
}

/** A device or agent connected through a node's proxy, recording what it receives. */
abstract class ProxiedClient {
  client: MqttClient | null = null;
  readonly seen: Seen[] = [];
  /** The node it connects to (through that node's proxy). */
  node = 0;

  constructor(protected readonly sys: System) {}

  protected get url(): string {
    return this.sys.nodes[this.node]!.proxy.url;
  }

  /** Cut at the proxy: no DISCONNECT, as a power cut or Wi-Fi loss. */
  async drop(): Promise<void> {
    const c = this.client!;
    this.client = null;
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    this.sys.nodes[this.node]!.proxy.drop((c.stream as unknown as { localPort: number }).localPort);
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
    /** The kinds its hello announces (a pool device's), or the test device's default. */
    readonly caps?: readonly string[],
  ) {
    super(sys);
  }

  async connect(): Promise<void> {
    const attach = (client: MqttClient): void => {
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
    };
    await connectDevice(this.url, this.dev, { attach, ...(this.caps ? { caps: [...this.caps] } : {}) });
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
    await connectAgent(this.url, this.id, this.token, (client) => {
      this.client = client;
      client.on('message', (topic, payload, packet) =>
        this.seen.push({ topic, text: payload.toString('utf8'), json: undefined, retain: packet.retain, step: this.sys.step }),
      );
    });
  }

  request(body: Record<string, unknown>): Promise<any> {
    return request(this.client!, { kind: 'agent', id: this.id }, body, WAIT_MS);
  }

  /**
   * SUBSCRIBE and a request in one TCP write: the broker reads both at once, so it authorises the
   * subscription before it starts on the request, and the request's effect lands while the
   * subscription's retained messages are still being delivered.
   */
  async subscribeWith(filter: string, body: Record<string, unknown>): Promise<{ granted: number[]; answer: any }> {
    const stream = this.client!.stream;
    stream.cork();
    const granted = subscribe(this.client!, filter);
    const answer = this.request(body);
    stream.uncork();
    return { granted: await granted, answer: await answer };
  }
}

/** One broker process, the proxy its clients go through, and an admin watching its device events. */
export class ModelNode {
  /** Every device event this node's watcher saw, by its payload's mark. */
  readonly marks = new Set<string>();
  /** Barriers waiting for marks, each told as its last one arrives. */
  private readonly waiting = new Set<{ missing: Set<string>; done: () => void }>();
  private watcher: MqttClient | null = null;

  constructor(
    readonly dir: string,
    public broker: BrokerProcess,
    readonly proxy: FaultProxy,
  ) {}

  /** The watcher subscribes to every device's events, directly (not through the proxy). */
  async watch(adminToken: string): Promise<void> {
    const c = await connect(this.broker.mqttUrl, { clientId: `admin:model:${randomBytes(3).toString('hex')}`, username: 'admin:model', password: adminToken });
    await subscribe(c, 'fb/v1/d/+/evt/mark');
    c.on('message', (_t, payload) => {
      const mark = (JSON.parse(payload.toString('utf8')) as { mark?: string }).mark;
      if (!mark) return;
      this.marks.add(mark);
      for (const w of this.waiting) if (w.missing.delete(mark) && w.missing.size === 0) w.done();
    });
    this.watcher = c;
  }

  /** Resolves once the watcher has seen every one of `marks`; fails after WAIT_MS naming those still missing. */
  arrival(marks: string[]): Promise<void> {
    const missing = new Set(marks.filter((m) => !this.marks.has(m)));
    if (missing.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        missing,
        done: (): void => {
          clearTimeout(timer);
          this.waiting.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiting.delete(w);
        reject(new Error(`timed out after ${WAIT_MS} ms waiting for device markers ${[...missing].join(', ')} at ${this.broker.httpUrl}'s admin watcher`));
      }, WAIT_MS);
      this.waiting.add(w);
    });
  }

  async unwatch(): Promise<void> {
    await end(this.watcher ?? undefined);
    this.watcher = null;
  }
}

/** PostgreSQL and Redis of a cluster-mode system, each reached by the nodes through a fault proxy. */
export interface ClusterBackends {
  backends: Backends;
  postgres: FaultProxy;
  redis: FaultProxy;
}

export type Backend = 'postgres' | 'redis';

/**
 * What check.ts compares with the model: the run's devices' holders and jobs, jobs with more than
 * one final event, and its location's pool queue (in FIFO order) and open leases.
 */
export interface RegistryRows {
  devices: { id: string; agent_id: string | null; bound_via: string | null }[];
  jobs: { id: string; state: string; device: string }[];
  finals: { job: string; n: number }[];
  queue: { id: string; state: string }[];
  leases: { device: string; agent: string; job: string }[];
}

export interface BindingMapView {
  node: string | null;
  suspended: boolean;
  entries: { device: string; agent: string | null; version: number }[];
}

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(',');

export class System {
  step = 0;
  devices: RealDevice[] = [];
  /** The run's location, whose pool holds the devices after the owned ones. */
  location = '';
  private runs = 0;
  readonly agents: RealAgent[] = [];
  private sqlite: SQLite.Database | null = null;
  private pg: pg.Client | null = null;
  private turn = 0;
  restarts = 0;

  private constructor(
    readonly nodes: ModelNode[],
    readonly adminToken: string,
    readonly cluster: ClusterBackends | null,
  ) {}

  /** One node on SQLite, or with `cluster` two nodes on its PostgreSQL and Redis. */
  static async start(agents: number, cluster: ClusterBackends | null = null): Promise<System> {
    const adminToken = randomBytes(24).toString('hex');
    const sys = new System([], adminToken, cluster);
    for (let i = 0; i < (cluster ? 2 : 1); i++) {
      const dir = mkdtempSync(join(tmpdir(), 'fleetbind-model-'));
      const broker = await BrokerProcess.start(dir, adminToken, sys.flags());
      const node = new ModelNode(dir, broker, await FaultProxy.start(Number(new URL(broker.mqttUrl).port)));
      sys.nodes.push(node);
      await node.watch(adminToken);
    }
    for (let i = 0; i < agents; i++) {
      const id = `model-agent-${i}`;
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const made = await sys.api('POST', '/api/agents', { id, name: `Model agent ${i}`, password, deviceLimit: 10_000 });
      if (made.status !== 201) throw new Error(`creating ${id}: ${made.status} ${JSON.stringify(made.body)}`);
      const login = await sys.api('POST', '/api/login', { id, password }, undefined);
      if (login.status !== 200) throw new Error(`login ${id}: ${login.status} ${JSON.stringify(login.body)}`);
      sys.agents.push(new RealAgent(id, login.body.token as string, sys));
    }
    return sys;
  }

  private flags(): string[] {
    if (!this.cluster) return FLAGS;
    const { backends, postgres, redis } = this.cluster;
    const db = new URL(backends.databaseUrl);
    db.host = `127.0.0.1:${postgres.port}`;
    return [...FLAGS, '--database-url', db.toString(), '--redis-url', `redis://127.0.0.1:${redis.port}`, '--redis-prefix', backends.redisPrefix];
  }

  /** The REST API of the nodes in turn (all of them share the registry). */
  api(method: string, path: string, body?: unknown, token: string | undefined = this.adminToken): Promise<{ status: number; body: any }> {
    return this.nodes[this.turn++ % this.nodes.length]!.broker.api(method, path, body, token);
  }

  /**
   * The run's devices' rows and its location's pool rows as committed (SQLite in WAL, or
   * PostgreSQL read directly, not through its proxy).
   */
  async registry(ids: string[]): Promise<RegistryRows> {
    if (this.cluster) {
      if (!this.pg) {
        this.pg = new pg.Client({ connectionString: this.cluster.backends.databaseUrl });
        await this.pg.connect();
      }
      const q = async <T>(text: string, values: unknown[]): Promise<T[]> => (await this.pg!.query(text, values)).rows as T[];
      return {
        devices: await q('SELECT id, agent_id, bound_via FROM devices WHERE id = ANY($1)', [ids]),
        jobs: await q('SELECT id, state, device FROM jobs WHERE device = ANY($1)', [ids]),
        finals: (
          await q<{ job: string; n: string }>(
            'SELECT e.job AS job, count(*) AS n FROM job_events e JOIN jobs j ON j.id = e.job WHERE j.device = ANY($1) AND e.event = ANY($2) GROUP BY e.job HAVING count(*) > 1',
            [ids, FINAL_JOB_STATES],
          )
        ).map((r) => ({ job: r.job, n: Number(r.n) })),
        queue: await q('SELECT id, state FROM pool_queue WHERE location = $1 ORDER BY seq', [this.location]),
        leases: await q('SELECT device, agent, job FROM leases WHERE location = $1 AND ended_at IS NULL', [this.location]),
      };
    }
    this.sqlite ??= new SQLite(join(this.nodes[0]!.dir, 'fleetbind.db'), { readonly: true, fileMustExist: true });
    const db = this.sqlite;
    const ph = placeholders(ids.length);
    return {
      devices: db.prepare(`SELECT id, agent_id, bound_via FROM devices WHERE id IN (${ph})`).all(...ids) as RegistryRows['devices'],
      jobs: db.prepare(`SELECT id, state, device FROM jobs WHERE device IN (${ph})`).all(...ids) as RegistryRows['jobs'],
      finals: db
        .prepare(
          `SELECT e.job AS job, count(*) AS n FROM job_events e JOIN jobs j ON j.id = e.job WHERE j.device IN (${ph}) AND e.event IN (${placeholders(FINAL_JOB_STATES.length)}) GROUP BY e.job HAVING count(*) > 1`,
        )
        .all(...ids, ...FINAL_JOB_STATES) as RegistryRows['finals'],
      queue: db.prepare(`SELECT id, state FROM pool_queue WHERE location = ? ORDER BY seq`).all(this.location) as RegistryRows['queue'],
      leases: db.prepare(`SELECT device, agent, job FROM leases WHERE location = ? AND ended_at IS NULL`).all(this.location) as RegistryRows['leases'],
    };
  }

  /** Each node's in-memory binding map, as its ACL reads it. */
  async bindingMaps(): Promise<BindingMapView[]> {
    const out: BindingMapView[] = [];
    for (const n of this.nodes) {
      const r = await n.broker.api('GET', '/api/binding-map');
      if (r.status !== 200) throw new Error(`binding map of ${n.broker.httpUrl}: ${r.status} ${JSON.stringify(r.body)}`);
      out.push(r.body as BindingMapView);
    }
    return out;
  }

  /**
   * Fresh devices for a run, provisioned and connected through the proxies, spread over the nodes:
   * `owned` owned ones, then one pool device per entry of `poolCaps` in a new location that every
   * agent belongs to.
   */
  async newRun(owned: number, poolCaps: readonly (readonly string[])[]): Promise<void> {
    this.step = 0;
    this.devices = [];
    this.location = `model-${process.pid}-${++this.runs}`;
    await this.ok('POST', '/api/locations', { id: this.location, name: `Model run ${this.runs}` }, 201);
    for (const a of this.agents) await this.ok('PATCH', `/api/agents/${a.id}`, { locations: [this.location] });
    for (const [i, caps] of [...Array.from({ length: owned }, () => undefined), ...poolCaps].entries()) {
      const mac = randomMac();
      const body = await this.ok('POST', '/api/devices', { mac, model: 'test-board' }, 201);
      // Placed before its hello, so the hello's caps are what the pool runs.
      if (caps) await this.ok('PATCH', `/api/devices/${body.id}`, { location: this.location, mode: 'pool' });
      const d = new RealDevice({ id: body.id, secret: body.secret, mac }, this, caps);
      d.node = i % this.nodes.length;
      await d.connect();
      this.devices.push(d);
    }
    for (const [i, a] of this.agents.entries()) {
      a.seen.length = 0;
      // Agent i starts on another node than device i, so a run crosses nodes from its first claim.
      a.node = (i + 1) % this.nodes.length;
      await a.connect();
    }
  }

  private async ok(method: string, path: string, body: unknown, status = 200): Promise<any> {
    const r = await this.api(method, path, body);
    if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /**
   * Closes the run's clients, cancels what still waits in its pool queue and removes its devices,
   * so the next run starts from nothing and no sweep keeps draining an abandoned queue.
   */
  async endRun(): Promise<void> {
    for (const n of this.nodes) n.proxy.setDelay(0);
    if (this.cluster) {
      // A failed run may have stopped in an outage.
      this.cluster.postgres.outage(false);
      this.cluster.redis.outage(false);
      await this.healthy();
    }
    for (const c of [...this.devices, ...this.agents]) await c.close();
    const { queue } = await this.registry(this.devices.map((d) => d.dev.id));
    for (const { id } of queue.filter((e) => e.state === 'waiting')) await this.ok('POST', `/api/jobs/${id}/cancel`, {});
    for (const d of this.devices) {
      const released = await this.api('POST', `/api/devices/${d.dev.id}/release`, { reason: 'model run over', force: true });
      if (released.status !== 200) throw new Error(`releasing ${d.dev.id}: ${released.status} ${JSON.stringify(released.body)}`);
      const deleted = await this.api('DELETE', `/api/devices/${d.dev.id}`);
      if (deleted.status !== 204) throw new Error(`deleting ${d.dev.id}: ${deleted.status} ${JSON.stringify(deleted.body)}`);
    }
  }

  /**
   * Ends the step's traffic: each connected device's earlier messages have been handled, and
   * forwarded to every node, once its marker reaches every node's watcher; each connected agent
   * has received everything forwarded to it once its `list` round trip comes back. Returns each
   * device's marker and each agent's list (a leased device's id followed by "(lease)").
   */
  async barrier(): Promise<{ marks: Map<number, string>; lists: Map<number, string[]> }> {
    const marks = new Map<number, string>();
    for (const [i, d] of this.devices.entries()) if (d.client) marks.set(i, randomBytes(6).toString('hex'));
    // Awaited at every watcher before a marker is sent, so none can arrive unheard.
    const arrived = Promise.all(this.nodes.map((n) => n.arrival([...marks.values()])));
    await Promise.all([...marks].map(([i, mark]) => this.devices[i]!.evt('mark', { mark })));
    await arrived;
    const lists = new Map<number, string[]>();
    await Promise.all(
      this.agents.map(async (a, i) => {
        if (!a.client) return;
        const r = await a.request({ op: 'list' });
        if (!r.ok) throw new Error(`barrier list for ${a.id}: ${JSON.stringify(r.error)}`);
        lists.set(
          i,
          (r.result.devices as { id: string; lease?: unknown }[]).map((d) => (d.lease ? `${d.id} (lease)` : d.id)),
        );
      }),
    );
    return { marks, lists };
  }

  /**
   * SIGKILL node k, then start it again on the same data dir; its proxy follows it to its new
   * port. Its clients' connections are cut; they are closed here, for the caller to reconnect.
   */
  async restart(k = 0): Promise<void> {
    const node = this.nodes[k]!;
    this.sqlite?.close();
    this.sqlite = null;
    await node.broker.stop('SIGKILL');
    node.proxy.dropAll();
    await node.unwatch();
    for (const c of [...this.devices, ...this.agents]) {
      if (c.node !== k) continue;
      if (c.client) await new Promise<void>((r) => (c.client!.connected ? c.client!.once('close', () => r()) : r()));
      await c.close();
    }
    node.broker = await BrokerProcess.start(node.dir, this.adminToken, this.flags());
    node.proxy.retarget(Number(new URL(node.broker.mqttUrl).port));
    await node.watch(this.adminToken);
    this.restarts++;
  }

  /**
   * An outage of PostgreSQL or Redis: every node's connections to it cut and new ones refused
   * until `during` is done and every node has said so on /healthz; then it is back, and this
   * returns once every node is healthy again (Redis: with its binding map reloaded).
   */
  async outage(backend: Backend, during: () => Promise<void>): Promise<void> {
    const proxy = this.cluster![backend];
    proxy.outage(true);
    try {
      for (const n of this.nodes) {
        await waitUntil(
          async () => {
            const h = await n.broker.api('GET', '/healthz');
            return h.status === 503 && typeof h.body.checks?.[backend] === 'string' && h.body.checks[backend].startsWith('down since');
          },
          WAIT_MS,
          `${n.broker.httpUrl} to report ${backend} down`,
        );
      }
      await during();
    } finally {
      proxy.outage(false);
    }
    await this.healthy();
  }

  /** For a failure report: every node whose process has ended, and the end of what it wrote. */
  deadNodes(): string[] {
    return this.nodes.flatMap((n, k) => {
      const c = n.broker.child;
      if (c.exitCode === null && c.signalCode === null) return [];
      return [`node ${k} ended (${c.exitCode ?? c.signalCode}):\n${n.broker.stderr.slice(-3000)}${n.broker.stdout.slice(-3000)}`];
    });
  }

  /** Waits until every node answers /healthz with 200. */
  async healthy(): Promise<void> {
    for (const n of this.nodes) {
      await waitUntil(async () => (await n.broker.api('GET', '/healthz')).status === 200, RECOVERY_MS, `${n.broker.httpUrl} to be healthy`);
    }
  }

  /** Waits until the broker no longer shows the device online: its drop has been handled. */
  async deviceGone(id: string): Promise<void> {
    await waitUntil(
      async () => {
        const r = await this.api('GET', `/api/devices/${id}`);
        return r.status === 200 && r.body.presence.state !== 'online';
      },
      WAIT_MS,
      `${id} not online`,
    );
  }

  /** Waits for a message on the agent matching `topic` and carrying `needle`. */
  async agentGets(a: RealAgent, topic: string, needle: string): Promise<void> {
    await waitUntil(() => a.seen.some((m) => m.topic === topic && m.text.includes(needle)), WAIT_MS, `${a.id} to receive ${needle} on ${topic}`);
  }

  async stop(): Promise<void> {
    this.sqlite?.close();
    await this.pg?.end();
    for (const c of [...this.devices, ...this.agents]) await c.close();
    for (const n of this.nodes) {
      await n.unwatch();
      await n.proxy.close();
      await n.broker.kill();
      rmSync(n.dir, { recursive: true, force: true });
    }
  }
}

export const ownTopics = (agent: string): string[] => [agentTopic(agent, 'res'), agentTopic(agent, 'bindings')];
