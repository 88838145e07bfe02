// Fleet benchmark: 10,000 simulated devices, each the real firmware core, enroll with
// one token and connect to one broker running as its own process, then the broker is killed
// and restarted on the same ports. Prints devices registered per second, the time until all
// are ready, the broker's RSS per connected device, and how long all took to come back.
// Targets: all ready with broker RSS under 1 GiB, all back within 60 s of the restart.
// Then the registered fleet reboots at once. Last, bursts of plain MQTT clients sending a device's
// packets run against fleetbind (logging in as the registered devices), bare Aedes (as shipped,
// and with fleetbind's retained index) and Mosquitto, in interleaved rounds, so the figures come
// with peer ratios from the same run and the same load generator: the 10,000 firmware cores of the
// reboot cost the generator far more than plain clients, which changes how the connects reach the
// broker.
// --cpu-prof <dir> writes the restarted broker's V8 CPU profile there when it stops, with the spans
// of the reboot (reboot.json) and of fleetbind's bursts (fleetbind-bursts.json) beside it, for
// profile-top's third argument.
//
//   npm run bench:fleet -- [--devices 10000] [--ramp 0] [--timeout 900] [--peer-deadline 180] [--rounds 3] [--no-peers] [--heap-snapshots DIR] [--cpu-prof DIR]
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { pino } from 'pino';
import { SimFleet, type FleetStats, simFirmwareVersion } from '../../host-tools/simulate/fleet';
import { SIM_CAPS, SIM_MODEL } from '../../host-tools/simulate/device';
import { deviceTopic } from '../../protocol/topics';
import { median } from '../lib/load';
import { progressLine } from '../../host-tools/simulate/progress';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { metric } from '../../test/helpers/metrics';
import { brokerCounters } from '../lib/broker-counters';
import { growthLines, heapGrowth } from '../lib/heap-diff';
import { mosquittoPid, startBareAedes } from '../lib/peers';
import { cpuMsOf, monoUs, rssOf } from '../lib/proc';
import { type BurstClient, type BurstOptions, type BurstResult, burst, peerClients } from './peer';

const GiB = 1024 ** 3;
const { values } = readCli(
  defineCli({
    command: 'npm run bench:fleet --',
    usage: ['[--devices 10000] [--ramp 0] [--timeout 900] [--peer-deadline 180] [--rounds 3] [--no-peers] [--heap-snapshots DIR] [--cpu-prof DIR]'],
    summary:
      'Simulated devices (the real firmware core) enroll with one token against a broker in its own process, which is then killed and restarted, and the fleet reboots at once; then the same burst of plain clients runs against fleetbind, bare Aedes and Mosquitto in interleaved rounds. Prints registrations/s, time to all ready, RSS per device, recovery time, and the bursts with peer ratios.',
    options: {
      devices: { type: 'string', value: 'N', default: '10000', help: 'how many devices' },
      ramp: { type: 'string', value: 'S', default: '0', help: 'start the devices spread over S seconds' },
      timeout: { type: 'string', value: 'S', default: '900', help: 'give up on the fleet getting ready after S seconds' },
      'peer-deadline': { type: 'string', value: 'S', default: '180', help: "give up on a peer broker's burst after S seconds" },
      rounds: { type: 'string', value: 'N', default: '3', help: 'plain-client bursts per broker, interleaved; medians are printed' },
      'no-peers': { type: 'boolean', default: false, help: 'skip the bare Aedes and Mosquitto bursts' },
      'heap-snapshots': {
        type: 'string',
        value: 'DIR',
        help: "write the broker's heap snapshots at idle and with every device connected into DIR, and print what grew per device by constructor",
      },
      'cpu-prof': {
        type: 'string',
        value: 'DIR',
        help: "write the restarted broker's V8 CPU profile into DIR, with the spans of the reboot (reboot.json) and of fleetbind's bursts from first connect to last answer, the window their CPU figure covers (fleetbind-bursts.json)",
      },
    },
  }),
);
const DEVICES = Number(values.devices);
const RAMP_S = Number(values.ramp);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const PEER_DEADLINE_MS = Number(values['peer-deadline']) * 1000;
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
if (!Number.isInteger(DEVICES) || DEVICES < 1) throw new Error(`--devices must be a positive integer, got ${values.devices}`);

/** The broker's resident memory; a broker that died is reported with the end of its output. */
function brokerRss(b: BrokerProcess): number {
  const rss = rssOf(b.child.pid!);
  if (rss === null) throw new Error(`the broker process ${b.child.pid} has exited; its last output:\n${b.stderr.slice(-3000)}\n${b.stdout.slice(-1500)}`);
  return rss;
}

