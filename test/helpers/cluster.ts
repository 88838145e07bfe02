// A cluster under test: N broker nodes in this process on one PostgreSQL database and one Redis
// namespace. It implements Fleet, so the single-node scenarios run on it unchanged; `where.node`
// picks the node, and anything not placed is spread over the nodes in turn.
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { suite } from './suite';
import * as assert from 'uvu/assert';
import type { ClusterMq } from '../../broker/cluster/mq';
import { aedesInternals } from '../../broker/upstream/aedes';
import type { BrokerOptions } from '../../broker/config';
import type { Dev, Fleet, Where } from '../scenarios/fleet';
import { type Backends, freshBackends, requireBackends } from './backends';
import { type ApiResult, TestBroker } from './broker';
import { waitUntil } from './wait';

const BARRIER = '$SYS/fleetbind/test-barrier';

export class TestCluster implements Fleet {
  readonly name: string;
  private turn = 0;
  /** Barrier marks each node has received. */
  private readonly seen: Set<string>[];

  private constructor(
    readonly members: TestBroker[],
    readonly adminToken: string,
  ) {
    this.name = `${members.length}-node cluster`;
    this.seen = members.map(() => new Set<string>());
  }

  /** Starts the nodes one after the other (the first one creates the schema and the admin). */
  static async start(backends: Backends, nodes = 2, opts: Partial<BrokerOptions> = {}): Promise<TestCluster> {
    const adminToken = opts.adminToken ?? randomBytes(24).toString('hex');
    const members: TestBroker[] = [];
    try {
      for (let i = 0; i < nodes; i++) {
        members.push(
          await TestBroker.start({ databaseUrl: backends.databaseUrl, redisUrl: backends.redisUrl, redisPrefix: backends.redisPrefix, adminToken, ...opts }),
        );
      }
    } catch (err) {
      await Promise.all(members.map((m) => m.stop()));
      throw err;
    }
    const c = new TestCluster(members, adminToken);
    await Promise.all(
      members.map((m, i) => new Promise<void>((resolve) => mqOf(m).on(BARRIER, (p, done) => (c.seen[i]!.add(p.payload.toString()), done()), resolve))),
    );
    return c;
  }

  get nodes(): number {
    return this.members.length;
  }

  node(where: Where = {}): TestBroker {
    return this.members[where.node ?? this.turn++ % this.members.length]!;
  }

  /**
   * Returns once every node has received everything any node sent before the call (each node's
   * mark follows its earlier messages to that node on the same Redis connection), so the nodes'
   * in-memory state can be compared.
   */
  async flush(): Promise<void> {
    const marks = this.members.map((m, i) => {
      const mark = `${i}-${randomBytes(6).toString('hex')}`;
      mqOf(m).emit({ topic: BARRIER, payload: Buffer.from(mark) });
      return mark;
    });
    await waitUntil(() => this.seen.every((s) => marks.every((mark) => s.has(mark))), 5_000, 'every node to see the barrier');
    for (const s of this.seen) for (const mark of marks) s.delete(mark);
  }

  /** The REST API of the first node, after a flush. */
  async api<T = any>(method: string, path: string, body?: unknown, token: string | undefined = this.adminToken): Promise<ApiResult<T>> {
    await this.flush();
    return this.members[0]!.api<T>(method, path, body, token);
  }

  createAgent(id: string | number, opts: { name?: string; password?: string; deviceLimit?: number } = {}): Promise<{ id: string; password: string }> {
    return this.members[0]!.createAgent(id, opts);
  }

  agent(id: string, where: Where = {}): Promise<{ client: MqttClient; id: string; token: string }> {
    return this.node(where).agent(id, where);
  }

  provision(mac?: string, machineCode?: string): Promise<Dev> {
    return this.members[0]!.provision(mac, machineCode);
  }

  device(d: Dev, where: Where = {}, opts: { caps?: string[]; keepalive?: number } = {}): Promise<{ client: MqttClient; config: any }> {
    return this.node(where).device(d, where, opts);
  }

  aclAgentOf(device: string): (string | null)[] {
    return this.members.map((m) => m.ctx.bindings.agentOf(device));
  }

  async stop(): Promise<void> {
    for (const m of [...this.members].reverse()) await m.stop();
  }
}

/** A node's MQTT emitter, which routes between the nodes. */
export function mqOf(m: TestBroker): ClusterMq {
  return aedesInternals(m.ctx.aedes).mq as ClusterMq;
}

/**
 * Every device's binding is `expected` in the database, in every node's ACL map, and in the audit
 * log exactly as often as `claims` says (none lost, none duplicated).
 */
export async function expectBindings(cluster: TestCluster, expected: Map<string, string | null>, claims: Map<string, number>): Promise<void> {
  await cluster.flush();
  for (const [device, agent] of expected) {
    const r = await cluster.api('GET', `/api/devices/${device}`);
    assert.is(r.status, 200, JSON.stringify(r.body));
    assert.is(r.body.agent, agent, `database binding of ${device}`);
    assert.equal(
      cluster.aclAgentOf(device),
      cluster.members.map(() => agent),
      `ACL maps for ${device}`,
    );
    const audit = await cluster.api('GET', `/api/audit?device=${device}`);
    assert.is(audit.body.filter((e: { action: string }) => e.action === 'claim').length, claims.get(device) ?? 0, `claim audit rows for ${device}`);
  }
}

/**
 * A uvu suite on a fresh cluster (its own database and Redis prefix, removed afterwards). Tests
 * added with `on` get the cluster; without PostgreSQL or Redis they are skipped with the reason.
 */
export function clusterSuite(name: string, opts: Partial<BrokerOptions> = {}, nodes = 2) {
  const t = suite<{ backends?: Backends | Error; cluster?: TestCluster }>(name);
  t.before(async (c) => {
    c.backends = await freshBackends();
    if (!(c.backends instanceof Error)) c.cluster = await TestCluster.start(c.backends, nodes, opts);
  });
  t.after(async (c) => {
    await c.cluster?.stop();
    if (c.backends && !(c.backends instanceof Error)) await c.backends.drop();
  });
  const on = (testName: string, fn: (cluster: TestCluster, backends: Backends) => Promise<void>): void =>
    t(testName, async (c) => {
      requireBackends(c.backends);
      await fn(c.cluster!, c.backends);
    });
  return { t, on };
}
