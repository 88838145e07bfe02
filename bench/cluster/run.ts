// Cluster benchmark: one node against two nodes on this machine, same workload:
// point-to-point routing with the full ACL (each device publishes on its evt topic, the one
// agent bound to it receives; the forward check runs on every message). Brokers are separate
// processes (`npm start`), clients run here. Prints msgs/s and p50/p99 publish→delivery latency
// per topology, the brokers' CPU time per message (from /proc, which a loaded machine distorts
// less than wall time), and the cost of cross-node delivery as ratios.
// Needs PostgreSQL and Redis on 127.0.0.1 (a fresh database and key prefix, removed afterwards).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { eventTopic } from '../../protocol/topics';
import { type Backends, freshBackends } from '../../test/helpers/backends';
import { connectAgent, connectDevice, randomMac, request } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { end, subscribe } from '../../test/helpers/mqtt';
import { type Pair, type Result, drive, median } from '../lib/load';
import { UNLIMITED_REQUESTS, cpuMsOf } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:cluster --',
    usage: ['[--pairs 50] [--messages 400] [--rounds 3]'],
    summary:
      'Point-to-point routing with the full ACL on one broker node against two (PostgreSQL and Redis on 127.0.0.1). Prints msgs/s and p50/p99 publish-to-delivery latency per topology, and the cost of cross-node delivery as ratios.',
    options: {
      pairs: { type: 'string', value: 'N', env: 'BENCH_PAIRS', default: '50', help: 'device/agent pairs' },
      messages: { type: 'string', value: 'N', env: 'BENCH_MESSAGES', default: '400', help: 'messages each device sends' },
      rounds: { type: 'string', value: 'N', env: 'BENCH_ROUNDS', default: '3', help: 'rounds per topology; the median is reported' },
    },
  }),
);
const PAIRS = Number(values.pairs);
const MESSAGES = Number(values.messages);
const WINDOW = 20;
const ROUNDS = Number(values.rounds);
const ADMIN = randomBytes(24).toString('hex');

interface Topology {
  name: string;
  nodes: number;
  cluster: boolean;
  place(i: number): { device: number; agent: number };
}

const TOPOLOGIES: Topology[] = [
  { name: 'one node, SQLite', nodes: 1, cluster: false, place: () => ({ device: 0, agent: 0 }) },
  { name: 'one node, cluster mode', nodes: 1, cluster: true, place: () => ({ device: 0, agent: 0 }) },
  { name: 'two nodes, same node', nodes: 2, cluster: true, place: (i) => ({ device: i % 2, agent: i % 2 }) },
  { name: 'two nodes, cross-node', nodes: 2, cluster: true, place: (i) => ({ device: i % 2, agent: 1 - (i % 2) }) },
];

interface Run extends Result {
  cpuUsPerMsg: number;
}

