// Claims benchmark: a broker in its own process, N agents (signed in with HS256 identity-provider
// tokens, so no password hashing stands in the way) connected over MQTT. Two bursts:
//   spread: every agent claims a different free device at the same moment;
//   contended: --contenders agents claim one device at the same moment (exactly one may win).
// Prints the time until the last answer and the broker's CPU time per claim (/proc/<pid>/stat).
//
//   npm run bench:claims -- [--agents 1000] [--contenders 100] [--rounds 3]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import mqtt, { type MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { agentTopic } from '../../protocol/topics';
import { randomMac } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { end, subscribe } from '../../test/helpers/mqtt';
import { median } from '../lib/load';
import { cpuMsOf, UNLIMITED_REQUESTS } from '../lib/proc';
import { log, pool } from '../jobs/fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:claims --',
    usage: ['[--agents 1000] [--contenders 100] [--rounds 3]'],
    summary: 'Agents claim devices at the same moment: each a different device, then many on one. Prints the time to the last answer and the broker\'s CPU time per claim.',
    options: {
      agents: { type: 'string', value: 'N', default: '1000', help: 'agents, each claiming its own free device in the spread burst' },
      contenders: { type: 'string', value: 'N', default: '100', help: 'agents claiming one device at once in the contended burst' },
      rounds: { type: 'string', value: 'N', default: '3', help: 'rounds of each burst (devices are released between rounds); medians are printed' },
    },
  }),
);
const AGENTS = Number(values.agents);
const CONTENDERS = Number(values.contenders);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(AGENTS) || AGENTS < 1 || !Number.isInteger(CONTENDERS) || CONTENDERS < 2 || CONTENDERS > AGENTS) throw new Error('--agents >= --contenders >= 2');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');

const ISSUER = 'https://idp.bench.invalid';
const AUDIENCE = 'fleetbind-bench';
const secret = randomBytes(32).toString('hex');

interface Agent { id: string; client: MqttClient; answers: Map<string, (body: any) => void> }

async function connectAgent(url: string, id: string): Promise<Agent> {
  const token = await new SignJWT({ sub: id }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  const client = mqtt.connect(url, { clientId: `agent:${id}:bench`, username: `agent:${id}`, password: token, reconnectPeriod: 0, connectTimeout: 60_000 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const a: Agent = { id, client, answers: new Map() };
  client.on('message', (_t, payload) => {
    const body = JSON.parse(payload.toString('utf8'));
    a.answers.get(body.id)?.(body);
    a.answers.delete(body.id);
  });
  await subscribe(client, agentTopic(id, 'res'));
  return a;
}

function ask(a: Agent, body: Record<string, unknown>): Promise<any> {
  const id = `r${randomBytes(4).toString('hex')}`;
  const answered = new Promise<any>((resolve) => a.answers.set(id, resolve));
  a.client.publish(agentTopic(a.id, 'req'), JSON.stringify({ id, ...body }));
  return answered;
}

interface Burst { lastMs: number; cpuUsPerClaim: number; won: number }

/** All claims leave at once; resolves when every one is answered. */
async function burst(bp: BrokerProcess, pairs: [Agent, string][]): Promise<Burst> {
  const cpu0 = cpuMsOf(bp.child.pid!)!;
  const t0 = performance.now();
  const answers = await Promise.all(pairs.map(([a, device]) => ask(a, { op: 'claim', target: device })));
  const lastMs = performance.now() - t0;
  const cpuMs = cpuMsOf(bp.child.pid!)! - cpu0;
  return { lastMs, cpuUsPerClaim: (cpuMs * 1000) / pairs.length, won: answers.filter((r) => r.ok).length };
}

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-claims-'));
const admin = randomBytes(24).toString('hex');
let broker: BrokerProcess | null = null;
const agents: Agent[] = [];

try {
  broker = await BrokerProcess.start(dir, admin, ['--log-level', 'info', '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE, '--jwt-secret', secret, '--jwt-auto-provision', ...UNLIMITED_REQUESTS]);
  const bp = broker;
  log(`broker pid ${bp.child.pid}; ${AGENTS} agents, ${CONTENDERS} contenders, ${ROUNDS} rounds`);
  const devices = await pool('provisioning devices', Array.from({ length: AGENTS }), 16, async () => {
    const r = await bp.api('POST', '/api/devices', { mac: randomMac(), model: 'bench' });
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  });
  agents.push(...(await pool('connecting agents', Array.from({ length: AGENTS }, (_, i) => `claimer-${i}`), 20, (id) => connectAgent(bp.mqttUrl, id))));

  const releaseAll = async (): Promise<void> => {
    for (const d of devices) {
      const r = await bp.api('POST', `/api/devices/${d}/release`, { reason: 'bench round', force: true });
      if (r.status !== 200 && r.status !== 204 && r.body?.error?.code !== 'NOT_BOUND') throw new Error(`release of ${d} failed: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  const spread: Burst[] = [];
  const contended: Burst[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const s = await burst(bp, agents.map((a, i) => [a, devices[i]!]));
    if (s.won !== AGENTS) throw new Error(`spread burst: ${s.won} of ${AGENTS} claims won; every device was free`);
    spread.push(s);
    await releaseAll();
    const c = await burst(bp, agents.slice(0, CONTENDERS).map((a) => [a, devices[round % devices.length]!]));
    if (c.won !== 1) throw new Error(`contended burst: ${c.won} winners; exactly one may win`);
    contended.push(c);
    await releaseAll();
    log(`round ${round}: spread last answer ${s.lastMs.toFixed(0)} ms, ${s.cpuUsPerClaim.toFixed(0)} µs CPU/claim; contended ${c.lastMs.toFixed(0)} ms, ${c.cpuUsPerClaim.toFixed(0)} µs CPU/claim, 1 winner`);
  }
  const med = (bs: Burst[], k: 'lastMs' | 'cpuUsPerClaim'): string => median(bs.map((b) => b[k])).toFixed(0);
  console.log('');
  console.log(`claims benchmark: medians of ${ROUNDS} rounds (the machine may be loaded: compare CPU per claim)`);
  console.log(`  ${AGENTS} agents, each a different free device   last answer ${med(spread, 'lastMs').padStart(6)} ms   broker CPU ${med(spread, 'cpuUsPerClaim').padStart(5)} µs/claim   all won`);
  console.log(`  ${CONTENDERS} agents, one device                   last answer ${med(contended, 'lastMs').padStart(6)} ms   broker CPU ${med(contended, 'cpuUsPerClaim').padStart(5)} µs/claim   exactly 1 winner every round`);
} finally {
  await end(...agents.map((a) => a.client));
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