function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Infinity;
}

/** Hashes the broker skipped because the device had given up on that attempt. */
async function droppedHashes(b: BrokerProcess): Promise<number> {
  const r = await b.api<string>('GET', '/metrics');
  return metric(r.body, 'fleetbind_secret_hashes_dropped_total');
}

const SNAPSHOT_DIR = values['heap-snapshots'] === undefined ? null : resolve(values['heap-snapshots']);
const PROFILE_DIR = values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']);

/**
 * Has the broker write a heap snapshot (it does so on the signal, blocking its event loop until
 * the file is complete, so the next answer it gives comes after) and names it after the phase.
 */
async function heapSnapshot(b: BrokerProcess, dir: string, phase: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  b.child.kill('SIGUSR2');
  for (;;) {
    const fresh = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (fresh.length > 0 && (await b.api('GET', '/healthz')).status === 200) {
      const file = join(dir, `${phase}.heapsnapshot`);
      renameSync(join(dir, fresh[0]!), file);
      return file;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The heap compactions the broker logged after connect storms, as their pauses. */
function compactionPauses(b: BrokerProcess): string {
  const ms = b
    .logLines()
    .filter((l) => l.msg === 'heap compacted after a connect storm')
    .map((l) => `${l.ms} ms`);
  return ms.length === 0 ? 'no heap compaction' : `heap compacted ${ms.length}× (pauses ${ms.join(', ')})`;
}

const mib = (b: number): string => `${(b / 1024 ** 2).toFixed(0)} MiB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const tty = process.stdout.isTTY === true;
let lastPrinted = 0;
function progress(phase: string, s: FleetStats, since: number, broker: BrokerProcess | null): void {
  const now = Date.now();
  if (!tty && now - lastPrinted < 5000) return;
  lastPrinted = now;
  const rss = broker ? `  broker RSS ${mib(brokerRss(broker))}` : '';
  const line = `${phase} ${progressLine(s, now - since)}${rss}`;
  if (tty) process.stdout.write(`\r${line}\x1b[K`);
  else console.log(line);
}

/** Polls the fleet until `done`, showing progress; throws after TIMEOUT_MS. */
async function until(phase: string, fleet: SimFleet, since: number, broker: BrokerProcess | null, done: (s: FleetStats) => boolean): Promise<FleetStats> {
  for (;;) {
    const s = fleet.stats();
    progress(phase, s, since, broker);
    if (done(s)) {
      if (tty) process.stdout.write('\n');
      return s;
    }
    if (Date.now() - since > TIMEOUT_MS) throw new Error(`${phase}: not done after ${secs(TIMEOUT_MS)}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, tty ? 250 : 1000));
  }
}

const limit = openFilesLimit();
// Every simulated device connects from 127.0.0.1, where a field fleet comes from its devices' own
// addresses: the broker's per-address limit on connections not yet through CONNECT would shed the
// storm here (bare Aedes and Mosquitto have none), so it is lifted to the fleet's size.
const BROKER_FLAGS = ['--pre-auth-per-address', String(DEVICES)];
if (limit < DEVICES + 1024) console.warn(`warning: open files limit is ${limit}; ${DEVICES} devices need about ${DEVICES + 1024} (ulimit -n)`);

const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-fleet-'));
// Devices keep their preferences in files, so the same registered fleet can boot again.
const stateDir = join(dataDir, 'devices');
const adminToken = randomBytes(24).toString('hex');
let broker: BrokerProcess | null = null;
let fleet: SimFleet | null = null;

function newFleet(url: string, enrollToken?: string): SimFleet {
  return new SimFleet({
    devices: DEVICES,
    broker: url,
    ...(enrollToken ? { enrollToken } : {}),
    machinesPrefix: 'BENCH-',
    stateDir,
    rampMs: RAMP_S * 1000,
    log: pino({ level: 'silent' }),
  });
}

/** A broker the bursts run against, the clients it gets, and what each round measured. */
interface Target {
  name: string;
  url: string;
  pid: number | null;
  /** The clients of each burst: a peer's get fresh ids every round, so no session of an earlier one is taken over. */
  clients: () => BurstClient[];
  options: BurstOptions;
  /** Bursts it takes: the first `rounds` of the run. */
  rounds: number;
  results: BurstResult[];
  stop(): Promise<void>;
}

