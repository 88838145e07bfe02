// ACL overhead benchmark: the same fan-in and point-to-point workloads against bare
// Aedes and the fleetbind broker (auth + ACL + per-message forward checks), side by side in one
// process, with Mosquitto on 127.0.0.1:1883 as an outside peer when it is running.
// Prints msgs/s and p50/p99 latency for each, and the fleetbind/bare-Aedes ratio (target >= 0.90).
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { eventTopic } from '../../protocol/topics';
import { TestBroker, connectAgent, connectDevice, request } from '../../test/helpers/broker';
import { connect, end, subscribe } from '../../test/helpers/mqtt';
import { type Pair, type Result, drive, median } from '../lib/load';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:acl --',
    usage: ['[--publishers 50] [--messages 400] [--rounds 3]'],
    summary:
      'Fan-in and point-to-point workloads against bare Aedes and the fleetbind broker (auth, ACL and forward checks), with Mosquitto on 127.0.0.1:1883 as a peer when it runs. Prints msgs/s, p50/p99 latency and the fleetbind/bare-Aedes ratio.',
    options: {
      publishers: { type: 'string', value: 'N', env: 'BENCH_PUBLISHERS', default: '50', help: 'publishing devices' },
      messages: { type: 'string', value: 'N', env: 'BENCH_MESSAGES', default: '400', help: 'messages each publisher sends' },
      rounds: { type: 'string', value: 'N', env: 'BENCH_ROUNDS', default: '3', help: 'rounds per broker; the median is reported' },
    },
  }),
);
const PUBLISHERS = Number(values.publishers);
const MESSAGES_PER_PUBLISHER = Number(values.messages);
const WINDOW = 20;
const ROUNDS = Number(values.rounds);

interface Setup {
  name: string;
  pairs: Pair[];
  close(): Promise<void>;
}

async function bare(kind: 'fan-in' | 'p2p'): Promise<Setup> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return plainPairs('bare Aedes', url, kind, async () => {
    server.close();
    await new Promise<void>((r) => aedes.close(() => r()));
  });
}

async function plainPairs(name: string, url: string, kind: 'fan-in' | 'p2p', close: () => Promise<void>): Promise<Setup> {
  const run = randomBytes(3).toString('hex');
  const pairs: Pair[] = [];
  const shared = kind === 'fan-in' ? await connect(url, { clientId: `sink-${run}` }) : null;
  // The same topic shapes and one subscription per device, as the fleetbind workload has.
  for (let i = 0; i < PUBLISHERS; i++) {
    const topic = `fb/v1/d/bench-${run}-${i}/evt/data`;
    const pub = await connect(url, { clientId: `pub-${run}-${i}` });
    const sub = shared ?? (await connect(url, { clientId: `sub-${run}-${i}` }));
    await subscribe(sub, `fb/v1/d/bench-${run}-${i}/evt/#`);
    pairs.push({ pub, sub, topic });
  }
  return {
    name,
    pairs,
    close: async () => {
      await end(...new Set(pairs.flatMap((p) => [p.pub, p.sub])));
      await close();
    },
  };
}

async function fleetbind(kind: 'fan-in' | 'p2p'): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-'));
  const tb = await TestBroker.start({ dataDir, logLevel: 'warn', deviceLimit: PUBLISHERS + 1 });
  const url = tb.broker.mqttUrl;
  const pairs: Pair[] = [];
  const makeAgent = async (id: string): Promise<MqttClient> => {
    const a = await tb.createAgent(id);
    return connectAgent(url, a.id, await tb.login(a.id, a.password));
  };
  const sink = kind === 'fan-in' ? await makeAgent('sink') : null;
  for (let i = 0; i < PUBLISHERS; i++) {
    const d = await tb.provision();
    const { client: pub } = await connectDevice(url, d);
    const agentId = sink ? 'sink' : `agent${i}`;
    const sub = sink ?? (await makeAgent(agentId));
    const claimed = await request(sub, { kind: 'agent', id: agentId }, { op: 'claim', target: d.id });
    if (!claimed.ok) throw new Error(`claim failed: ${JSON.stringify(claimed)}`);
    await subscribe(sub, `fb/v1/d/${d.id}/evt/#`);
    pairs.push({ pub, sub, topic: eventTopic(d.id, 'data') });
  }
  return {
    name: 'fleetbind',
    pairs,
    close: async () => {
      await end(...new Set(pairs.flatMap((p) => [p.pub, p.sub])));
      await tb.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function mosquitto(kind: 'fan-in' | 'p2p'): Promise<Setup | null> {
  try {
    const probe = await connect('mqtt://127.0.0.1:1883', { clientId: `probe-${randomBytes(3).toString('hex')}`, connectTimeout: 1000 });
    await end(probe);
  } catch {
    return null;
  }
  return plainPairs('Mosquitto', 'mqtt://127.0.0.1:1883', kind, async () => {});
}

for (const kind of ['fan-in', 'p2p'] as const) {
  process.stderr.write(`\n${kind}: ${PUBLISHERS} publishers x ${MESSAGES_PER_PUBLISHER} messages, ${ROUNDS} rounds\n`);
  const results: Record<string, Result[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const make of [bare, fleetbind, mosquitto]) {
      const setup = await make(kind);
      if (!setup) continue;
      const r = await drive(setup.pairs, MESSAGES_PER_PUBLISHER, WINDOW);
      await setup.close();
      (results[setup.name] ??= []).push(r);
      process.stderr.write(
        `  round ${round} ${setup.name.padEnd(10)} ${r.msgsPerSec.toFixed(0).padStart(7)} msg/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms\n`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, rs]) => [
      name,
      { msgsPerSec: median(rs.map((r) => r.msgsPerSec)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) },
    ]),
  );
  console.log(`\n${kind} (median of ${ROUNDS} rounds)`);
  for (const [name, s] of Object.entries(summary))
    console.log(`  ${name.padEnd(10)} ${s.msgsPerSec.toFixed(0).padStart(7)} msg/s   p50 ${s.p50.toFixed(2)} ms   p99 ${s.p99.toFixed(2)} ms`);
  const fb = summary.fleetbind!;
  const base = summary['bare Aedes']!;
  console.log(
    `  fleetbind / bare Aedes: throughput ratio ${(fb.msgsPerSec / base.msgsPerSec).toFixed(3)} (target >= 0.90), p99 ratio ${(fb.p99 / base.p99).toFixed(2)}`,
  );
  if (summary.Mosquitto) console.log(`  fleetbind / Mosquitto: throughput ratio ${(fb.msgsPerSec / summary.Mosquitto.msgsPerSec).toFixed(3)}`);
}
