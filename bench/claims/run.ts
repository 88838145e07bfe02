// Claims benchmark: a broker in its own process, N agents (signed in with HS256 identity-provider
// tokens, so no password hashing stands in the way) on raw MQTT clients (bench/lib/raw-mqtt.ts).
// Two bursts:
//   spread: every agent claims a different free device at the same moment;
//   contended: --contenders agents claim one device at the same moment (exactly one may win).
// The peers (bare Aedes, and Mosquitto when it runs on 127.0.0.1:1883, each in its own process)
// move the same request and answer: N clients each publish one request at the same moment on a
// topic they subscribe to. Rounds interleave the brokers. Prints medians of the time until the
// last answer and each broker's CPU time per claim (/proc/<pid>/stat), with fleetbind's ratios.
// --before REF adds fleetbind as it was at that commit, as one more broker in the same rounds.
//
//   npm run bench:claims -- [--agents 1000] [--contenders 100] [--rounds 3] [--before REF] [--cpu-prof dir]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { agentTopic } from '../../protocol/topics';
import { randomMac } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { afterSetupStorm } from '../lib/after-storm';
import { brokerCounters } from '../lib/broker-counters';
import { type Checkout, checkoutOf } from '../lib/checkout';
import { median } from '../lib/load';
import { mosquittoPid, type PeerProcess, startBareAedes } from '../lib/peers';
import { cpuMsOf, monoUs, UNLIMITED_REQUESTS } from '../lib/proc';
import { RawClient } from '../lib/raw-mqtt';
import { log, pool } from '../jobs/fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:claims --',
    usage: ['[--agents 1000] [--contenders 100] [--rounds 3] [--before REF] [--cpu-prof DIR]'],
    summary:
      "Agents claim devices at the same moment: each a different device, then many on one; bare Aedes and Mosquitto move the same requests and answers. Rounds interleave the brokers. Prints the time to the last answer and each broker's CPU time per claim, with fleetbind's ratios.",
    options: {
      agents: { type: 'string', value: 'N', default: '1000', help: 'agents, each claiming its own free device in the spread burst' },
      contenders: { type: 'string', value: 'N', default: '100', help: 'agents claiming one device at once in the contended burst' },
      rounds: { type: 'string', value: 'N', default: '3', help: 'rounds of each burst (devices are released between rounds); medians are printed' },
      before: { type: 'string', value: 'REF', help: 'also run fleetbind as of this commit (same dependencies), in the same rounds' },
      'no-peers': { type: 'boolean', help: 'measure fleetbind alone' },
      'cpu-prof': { type: 'string', value: 'DIR', help: "write the fleetbind broker's V8 CPU profile into DIR when it stops" },
    },
  }),
);
const AGENTS = Number(values.agents);
const CONTENDERS = Number(values.contenders);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(AGENTS) || AGENTS < 1 || !Number.isInteger(CONTENDERS) || CONTENDERS < 2 || CONTENDERS > AGENTS)
  throw new Error('--agents >= --contenders >= 2');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');

const ISSUER = 'https://idp.bench.invalid';
const AUDIENCE = 'fleetbind-bench';
const secret = randomBytes(32).toString('hex');

interface Agent {
  id: string;
  client: RawClient;
  answers: Map<string, (body: any) => void>;
}

async function connectAgent(url: string, id: string): Promise<Agent> {
  const token = await new SignJWT({ sub: id })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
  const client = await RawClient.connect(url, { clientId: `agent:${id}:bench`, username: `agent:${id}`, password: token });
  const a: Agent = { id, client, answers: new Map() };
  client.onPublish = (_t, payload) => {
    const body = JSON.parse(payload.toString('utf8'));
    a.answers.get(body.id)?.(body);
    a.answers.delete(body.id);
  };
  await client.subscribe([agentTopic(id, 'res')]);
  return a;
}

function ask(a: Agent, body: Record<string, unknown>): Promise<any> {
  const id = `r${randomBytes(4).toString('hex')}`;
  const answered = new Promise<any>((resolve) => a.answers.set(id, resolve));
  a.client.publish(agentTopic(a.id, 'req'), JSON.stringify({ id, ...body }));
  return answered;
}

interface Burst {
  lastMs: number;
  cpuUsPerClaim: number;
  won: number;
  sqlPerClaim: number;
}

/** Each burst's span on the monotonic clock (µs), which V8's CPU profile timestamps also use. */
const burstSpans: [number, number][] = [];
/** All claims leave at once; resolves when every one is answered. */
async function burst(rig: { bp: BrokerProcess; profiled: boolean }, pairs: [Agent, string][]): Promise<Burst> {
  const pid = rig.bp.child.pid!;
  const sql0 = (await brokerCounters(rig.bp)).sql;
  const cpu0 = cpuMsOf(pid)!;
  const t0 = performance.now();
  const span0 = monoUs();
  const answers = await Promise.all(pairs.map(([a, device]) => ask(a, { op: 'claim', target: device })));
  const lastMs = performance.now() - t0;
  const cpuMs = cpuMsOf(pid)! - cpu0;
  if (rig.profiled) burstSpans.push([span0, monoUs()]);
  const sql = (await brokerCounters(rig.bp)).sql - sql0;
  return { lastMs, cpuUsPerClaim: (cpuMs * 1000) / pairs.length, won: answers.filter((r) => r.ok).length, sqlPerClaim: sql / pairs.length };
}