async function burstOn(t: Target, round: number): Promise<BurstResult> {
  const label = `${t.name}, round ${round}`;
  const result = await burst(t.url, t.clients(), t.options, PEER_DEADLINE_MS, t.pid, (done, elapsed) => {
    const line = `${label} [${(elapsed / 1000).toFixed(0).padStart(4)} s] done ${done}/${DEVICES}`;
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (Math.round(elapsed / 1000) % 5 === 0) console.log(line);
  });
  if (tty) process.stdout.write('\n');
  return result;
}

/** The registered devices as plain clients: they log in with the secrets the fleet enrolled for, and say the simulator's hello. */
function deviceClients(f: SimFleet): BurstClient[] {
  return f.devices.map((d) => {
    const id = d.prefs.get('id');
    const secret = d.prefs.get('secret');
    if (id === undefined || secret === undefined) throw new Error(`device ${d.mac} has no credentials after the reboot`);
    const hello = JSON.stringify({ fw: simFirmwareVersion(), model: SIM_MODEL, mac: d.mac, caps: SIM_CAPS, boot: 2, uptime: 1 });
    const topics = { config: deviceTopic(id, 'config'), cmd: deviceTopic(id, 'cmd'), status: deviceTopic(id, 'status'), hello: deviceTopic(id, 'hello') };
    return { clientId: id, username: id, password: secret, topics, hello };
  });
}

