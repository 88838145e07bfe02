// Pool benchmark (docs/architecture.md, Locations and pools): a broker in its own process with
// L locations × D pool devices × A agents per location, and as many owned devices again, every
// device answering each cmd at once. Each round, every agent submits one job at the same moment:
//   pool:  to its location's pool (A jobs for D devices: most wait in the pool queue and are
//          handed over as leases end);
//   owned: the same number of jobs, sent to the owned devices by name (each claimed by one agent).
// Prints dispatch latency p50/p99 (submit → cmd at the device), jobs/s, the broker's CPU time per
// job (from the round's first submit until its last job finished and its leases ended), and the
// handover (a device's done → its next cmd: for the pool, a lease ending and the next starting),
// with the pool/owned ratios. Medians over rounds, after --warmup rounds of each kind that are
// printed but not counted; the machine may be loaded, so compare ratios and CPU per job.
// Every job of a round at once saturates the broker, so its latency there is the round's length,
// set by CPU per job. Then the same rounds again with the submits spread at --rate jobs/s, below
// saturation: the latency an agent sees when a free device is there to take its job.
// --cpu-prof <dir> writes the broker's V8 CPU profile there when it stops, with the spans of the
// pool rounds and of the owned rounds beside it (pool-rounds.json, owned-rounds.json, and
// pool-paced-rounds.json, owned-paced-rounds.json for the fixed-rate ones) for profile-top's
// third argument.
//
//   npm run bench:pool -- [--locations 10] [--devices 20] [--agents 100] [--rounds 3] [--warmup 2] [--rate 250] [--cpu-prof dir]
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { agentTopic } from '../../protocol/topics';
import { connectAgent } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { end, sleep, subscribe } from '../../test/helpers/mqtt';
import { claimOne, answeringDevice, log, pool, provisionFleet } from '../jobs/fleet';
import { afterSetupStorm } from '../lib/after-storm';
import { brokerCounters } from '../lib/broker-counters';
import { median, percentile } from '../lib/load';
import { UNLIMITED_REQUESTS, cpuMsOf, monoUs } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:pool --',
    usage: ['[--locations 10] [--devices 20] [--agents 100] [--rounds 3] [--warmup 2] [--rate 250] [--cpu-prof DIR]'],
    summary: 'Pool jobs against owned jobs on one broker: dispatch latency p50/p99, jobs/s, broker CPU per job, lease handover, with ratios.',
    options: {
      locations: { type: 'string', value: 'N', default: '10', help: 'locations, each with its own pool' },
      devices: { type: 'string', value: 'N', default: '20', help: 'pool devices per location (and as many owned devices)' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents per location; each submits one job per round' },
      rounds: { type: 'string', value: 'N', default: '3', help: 'rounds of each kind, interleaved; medians are printed' },
      warmup: { type: 'string', value: 'N', default: '2', help: 'rounds of each kind run first at once, printed but not counted' },
      rate: { type: 'string', value: 'N', default: '250', help: 'jobs/s of the fixed-rate rounds, below saturation (0: none)' },
      'cpu-prof': { type: 'string', value: 'DIR', help: "write the broker's V8 CPU profile into DIR when it stops" },
    },
  }),
);
const LOCATIONS = Number(values.locations);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const ROUNDS = Number(values.rounds);
const RATE = Number(values.rate);
const WARMUP = Number(values.warmup);
for (const [k, v] of Object.entries({ locations: LOCATIONS, devices: DEVICES, agents: AGENTS, rounds: ROUNDS }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
if (!Number.isInteger(RATE) || RATE < 0) throw new Error('--rate must be a whole number of jobs/s (0: no fixed-rate rounds)');
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error('--warmup must be a whole number of rounds');

interface Agent {
  id: string;
  client: MqttClient;
  location: string;
  owned: string | null;
  answers: Map<string, (body: any) => void>;
}
interface Round {
  p50: number;
  p99: number;
  jobsPerSec: number;
  cpuUsPerJob: number;
  sqlPerJob: number;
  messagesPerJob: number;
  handover: number[];
  /** [start, end] in µs of the monotonic clock, which the broker's CPU profile uses. */
  span: [number, number];
}

const cmdAt = new Map<string, { at: number; device: string }>();
const doneAt = new Map<string, number>();
let expecting = 0;
let arrived = 0;
let allArrived: (() => void) | null = null;

function onCmd(device: string, job: string): void {
  if (cmdAt.has(job)) return;
  cmdAt.set(job, { at: performance.now(), device });
  // The device answers done at once, so its lease may end from this moment.
  doneAt.set(device, performance.now());
  if (++arrived === expecting) allArrived?.();
}

function ask(a: Agent, body: Record<string, unknown>): Promise<any> {
  const id = `r${randomBytes(5).toString('hex')}`;
  const answered = new Promise<any>((resolve) => a.answers.set(id, resolve));
  a.client.publish(agentTopic(a.id, 'req'), JSON.stringify({ id, ...body }));
  return answered;
}

/**
 * Every submit leaves at once, or with `rate` the i-th at i/rate s. Latency ends when every job's
 * cmd reached its device; the round's CPU time, statements and messages once every job finished and
 * `settled` (a pool round: its leases ended), so each round pays for all of its own jobs and for
 * nothing of the round before. The polls that wait for that (a /metrics scrape runs a few
 * registry counts) are in the window too, alike for both kinds: a few ms a round.
 */
async function round(bp: BrokerProcess, submits: [Agent, Record<string, unknown>][], rate: number, settled: () => Promise<void>): Promise<Round> {
  const lastDone = new Map(doneAt);
  expecting = submits.length;
  arrived = 0;
  const all = new Promise<void>((resolve) => (allArrived = resolve));
  const counters0 = await brokerCounters(bp);
  const cpu0 = cpuMsOf(bp.child.pid!)!;
  const mono0 = monoUs();
  const t0 = performance.now();
  const sent = await Promise.all(
    submits.map(async ([a, to], i) => {
      if (rate > 0) await sleep(t0 + (i * 1000) / rate - performance.now());
      const at = performance.now();
      const r = await ask(a, { op: 'submit', kind: 'identify', params: { seconds: 1 }, ...to });
      if (!r.ok) throw new Error(`submit by ${a.id} refused: ${JSON.stringify(r.error)}`);
      return { job: r.result.job as string, at };
    }),
  );
  await all;
  const seconds = (performance.now() - t0) / 1000;
  for (;;) {
    const { jobsFinished } = await brokerCounters(bp);
    if (jobsFinished >= counters0.jobsFinished + submits.length) break;
    await sleep(50);
  }
  await settled();
  const span: [number, number] = [mono0, monoUs()];
  const cpuMs = cpuMsOf(bp.child.pid!)! - cpu0;
  const counters = await brokerCounters(bp);
  const lat = sent.map((s) => cmdAt.get(s.job)!.at - s.at).sort((x, y) => x - y);
  // A handover: a device that finished a job of this round took its next job of the round.
  const byDevice = new Map<string, number[]>();
  for (const s of sent) {
    const c = cmdAt.get(s.job)!;
    byDevice.set(c.device, [...(byDevice.get(c.device) ?? []), c.at]);
  }
  const handover: number[] = [];
  for (const [device, ats] of byDevice) {
    ats.sort((x, y) => x - y);
    const prev = lastDone.get(device);
    for (let i = 1; i < ats.length; i++) handover.push(ats[i]! - ats[i - 1]!);
    if (prev !== undefined && prev > t0) handover.push(ats[0]! - prev);
  }
  return {
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    jobsPerSec: submits.length / seconds,
    cpuUsPerJob: (cpuMs * 1000) / submits.length,
    sqlPerJob: (counters.sql - counters0.sql) / submits.length,
    messagesPerJob: (counters.messagesOut - counters0.messagesOut) / submits.length,
    handover,
    span,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-pool-'));
const admin = randomBytes(24).toString('hex');
let broker: BrokerProcess | null = null;
const clients: MqttClient[] = [];

try {
  broker = await BrokerProcess.start(
    dir,
    admin,
    ['--log-level', 'info', '--queue-cap', String(AGENTS * LOCATIONS), ...UNLIMITED_REQUESTS],
    values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [],
  );
  const bp = broker;
  const poolCount = LOCATIONS * DEVICES;
  log(`broker pid ${bp.child.pid}; ${LOCATIONS} locations × ${DEVICES} pool devices × ${AGENTS} agents, ${poolCount} owned devices, ${ROUNDS} rounds`);
  const fleet = await provisionFleet(bp, poolCount * 2, LOCATIONS * AGENTS);
  const locationOf = (i: number): string => `loc-${i % LOCATIONS}`;
  for (let l = 0; l < LOCATIONS; l++) {
    const r = await bp.api('POST', '/api/locations', { id: `loc-${l}`, name: `Location ${l}` });
    if (r.status !== 201) throw new Error(`creating loc-${l}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const poolDevs = fleet.devs.slice(0, poolCount);
  const ownedDevs = fleet.devs.slice(poolCount);
  clients.push(...(await pool('connecting devices', fleet.devs, 10, (d) => answeringDevice(bp.mqttUrl, d, (job) => onCmd(d.id, job)))));
  await pool('placing pool devices', poolDevs, 16, async (d, i) => {
    const r = await bp.api('PATCH', `/api/devices/${d.id}`, { location: locationOf(i), mode: 'pool' });
    if (r.status !== 200) throw new Error(`placing ${d.id}: ${r.status} ${JSON.stringify(r.body)}`);
  });
  const agents = await pool('connecting agents, joining locations, claiming owned devices', fleet.agents, 20, async (login, i): Promise<Agent> => {
    const location = locationOf(i);
    const r = await bp.api('PATCH', `/api/agents/${login.id}`, { locations: [location] });
    if (r.status !== 200) throw new Error(`placing ${login.id}: ${r.status} ${JSON.stringify(r.body)}`);
    const client = await connectAgent(bp.mqttUrl, login.id, login.token);
    clients.push(client);
    const owned = i < ownedDevs.length ? ownedDevs[i]!.id : null;
    if (owned !== null) await claimOne(client, login.id, owned);
    const a: Agent = { id: login.id, client, location, owned, answers: new Map() };
    client.on('message', (_t, payload) => {
      const body = JSON.parse(payload.toString('utf8'));
      if (body.id === undefined) return;
      a.answers.get(body.id)?.(body);
      a.answers.delete(body.id);
    });
    await subscribe(client, agentTopic(login.id, 'res'));
    return a;
  });
  await afterSetupStorm(bp, fleet.devs.length + agents.length, log);
  // What the broker spends with every client connected and no job: the floor under a fixed-rate round's CPU per job.
  const idle0 = cpuMsOf(bp.child.pid!)!;
  await sleep(3000);
  const idleMsPerSec = (cpuMsOf(bp.child.pid!)! - idle0) / 3;
  log(`idle broker: ${idleMsPerSec.toFixed(0)} ms CPU per second`);
  const owners = agents.filter((a) => a.owned !== null);
  const leasesGone = async (): Promise<void> => {
    for (;;) {
      const r = await bp.api('GET', '/api/leases');
      if (r.status === 200 && r.body.length === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  const poolSubmits = agents.map((a): [Agent, Record<string, unknown>] => [a, { pool: a.location }]);
  // The same number of jobs, spread over the owned devices by their owners.
  const ownedSubmits = agents.map((_, i): [Agent, Record<string, unknown>] => {
    const a = owners[i % owners.length]!;
    return [a, { device: a.owned! }];
  });
  // The first rounds on a fresh broker cost more, the pool's most: its CPU per job fell by half or
  // more over the first three rounds, while the registry's WAL grew to its working size. The
  // medians are taken after them, as a broker runs once it has worked for a while.
  const rounds = async (rate: number, warmup: number): Promise<{ pools: Round[]; owneds: Round[] }> => {
    const pools: Round[] = [];
    const owneds: Round[] = [];
    const how = rate === 0 ? 'at once' : `at ${rate} jobs/s`;
    for (let n = 1 - warmup; n <= ROUNDS; n++) {
      const p = await round(bp, poolSubmits, rate, leasesGone);
      const o = await round(bp, ownedSubmits, rate, async () => undefined);
      if (n > 0) {
        pools.push(p);
        owneds.push(o);
      }
      log(
        `${n > 0 ? `round ${n}/${ROUNDS}` : `warm-up ${n + warmup}/${warmup} (not counted)`} ${how}: pool p50 ${p.p50.toFixed(1)} p99 ${p.p99.toFixed(1)} ms, ${p.jobsPerSec.toFixed(0)} jobs/s, ${p.cpuUsPerJob.toFixed(0)} µs CPU/job; owned p50 ${o.p50.toFixed(1)} p99 ${o.p99.toFixed(1)} ms, ${o.jobsPerSec.toFixed(0)} jobs/s, ${o.cpuUsPerJob.toFixed(0)} µs CPU/job`,
      );
    }
    return { pools, owneds };
  };
  const burst = await rounds(0, WARMUP);
  const paced = RATE > 0 ? await rounds(RATE, 0) : null;

  const med = (rs: Round[], k: 'p50' | 'p99' | 'jobsPerSec' | 'cpuUsPerJob' | 'sqlPerJob' | 'messagesPerJob'): number => median(rs.map((r) => r[k]));
  const handovers = (rs: Round[]): number[] => rs.flatMap((r) => r.handover).sort((x, y) => x - y);
  const line = (name: string, rs: Round[]) =>
    `  ${name.padEnd(6)} dispatch p50 ${med(rs, 'p50').toFixed(1).padStart(8)} ms  p99 ${med(rs, 'p99').toFixed(1).padStart(8)} ms   ${med(rs, 'jobsPerSec').toFixed(0).padStart(6)} jobs/s   broker CPU ${med(rs, 'cpuUsPerJob').toFixed(0).padStart(6)} µs/job  ${med(rs, 'sqlPerJob').toFixed(1).padStart(5)} SQL statements/job  ${med(rs, 'messagesPerJob').toFixed(1).padStart(5)} messages out/job`;
  // A handover is measured only when jobs wait for the device; at a fixed rate it is the gap between submits.
  const report = (title: string, { pools, owneds }: { pools: Round[]; owneds: Round[] }, withHandover: boolean): void => {
    const handover = handovers(pools);
    const ownedHandover = handovers(owneds);
    console.log(title);
    console.log(line('pool', pools));
    console.log(line('owned', owneds));
    if (withHandover)
      console.log(
        `  handover (a device's done → its next cmd): pool p50 ${percentile(handover, 50).toFixed(1)} ms  p99 ${percentile(handover, 99).toFixed(1)} ms over ${handover.length} (each a lease ending and the next starting); owned p50 ${percentile(ownedHandover, 50).toFixed(1)} ms  p99 ${percentile(ownedHandover, 99).toFixed(1)} ms over ${ownedHandover.length}`,
      );
    const ratio = med(pools, 'p99') / med(owneds, 'p99');
    console.log(
      `  pool/owned: dispatch p99 ${ratio.toFixed(2)}× (target ≤ 1.5×), p50 ${(med(pools, 'p50') / med(owneds, 'p50')).toFixed(2)}×, jobs/s ${(med(pools, 'jobsPerSec') / med(owneds, 'jobsPerSec')).toFixed(2)}×, CPU/job ${(med(pools, 'cpuUsPerJob') / med(owneds, 'cpuUsPerJob')).toFixed(2)}×`,
    );
  };
  const jobs = LOCATIONS * AGENTS;
  console.log('');
  console.log(
    `pool benchmark: ${LOCATIONS} locations × ${DEVICES} devices × ${AGENTS} agents; ${jobs} jobs per round on ${poolCount} devices either way; medians of ${ROUNDS} rounds after ${WARMUP} warm-up rounds`,
  );
  report("every job of a round submitted at once (the broker saturated: latency is the round's length, set by CPU per job):", burst, true);
  if (paced !== null)
    report(
      `the same rounds submitted at ${RATE} jobs/s (below saturation; the idle broker's ${idleMsPerSec.toFixed(0)} ms CPU per second is ${((idleMsPerSec * 1000) / RATE).toFixed(0)} µs of each job's CPU here):`,
      paced,
      false,
    );
  if (values['cpu-prof']) {
    // The broker makes the directory only when it stops and writes its profile.
    mkdirSync(resolve(values['cpu-prof']), { recursive: true });
    const spans = (rs: Round[]): string => JSON.stringify(rs.map((r) => r.span));
    writeFileSync(join(resolve(values['cpu-prof']), 'pool-rounds.json'), spans(burst.pools));
    writeFileSync(join(resolve(values['cpu-prof']), 'owned-rounds.json'), spans(burst.owneds));
    if (paced !== null) {
      writeFileSync(join(resolve(values['cpu-prof']), 'pool-paced-rounds.json'), spans(paced.pools));
      writeFileSync(join(resolve(values['cpu-prof']), 'owned-paced-rounds.json'), spans(paced.owneds));
    }
  }
} finally {
  await end(...clients);
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