/** A bare broker's share of a claim: one request in, one answer out, on each of n clients at once. */
interface Echo {
  name: string;
  pid: number;
  clients: RawClient[];
  burst(): Promise<Burst>;
}

async function echoPeer(name: string, url: string, pid: number, n: number): Promise<Echo> {
  const run = randomBytes(3).toString('hex');
  const waiting: (() => void)[] = [];
  const clients = await pool(
    `${name}: connecting clients`,
    Array.from({ length: n }, (_, i) => i),
    20,
    async (i) => {
      const c = await RawClient.connect(url, { clientId: `claims-${run}-${i}` });
      const topic = `bench/${run}/a/${i}/req`;
      c.onPublish = () => waiting[i]?.();
      await c.subscribe([topic]);
      return c;
    },
  );
  const requests = clients.map((_, i) => JSON.stringify({ id: `r${i}`, op: 'claim', target: `device-${i}` }));
  return {
    name,
    pid,
    clients,
    burst: async () => {
      const cpu0 = cpuMsOf(pid)!;
      const t0 = performance.now();
      await Promise.all(
        clients.map((c, i) => {
          const echoed = new Promise<void>((r) => (waiting[i] = r));
          c.publish(`bench/${run}/a/${i}/req`, requests[i]!);
          return echoed;
        }),
      );
      const lastMs = performance.now() - t0;
      return { lastMs, cpuUsPerClaim: ((cpuMsOf(pid)! - cpu0) * 1000) / n, won: n, sqlPerClaim: 0 };
    },
  };
}

const dirs: string[] = [];
const admin = randomBytes(24).toString('hex');
const brokers: BrokerProcess[] = [];
const rigs: Rig[] = [];
const echoes: Echo[] = [];
const peers: PeerProcess[] = [];
let before: Checkout | null = null;

/** A fleetbind broker with its own registry, devices and agents. */
interface Rig {
  name: string;
  bp: BrokerProcess;
  devices: string[];
  agents: Agent[];
  profiled: boolean;
}

async function fleetbind(name: string, checkout?: string): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-claims-'));
  dirs.push(dir);
  // Only the current code is profiled: its bursts' spans go beside the profile.
  const profiled = values['cpu-prof'] !== undefined && checkout === undefined;
  const bp = await BrokerProcess.start(
    dir,
    admin,
    ['--log-level', 'info', '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE, '--jwt-secret', secret, '--jwt-auto-provision', ...UNLIMITED_REQUESTS],
    profiled ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof']!)] : [],
    checkout,
  );
  brokers.push(bp);
  log(`${name} pid ${bp.child.pid}`);
  const devices = await pool(`${name}: provisioning devices`, Array.from({ length: AGENTS }), 16, async () => {
    const r = await bp.api('POST', '/api/devices', { mac: randomMac(), model: 'bench' });
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  });
  const agents = await pool(
    `${name}: connecting agents`,
    Array.from({ length: AGENTS }, (_, i) => `claimer-${i}`),
    20,
    (id) => connectAgent(bp.mqttUrl, id),
  );
  await afterSetupStorm(bp, agents.length, log);
  return { name, bp, devices, agents, profiled };
}