async function setUp(t: Topology, backends: Backends): Promise<{ pairs: Pair[]; cpuMs(): number; close(): Promise<void> }> {
  const flags = t.cluster
    ? ['--database-url', backends.databaseUrl, '--redis-url', backends.redisUrl, '--redis-prefix', `${backends.redisPrefix}${randomBytes(3).toString('hex')}:`]
    : [];
  const dirs: string[] = [];
  const nodes: BrokerProcess[] = [];
  for (let i = 0; i < t.nodes; i++) {
    dirs.push(mkdtempSync(join(tmpdir(), 'fleetbind-bench-cluster-')));
    nodes.push(await BrokerProcess.start(dirs[i]!, ADMIN, [...flags, ...UNLIMITED_REQUESTS]));
  }
  const api = nodes[0]!;
  const run = randomBytes(3).toString('hex');
  const pairs: Pair[] = [];
  // Logins hash passwords with scrypt; ten at a time keeps the brokers responsive.
  for (let i = 0; i < PAIRS; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, PAIRS - i) }, async (_, k) => {
        const n = i + k;
        const where = t.place(n);
        const mac = randomMac();
        const dev = await api.api('POST', '/api/devices', { mac, model: 'bench' });
        if (dev.status !== 201) throw new Error(`provisioning failed: ${JSON.stringify(dev.body)}`);
        const d = { id: dev.body.id as string, secret: dev.body.secret as string, mac };
        const agentId = `bench-${run}-${n}`;
        const password = `pw-${randomBytes(8).toString('hex')}`;
        const created = await api.api('POST', '/api/agents', { id: agentId, name: agentId, password });
        if (created.status !== 201) throw new Error(`creating an agent failed: ${JSON.stringify(created.body)}`);
        const login = await api.api('POST', '/api/login', { id: agentId, password }, undefined);
        const sub = await connectAgent(nodes[where.agent]!.mqttUrl, agentId, login.body.token);
        const { client: pub } = await connectDevice(nodes[where.device]!.mqttUrl, d);
        const claimed = await request(sub, { kind: 'agent', id: agentId }, { op: 'claim', target: d.id }, 15_000);
        if (!claimed.ok) throw new Error(`claim failed: ${JSON.stringify(claimed)}`);
        await subscribe(sub, `fb/v1/d/${d.id}/evt/#`);
        return { pub, sub, topic: eventTopic(d.id, 'data') };
      }),
    );
    pairs.push(...batch);
  }
  return {
    pairs,
    cpuMs: () => nodes.reduce((sum, n) => sum + (cpuMsOf(n.child.pid!) ?? NaN), 0),
    async close() {
      await end(...pairs.flatMap((p) => [p.pub, p.sub]));
      for (const n of nodes) await n.stop('SIGTERM');
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

const backends = await freshBackends();
if (backends instanceof Error) {
  console.error(`bench:cluster needs PostgreSQL and Redis: ${backends.message}`);
  process.exit(1);
}
const summary = new Map<string, Run>();
try {
  process.stderr.write(`point-to-point, full ACL: ${PAIRS} device→agent pairs x ${MESSAGES} messages, ${ROUNDS} rounds per topology\n`);
  for (const t of TOPOLOGIES) {
    const setup = await setUp(t, backends);
    const results: Run[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const cpuBefore = setup.cpuMs();
        const r = { ...(await drive(setup.pairs, MESSAGES, WINDOW)), cpuUsPerMsg: ((setup.cpuMs() - cpuBefore) * 1000) / (PAIRS * MESSAGES) };
        results.push(r);
        process.stderr.write(
          `  ${t.name.padEnd(24)} round ${round}: ${r.msgsPerSec.toFixed(0).padStart(7)} msg/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${r.cpuUsPerMsg.toFixed(0)} µs CPU/msg\n`,
        );
      }
    } finally {
      await setup.close();
    }
    summary.set(t.name, {
      msgsPerSec: median(results.map((r) => r.msgsPerSec)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      cpuUsPerMsg: median(results.map((r) => r.cpuUsPerMsg)),
    });
  }
} finally {
  await backends.drop();
}

console.log(`\npoint-to-point with full ACL (median of ${ROUNDS} rounds, ${PAIRS} pairs x ${MESSAGES} messages)`);
for (const [name, s] of summary)
  console.log(
    `  ${name.padEnd(24)} ${s.msgsPerSec.toFixed(0).padStart(7)} msg/s   p50 ${s.p50.toFixed(2)} ms   p99 ${s.p99.toFixed(2)} ms   broker CPU ${s.cpuUsPerMsg.toFixed(0)} µs/msg`,
  );
const ratio = (a: string, b: string): string => {
  const x = summary.get(a)!;
  const y = summary.get(b)!;
  return `throughput ${(x.msgsPerSec / y.msgsPerSec).toFixed(2)}x, p99 ${(x.p99 / y.p99).toFixed(2)}x, CPU per message ${(x.cpuUsPerMsg / y.cpuUsPerMsg).toFixed(2)}x`;
};
console.log(`  cross-node vs same-node (two nodes): ${ratio('two nodes, cross-node', 'two nodes, same node')}`);
console.log(`  two nodes cross-node vs one node in cluster mode: ${ratio('two nodes, cross-node', 'one node, cluster mode')}`);
console.log(`  one node in cluster mode vs one node on SQLite: ${ratio('one node, cluster mode', 'one node, SQLite')}`);