try {
  console.log(`bench:fleet: ${DEVICES} simulated devices${RAMP_S > 0 ? `, started over ${RAMP_S} s` : ''}; broker data in ${dataDir}`);
  for (const dir of [SNAPSHOT_DIR, PROFILE_DIR]) if (dir) mkdirSync(dir, { recursive: true });
  const snapshotFlags = SNAPSHOT_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOT_DIR}`] : [];
  broker = await BrokerProcess.start(dataDir, adminToken, BROKER_FLAGS, snapshotFlags);
  const { port: mqttPort } = new URL(broker.mqttUrl);
  const { port: httpPort } = new URL(broker.httpUrl);
  const idleRss = brokerRss(broker);
  const idleSnapshot = SNAPSHOT_DIR ? await heapSnapshot(broker, SNAPSHOT_DIR, 'idle') : null;
  const token = await broker.api<{ token: string }>('POST', '/api/enrollment-tokens', { uses: DEVICES, expiresIn: 3600, allowMachineCodes: true });
  if (token.status !== 201) throw new Error(`creating the enrollment token failed: ${token.status} ${JSON.stringify(token.body)}`);

  fleet = newFleet(broker.mqttUrl, token.body.token);
  const started = Date.now();
  fleet.start();
  await until('enroll', fleet, started, broker, (s) => s.registered === DEVICES && s.connected === DEVICES);
  const allRegisteredAt = fleet.lastEnrolledAt!;
  const readyMs = fleet.allConnectedAt! - started;
  // Let the broker settle (hello handling, presence, GC) before reading its memory.
  await new Promise((r) => setTimeout(r, 3000));
  const readyRss = brokerRss(broker);
  const attemptsToReady = fleet.stats().connectAttempts;
  const droppedEnrolling = await droppedHashes(broker);
  const enrollCompactions = compactionPauses(broker);
  const readySnapshot = SNAPSHOT_DIR ? await heapSnapshot(broker, SNAPSHOT_DIR, `${DEVICES}-devices`) : null;

  const killedAt = Date.now();
  await broker.stop('SIGKILL');
  broker = null;
  await until('down', fleet, killedAt, null, (s) => s.connected === 0);
  const profileFlags = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
  broker = await BrokerProcess.start(dataDir, adminToken, [...BROKER_FLAGS, '--mqtt-port', mqttPort, '--http-port', httpPort], profileFlags);
  const upAt = Date.now();
  await until('back', fleet, upAt, broker, (s) => s.connected === DEVICES);
  const backMs = fleet.lastAllConnectedAt! - upAt;
  const backAfterKillMs = fleet.lastAllConnectedAt! - killedAt;
  const attemptsToBack = fleet.stats().connectAttempts - attemptsToReady;
  // Those made while no broker listened were refused by the machine, not by the broker.
  const refusedUnheard = fleet.devices.reduce(
    (n, d) => n + d.mqtt.attempts.filter((a) => a.at >= killedAt && a.close?.reason?.includes('ECONNREFUSED') === true).length,
    0,
  );
  const droppedBack = await droppedHashes(broker);
  fleet.stop();
  await fleet.saved();

  // Like the bursts below: every device starts its session at the same instant.
  await new Promise((r) => setTimeout(r, 3000));
  fleet = newFleet(broker.mqttUrl);
  const bootedAt = Date.now();
  const rebootCounters0 = await brokerCounters(broker);
  const rebootCpu0 = cpuMsOf(broker.child.pid!)!;
  const rebootMono0 = monoUs();
  fleet.start();
  // Done when every device has the config that answers its hello, as a burst's client is: the
  // hellos' writes and answers are part of a reboot's work, and a window closed at the CONNACKs
  // held them or not depending on how fast they went.
  await until('reboot', fleet, bootedAt, broker, (s) => s.connected === DEVICES && s.answered === DEVICES);
  const rebootCpuMs = cpuMsOf(broker.child.pid!)! - rebootCpu0;
  if (PROFILE_DIR) writeFileSync(join(PROFILE_DIR, 'reboot.json'), JSON.stringify([[rebootMono0, monoUs()]]));
  const rebootCounters = await brokerCounters(broker);
  const perDevice = (k: 'sql' | 'messagesOut'): string => ((rebootCounters[k] - rebootCounters0[k]) / DEVICES).toFixed(1);
  const rebootMs = Math.max(fleet.allConnectedAt!, fleet.allAnsweredAt!) - bootedAt;
  const rebootAttempts = fleet.stats().connectAttempts;
  await new Promise((r) => setTimeout(r, 3000));
  const rebootRss = brokerRss(broker);
  const restartCompactions = compactionPauses(broker);
  const clients = deviceClients(fleet);
  fleet.stop();
  fleet = null;
  await new Promise((r) => setTimeout(r, 3000));

  // The same plain-client burst against fleetbind and each peer, round after round, so that the
  // medians compare brokers under the same generator and the same moments of the machine's load.
  const b = broker;
  const targets: Target[] = [
    {
      name: 'fleetbind',
      url: b.mqttUrl,
      pid: b.child.pid ?? null,
      clients: () => clients,
      options: { answered: true, clearRetained: false },
      rounds: ROUNDS,
      results: [],
      stop: async () => undefined,
    },
  ];
  const ours = targets[0]!;
  const notRun: { name: string; why: string }[] = [];
  if (!values['no-peers']) {
    const peer = { clients: () => peerClients(DEVICES), options: { answered: false, clearRetained: true } };
    // Aedes as shipped scans every retained message per subscription: at thousands of clients a
    // burst takes minutes, and one round shows that; the peer the targets name has the trie.
    for (const [name, persistence, rounds] of [
      ['bare Aedes', 'upstream', 1],
      ['bare Aedes + retained trie', 'indexed', ROUNDS],
    ] as const) {
      try {
        const p = await startBareAedes(persistence);
        targets.push({ ...peer, name, url: p.url, pid: p.child.pid ?? null, rounds, results: [], stop: p.stop });
      } catch (err) {
        notRun.push({ name, why: (err as Error).message });
      }
    }
    const pid = mosquittoPid();
    if (pid === null) notRun.push({ name: 'Mosquitto', why: 'no Mosquitto pid file (/run/mosquitto/mosquitto.pid); is it running on 127.0.0.1:1883?' });
    else targets.push({ ...peer, name: 'Mosquitto', url: 'mqtt://127.0.0.1:1883', pid, rounds: ROUNDS, results: [], stop: async () => undefined });
  }
  const burstSpans: [number, number][] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++)
      for (const t of targets) {
        if (round > t.rounds) continue;
        const result = await burstOn(t, round);
        t.results.push(result);
        if (t === ours) burstSpans.push(result.window);
      }
  } finally {
    for (const t of targets) await t.stop();
  }
  if (PROFILE_DIR) writeFileSync(join(PROFILE_DIR, 'fleetbind-bursts.json'), JSON.stringify(burstSpans));
  // Node writes the profile only on a clean exit.
  await (PROFILE_DIR ? b.stop('SIGTERM') : b.kill());
  broker = null;

  // Over the first broker's idle memory: the restarted one had devices arriving as it listened.
  const rebootPerDevice = (rebootRss - idleRss) / DEVICES;
  const complete = (t: Target): BurstResult[] => t.results.filter((r) => r.ms !== null && r.cpuMs !== null);
  const medianMs = (t: Target): number | null => (complete(t).length === 0 ? null : median(complete(t).map((r) => r.ms!)));
  const medianCpuUs = (t: Target): number | null => (complete(t).length === 0 ? null : (median(complete(t).map((r) => r.cpuMs!)) * 1000) / DEVICES);
  const targetLine = (t: Target): string => {
    const ms = medianMs(t);
    const cpu = medianCpuUs(t);
    const incomplete = t.results.filter((r) => r.ms === null).map((r) => `${r.connected}/${DEVICES}`);
    const missed =
      incomplete.length === 0
        ? ''
        : `; ${incomplete.length} of ${t.results.length} rounds not done within ${secs(PEER_DEADLINE_MS)} (${incomplete.join(', ')})`;
    if (ms === null || cpu === null) return `  ${t.name.padEnd(29)}no round completed${missed}`;
    const oursMs = medianMs(ours);
    const oursCpu = medianCpuUs(ours);
    const vs =
      t === ours || oursMs === null || oursCpu === null
        ? ''
        : ` → fleetbind ${(oursMs / ms).toFixed(2)}× the time, ${(oursCpu / cpu).toFixed(2)}× the CPU (firmware reboot ${(rebootMs / ms).toFixed(2)}×, ${((rebootCpuMs * 1000) / DEVICES / cpu).toFixed(2)}×)`;
    // Memory from the first round, which a fresh process took from idle.
    const first = t.results[0]!;
    const perClient = first.rssBytes === null || first.idleRssBytes === null ? null : (first.rssBytes - first.idleRssBytes) / DEVICES;
    // A small burst may not grow a peer's resident memory at all; then there is no ratio to give.
    const memRatio = perClient !== null && perClient > 0 ? ` → fleetbind uses ${(rebootPerDevice / perClient).toFixed(2)}×` : ' (no measurable growth)';
    const mem = t === ours || perClient === null ? '' : `; ${(perClient / 1024).toFixed(1)} KiB per client over idle${memRatio}`;
    return `  ${t.name.padEnd(29)}${secs(ms)}, CPU ${cpu.toFixed(0)} µs per client${vs}${mem}${missed}`;
  };

  const heapLines =
    idleSnapshot && readySnapshot
      ? ['', `idle → ${DEVICES} devices connected (snapshots in ${SNAPSHOT_DIR}):`, ...growthLines(heapGrowth(idleSnapshot, readySnapshot), DEVICES, 10)]
      : [];
  console.log(
    [
      '',
      `bench:fleet results (${DEVICES} devices, one broker process)`,
      `  registered/s                 ${(DEVICES / ((allRegisteredAt - started) / 1000)).toFixed(0)} (all registered after ${secs(allRegisteredAt - started)})`,
      `  time until all ready         ${secs(readyMs)}  (${attemptsToReady} MQTT attempts; ${droppedEnrolling} secret hashes skipped for abandoned attempts)`,
      `  broker RSS                   ${mib(readyRss)} (idle ${mib(idleRss)}), ${((readyRss - idleRss) / DEVICES / 1024).toFixed(1)} KiB per connected device over idle, ${(readyRss / DEVICES / 1024).toFixed(1)} KiB in all; ${enrollCompactions}${SNAPSHOT_DIR ? ' (inflated by the idle heap snapshot taken before it: compare without --heap-snapshots)' : ''}`,
      `  back after restart           ${secs(backMs)} after the new broker listened (${secs(backAfterKillMs)} after the kill; ${attemptsToBack} attempts, ${attemptsToBack - refusedUnheard} of them reaching a broker; ${droppedBack} secret checks skipped for abandoned attempts)`,
      `  reboot, all at once          ${secs(rebootMs)} until all ${DEVICES} had a session and the answer to their hello (${rebootAttempts} attempts); broker RSS ${mib(rebootRss)}, ${(rebootPerDevice / 1024).toFixed(1)} KiB per device over idle; broker CPU ${((rebootCpuMs * 1000) / DEVICES).toFixed(0)} µs, ${perDevice('sql')} SQL statements and ${perDevice('messagesOut')} messages out per device; since the restart, ${restartCompactions}`,
      `  targets                      RSS < 1 GiB: ${readyRss < GiB ? 'met' : 'MISSED'}; back within 60 s: ${backMs <= 60_000 ? 'met' : 'MISSED'}`,
      '',
      `bursts: ${DEVICES} plain clients at once sending a device's packets (connect with will, subscribe config, subscribe cmd, retained status, hello), ${ROUNDS} rounds interleaved, medians; fleetbind's clients log in as the devices and are done when their hello is answered`,
      ...targets.map(targetLine),
      ...notRun.map((n) => `  ${n.name.padEnd(29)}not run: ${n.why}`),
      ...heapLines,
    ].join('\n'),
  );
} finally {
  fleet?.stop();
  await broker?.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