async function releaseAll(rig: Rig): Promise<void> {
  for (const d of rig.devices) {
    const r = await rig.bp.api('POST', `/api/devices/${d}/release`, { reason: 'bench round', force: true });
    if (r.status !== 200 && r.status !== 204 && r.body?.error?.code !== 'NOT_BOUND')
      throw new Error(`release of ${d} failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

try {
  log(`${AGENTS} agents, ${CONTENDERS} contenders, ${ROUNDS} rounds`);
  rigs.push(await fleetbind('fleetbind'));
  if (values.before) {
    before = checkoutOf(values.before);
    rigs.push(await fleetbind(`fleetbind ${before.commit}`, before.dir));
  }
  if (!values['no-peers']) {
    const bare = await startBareAedes('upstream');
    peers.push(bare);
    echoes.push(await echoPeer('bare Aedes', bare.url, bare.child.pid!, AGENTS));
    const mosquitto = mosquittoPid();
    if (mosquitto !== null) echoes.push(await echoPeer('Mosquitto', 'mqtt://127.0.0.1:1883', mosquitto, AGENTS));
    else log('Mosquitto is not running on 127.0.0.1:1883; it is left out');
  }

  const spread = new Map<string, Burst[]>(rigs.map((r) => [r.name, []]));
  const contended = new Map<string, Burst[]>(rigs.map((r) => [r.name, []]));
  const echoed = new Map<string, Burst[]>(echoes.map((e) => [e.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const rig of rigs) {
      const s = await burst(
        rig,
        rig.agents.map((a, i) => [a, rig.devices[i]!]),
      );
      if (s.won !== AGENTS) throw new Error(`${rig.name} spread burst: ${s.won} of ${AGENTS} claims won; every device was free`);
      spread.get(rig.name)!.push(s);
      await releaseAll(rig);
    }
    for (const e of echoes) {
      const b = await e.burst();
      echoed.get(e.name)!.push(b);
      log(`round ${round}: ${e.name} last answer ${b.lastMs.toFixed(0)} ms, ${b.cpuUsPerClaim.toFixed(0)} µs CPU per request and answer`);
    }
    for (const rig of rigs) {
      const c = await burst(
        rig,
        rig.agents.slice(0, CONTENDERS).map((a) => [a, rig.devices[round % rig.devices.length]!]),
      );
      if (c.won !== 1) throw new Error(`${rig.name} contended burst: ${c.won} winners; exactly one may win`);
      contended.get(rig.name)!.push(c);
      await releaseAll(rig);
      const s = spread.get(rig.name)!.at(-1)!;
      log(
        `round ${round}: ${rig.name} spread last answer ${s.lastMs.toFixed(0)} ms, ${s.cpuUsPerClaim.toFixed(0)} µs CPU/claim, ${s.sqlPerClaim.toFixed(1)} SQL/claim; contended ${c.lastMs.toFixed(0)} ms, ${c.cpuUsPerClaim.toFixed(0)} µs CPU/claim, 1 winner`,
      );
    }
  }
  const med = (bs: Burst[], k: 'lastMs' | 'cpuUsPerClaim'): string => median(bs.map((b) => b[k])).toFixed(0);
  const sqlOf = (bs: Burst[]): string => `${median(bs.map((b) => b.sqlPerClaim)).toFixed(1)} SQL/claim`;
  console.log('');
  console.log(
    `claims benchmark: medians of ${ROUNDS} interleaved rounds (the machine may be loaded: compare CPU per claim and the ratios; Mosquitto's CPU includes anyone else using it)`,
  );
  for (const rig of rigs) {
    console.log(`  ${rig.name}`);
    console.log(
      `    ${AGENTS} agents, each a different free device   last answer ${med(spread.get(rig.name)!, 'lastMs').padStart(6)} ms   broker CPU ${med(spread.get(rig.name)!, 'cpuUsPerClaim').padStart(5)} µs/claim   ${sqlOf(spread.get(rig.name)!)}   all won`,
    );
    console.log(
      `    ${CONTENDERS} agents, one device                   last answer ${med(contended.get(rig.name)!, 'lastMs').padStart(6)} ms   broker CPU ${med(contended.get(rig.name)!, 'cpuUsPerClaim').padStart(5)} µs/claim   ${sqlOf(contended.get(rig.name)!)}   exactly 1 winner every round`,
    );
  }
  for (const e of echoes) {
    const bs = echoed.get(e.name)!;
    // /proc counts CPU in 10 ms ticks: a peer that used less over the whole burst reads 0.
    const cpu = median(bs.map((b) => b.cpuUsPerClaim));
    const tick = `under ${(10_000 / AGENTS).toFixed(0)}`;
    console.log(
      `  ${e.name.padEnd(10)} ${AGENTS} requests and answers at once   last answer ${med(bs, 'lastMs').padStart(6)} ms   broker CPU ${(cpu > 0 ? cpu.toFixed(0) : tick).padStart(5)} µs/claim`,
    );
    for (const rig of rigs) {
      const sp = spread.get(rig.name)!;
      const lastRatio = (median(sp.map((b) => b.lastMs)) / median(bs.map((b) => b.lastMs))).toFixed(1);
      const cpuRatio =
        cpu > 0
          ? `${(median(sp.map((b) => b.cpuUsPerClaim)) / cpu).toFixed(1)}×`
          : `over ${(median(sp.map((b) => b.cpuUsPerClaim)) / (10_000 / AGENTS)).toFixed(0)}×`;
      console.log(`    ${rig.name} spread / ${e.name}: CPU per claim ${cpuRatio}, last answer ${lastRatio}×`);
    }
  }
} finally {
  await Promise.all([...rigs.flatMap((r) => r.agents.map((a) => a.client)), ...echoes.flatMap((e) => e.clients)].map((c) => c.end()));
  await Promise.all(peers.map((p) => p.stop()));
  for (const bp of brokers) await bp.stop('SIGTERM');
  before?.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (values['cpu-prof']) {
    // profile-top's third argument: the profile's samples taken during the claim bursts only.
    writeFileSync(join(resolve(values['cpu-prof']), 'bursts.json'), JSON.stringify(burstSpans));
  }
}
