// Jobs benchmark: fleetbind, bare Aedes and Mosquitto (when it runs on 127.0.0.1:1883), each
// broker in its own process, with raw MQTT devices that answer every job at once and agents that
// submit (bench/jobs/rig.ts, peer-rig.ts). Two phases, each run once per broker per round with the
// brokers interleaved and a different broker first each round, so a machine that gets busier hits
// every broker alike:
//   saturation: every device keeps one job in flight, so the broker is the limit;
//   fixed rate: jobs offered at --rate jobs/s spread over all devices (open loop).
// A fleetbind job ends when the agent sees it in the device's queue snapshot; a peer job when the
// agent sees the device's done. Prints medians of jobs/s, submit-to-done p50/p99 and the broker's
// CPU time per job (from /proc/<pid>/stat, which a loaded machine inflates far less than wall
// time) and, for fleetbind on SQLite, the SQL statements per job (its fleetbind_sql_statements_total),
// fleetbind's ratios to each peer, and the generator's own CPU per job.
// --before REF adds fleetbind as it was at that commit, as one more broker in the same rounds.
// --cpu-prof <dir> writes each fleetbind broker's V8 CPU profile there when it stops, with the spans of its
// saturation and fixed-rate phases beside it (saturation-phases.json, rate-phases.json) for profile-top.
//
//   npm run bench:jobs -- [--devices 1000] [--agents 100] [--seconds 10] [--rate 500] [--rounds 3] [--before REF] [--cpu-prof dir]
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { median, percentile } from '../lib/load';
import { type Checkout, checkoutOf } from '../lib/checkout';
import { mosquittoPid, type PeerProcess, startBareAedes } from '../lib/peers';
import { cpuMsOf, monoUs, UNLIMITED_REQUESTS } from '../lib/proc';
import { log, provisionFleet } from './fleet';
import { peerRig } from './peer-rig';
import { fleetbindRig, type JobRig } from './rig';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:jobs --',
    usage: ['[--devices 1000] [--agents 100] [--seconds 10] [--rate 500] [--rounds 3] [--before REF] [--cpu-prof DIR]'],
    summary:
      "fleetbind, bare Aedes and Mosquitto (when on 127.0.0.1:1883) in their own processes; raw MQTT devices answer every job at once. Saturation: one job in flight on every device. Fixed rate: jobs offered at --rate. Rounds interleave the brokers. Prints medians of jobs/s, submit-to-done p50/p99 and each broker's CPU time per job, with fleetbind's ratios.",
    options: {
      devices: { type: 'string', value: 'N', default: '1000', help: 'simulated devices (raw MQTT clients)' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents, each holding devices/agents devices' },
      seconds: { type: 'string', value: 'S', default: '10', help: 'length of each phase' },
      rate: { type: 'string', value: 'JOBS', default: '500', help: 'jobs offered per second in the fixed-rate phase' },
      rounds: { type: 'string', value: 'N', default: '3', help: 'rounds; each runs both phases on every broker, and medians are printed' },
      'no-peers': { type: 'boolean', help: 'measure fleetbind alone' },
      before: { type: 'string', value: 'REF', help: 'also run fleetbind as of this commit (same dependencies), in the same rounds' },
      'cpu-prof': { type: 'string', value: 'DIR', help: "write each fleetbind broker's V8 CPU profile into DIR (a subdirectory per broker) when it stops" },
    },
  }),
);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(DEVICES) || !Number.isInteger(AGENTS) || AGENTS < 1 || DEVICES < AGENTS)
  throw new Error('--devices and --agents must be integers with devices >= agents >= 1');
if (!(SECONDS > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);
if (!(RATE > 0)) throw new Error(`--rate must be positive, got ${values.rate}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);

interface Phase {
  jobsPerSec: number;
  done: number;
  failed: number;
  refused: number;
  p50: number;
  p99: number;
  /** p99 of each part of a done job's latency: submit → its cmd at the device, and that → the agent seeing it done. */
  dispatchP99: number;
  finishP99: number;
  cpuUsPerJob: number;
  genUsPerJob: number;
  sqlPerJob: number;
  /** [start, end] in µs of the monotonic clock, which the broker's CPU profile uses. */
  span: [number, number];
}
type Mode = 'saturate' | 'rate';

/** Submits jobs for `seconds`, each timed from its publish to the agent seeing it end. */
async function phase(rig: JobRig, seconds: number, mode: Mode): Promise<Phase> {
  const latencies: number[] = [];
  const dispatches: number[] = [];
  const finishes: number[] = [];
  let done = 0;
  let failed = 0;
  let refused = 0;
  let inFlight = 0;
  let stopping = false;
  const submit = (device: string): void => {
    if (stopping) return;
    const at = performance.now();
    inFlight++;
    rig.submit(device, (outcome, endedAt, cmdAt) => {
      inFlight--;
      if (outcome === 'done') {
        done++;
        latencies.push(endedAt - at);
        if (cmdAt !== undefined) {
          dispatches.push(cmdAt - at);
          finishes.push(endedAt - cmdAt);
        }
      } else if (outcome === 'failed') failed++;
      else refused++;
      if (mode === 'saturate') {
        if (outcome === 'refused') setTimeout(() => submit(device), 50);
        else submit(device);
      }
    });
  };
  const sqlBefore = (await rig.statements?.()) ?? NaN;
  const cpuBefore = cpuMsOf(rig.pid)!;
  const genBefore = process.cpuUsage();
  const started = performance.now();
  const mono0 = monoUs();
  let ticker: NodeJS.Timeout | null = null;
  if (mode === 'saturate') rig.devices.forEach(submit);
  else {
    // Open loop: the offered rate does not slow down when the broker does.
    let offered = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE);
      for (; offered < due; offered++) submit(rig.devices[offered % rig.devices.length]!);
    }, 2);
  }
  let last = 0;
  const progress = setInterval(() => {
    log(
      `  ${rig.name} ${mode === 'saturate' ? 'saturation' : `${RATE} jobs/s`} ${((performance.now() - started) / 1000).toFixed(0)} s: ${done} done (${((done - last) / 2).toFixed(0)} jobs/s now), ${inFlight} in flight, ${failed} failed, ${refused} refused`,
    );
    last = done;
  }, 2000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stopping = true;
  if (ticker) clearInterval(ticker);
  const elapsed = (performance.now() - started) / 1000;
  const span: [number, number] = [mono0, monoUs()];
  const completed = done;
  const cpuMs = cpuMsOf(rig.pid)! - cpuBefore;
  const gen = process.cpuUsage(genBefore);
  // Let what is in flight finish, so the next phase starts on empty queues.
  const drainBy = performance.now() + 30_000;
  while (inFlight > 0 && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 50));
  clearInterval(progress);
  if (inFlight > 0) log(`  ${rig.name}: ${inFlight} jobs still in flight 30 s after the phase ended`);
  // Read once the jobs in flight are done: a scrape of /metrics holds the broker's event loop for
  // 10 ms or more, and taken while jobs were in flight it set the p99 of a fixed-rate phase. So the
  // statements are counted over every job done, drained ones included.
  const sql = ((await rig.statements?.()) ?? NaN) - sqlBefore;
  for (const xs of [latencies, dispatches, finishes]) xs.sort((a, b) => a - b);
  const per = (us: number): number => us / Math.max(1, completed);
  return {
    jobsPerSec: completed / elapsed,
    done: completed,
    failed,
    refused,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    dispatchP99: percentile(dispatches, 99),
    finishP99: percentile(finishes, 99),
    cpuUsPerJob: per(cpuMs * 1000),
    genUsPerJob: per(gen.user + gen.system),
    sqlPerJob: sql / Math.max(1, done),
    span,
  };
}

const dirs: string[] = [];
const admin = randomBytes(24).toString('hex');
const rigs: JobRig[] = [];
const peers: PeerProcess[] = [];
const brokers: BrokerProcess[] = [];
let before: Checkout | null = null;

/** Where the broker of that name writes its CPU profile under --cpu-prof. */
const profileDir = (name: string): string => join(resolve(values['cpu-prof']!), name.replace(/\W+/g, '-'));

/** A fleetbind broker from `checkout` with its own registry, fleet and rig. */
async function fleetbind(name: string, checkout?: string): Promise<JobRig> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-jobs-'));
  dirs.push(dir);
  const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir(name)] : [];
  const bp = await BrokerProcess.start(
    dir,
    admin,
    ['--log-level', 'info', '--device-limit', String(Math.ceil(DEVICES / AGENTS)), ...UNLIMITED_REQUESTS],
    nodeFlags,
    checkout,
  );
  brokers.push(bp);
  log(`${name} pid ${bp.child.pid} on ${bp.mqttUrl}`);
  return { ...(await fleetbindRig(bp, await provisionFleet(bp, DEVICES, AGENTS))), name };
}

try {
  log(`${DEVICES} devices, ${AGENTS} agents, ${SECONDS} s per phase, ${ROUNDS} rounds`);
  rigs.push(await fleetbind('fleetbind'));
  if (values.before) {
    before = checkoutOf(values.before);
    rigs.push(await fleetbind(`fleetbind ${before.commit}`, before.dir));
  }
  if (!values['no-peers']) {
    const bare = await startBareAedes('upstream');
    peers.push(bare);
    rigs.push(await peerRig('bare Aedes', bare.url, bare.child.pid!, DEVICES, AGENTS));
    const mosquitto = mosquittoPid();
    if (mosquitto !== null) rigs.push(await peerRig('Mosquitto', 'mqtt://127.0.0.1:1883', mosquitto, DEVICES, AGENTS));
    else log('Mosquitto is not running on 127.0.0.1:1883; it is left out');
  }

  const results = new Map<string, Record<Mode, Phase[]>>(rigs.map((r) => [r.name, { saturate: [], rate: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round another broker goes first: the one right after the last broker's saturation
    // phase ran slower (in an A/A run of the same commit, p99 66-145 ms first against 57-79 ms second).
    const order = [...rigs.slice((round - 1) % rigs.length), ...rigs.slice(0, (round - 1) % rigs.length)];
    for (const mode of ['saturate', 'rate'] as const) {
      for (const rig of order) {
        const p = await phase(rig, SECONDS, mode);
        results.get(rig.name)![mode].push(p);
        log(
          `round ${round} ${rig.name} ${mode === 'saturate' ? 'saturation' : `${RATE} jobs/s`}: ${p.jobsPerSec.toFixed(0)} jobs/s, p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms (submit → cmd ${p.dispatchP99.toFixed(1)}, cmd → seen done ${p.finishP99.toFixed(1)}), broker ${p.cpuUsPerJob.toFixed(0)} µs CPU/job${Number.isNaN(p.sqlPerJob) ? '' : `, ${p.sqlPerJob.toFixed(1)} SQL statements/job`}, generator ${p.genUsPerJob.toFixed(0)} µs/job`,
        );
      }
    }
  }

  const med = (ps: Phase[], k: Exclude<keyof Phase, 'span'>): number => median(ps.map((p) => p[k]));
  console.log('');
  console.log(`jobs benchmark: ${DEVICES} devices answering at once, ${AGENTS} agents, ${SECONDS} s per phase, medians of ${ROUNDS} interleaved rounds`);
  console.log("(the machine may be loaded: compare CPU per job and the ratios; Mosquitto's CPU includes anyone else using it)");
  for (const mode of ['saturate', 'rate'] as const) {
    console.log(`  ${mode === 'saturate' ? 'saturation: one job in flight on every device' : `fixed rate: ${RATE} jobs/s offered`}`);
    console.log(
      `    ${'broker'.padEnd(17)} ${'jobs/s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU/job'.padStart(10)} ${'SQL/job'.padStart(8)} ${'gen CPU/job'.padStart(12)}   done / failed / refused (all rounds)`,
    );
    for (const [name, r] of results) {
      const ps = r[mode];
      const sum = (k: 'done' | 'failed' | 'refused'): number => ps.reduce((a, p) => a + p[k], 0);
      console.log(
        `    ${name.padEnd(17)} ${med(ps, 'jobsPerSec').toFixed(0).padStart(7)} ${med(ps, 'p50').toFixed(1).padStart(8)} ${med(ps, 'p99').toFixed(1).padStart(8)} ${med(ps, 'cpuUsPerJob').toFixed(0).padStart(7)} µs ${(Number.isNaN(med(ps, 'sqlPerJob')) ? '-' : med(ps, 'sqlPerJob').toFixed(1)).padStart(8)} ${med(ps, 'genUsPerJob').toFixed(0).padStart(9)} µs   ${sum('done')} / ${sum('failed')} / ${sum('refused')}`,
      );
    }
    console.log(
      `    p99 of each part, submit → cmd at the device / cmd → the agent seeing it done: ${[...results].map(([name, r]) => `${name} ${med(r[mode], 'dispatchP99').toFixed(1)} / ${med(r[mode], 'finishP99').toFixed(1)} ms`).join(', ')}`,
    );
    const fb = results.get('fleetbind')![mode];
    for (const [name, r] of results) {
      if (name === 'fleetbind') continue;
      console.log(
        `    fleetbind / ${name}: CPU per job ${(med(fb, 'cpuUsPerJob') / med(r[mode], 'cpuUsPerJob')).toFixed(1)}×, jobs/s ${(med(fb, 'jobsPerSec') / med(r[mode], 'jobsPerSec')).toFixed(2)}×, p99 ${(med(fb, 'p99') / med(r[mode], 'p99')).toFixed(1)}×`,
      );
    }
  }
  if (values['cpu-prof']) {
    // Beside each fleetbind broker's profile (its directory appears when the broker stops), the spans
    // of its phases, for profile-top's third argument.
    for (const [name, r] of results) {
      if (!name.startsWith('fleetbind')) continue;
      const dir = profileDir(name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'saturation-phases.json'), JSON.stringify(r.saturate.map((p) => p.span)));
      writeFileSync(join(dir, 'rate-phases.json'), JSON.stringify(r.rate.map((p) => p.span)));
    }
  }
  for (const bp of brokers) {
    const errors = bp.logLines().filter((l) => Number(l.level) >= 50);
    if (errors.length > 0) console.log(`  fleetbind pid ${bp.child.pid} logged ${errors.length} errors; the first: ${JSON.stringify(errors[0])}`);
  }
} finally {
  await Promise.all(rigs.map((r) => r.close()));
  await Promise.all(peers.map((p) => p.stop()));
  await Promise.all(brokers.map((b) => b.stop('SIGTERM')));
  before?.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
