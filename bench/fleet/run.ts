// Fleet benchmark: 10,000 simulated devices, each the real firmware core, enroll with
// one token and connect to one broker running as its own process, then the broker is killed
// and restarted on the same ports. Prints devices registered per second, the time until all
// are ready, the broker's RSS per connected device, and how long all took to come back.
// Targets: all ready with broker RSS under 1 GiB, all back within 60 s of the restart.
// Then the registered fleet reboots at once, and the same burst of plain device-like MQTT
// clients runs against bare Aedes (as shipped, and with fleetbind's retained index) and
// Mosquitto, so the figures come with peer ratios from the same run.
//
//   npm run bench:fleet -- [--devices 10000] [--ramp 0] [--timeout 900] [--peer-deadline 180] [--no-peers] [--heap-snapshots DIR]
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { pino } from 'pino';
import { SimFleet, type FleetStats } from '../../host-tools/simulate/fleet';
import { progressLine } from '../../host-tools/simulate/progress';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { metric } from '../../test/helpers/metrics';
import { brokerCounters } from '../lib/broker-counters';
import { growthLines, heapGrowth } from '../lib/heap-diff';
import { mosquittoPid, startBareAedes } from '../lib/peers';
import { cpuMsOf, rssOf } from '../lib/proc';
import { type BurstResult, burst } from './peer';

const GiB = 1024 ** 3;
const { values } = readCli(
  defineCli({
    command: 'npm run bench:fleet --',
    usage: ['[--devices 10000] [--ramp 0] [--timeout 900] [--peer-deadline 180] [--no-peers] [--heap-snapshots DIR]'],
    summary:
      'Simulated devices (the real firmware core) enroll with one token against a broker in its own process, which is then killed and restarted; then the same reboot burst runs against bare Aedes and Mosquitto. Prints registrations/s, time to all ready, RSS per device, recovery time and peer ratios.',
    options: {
      devices: { type: 'string', value: 'N', default: '10000', help: 'how many devices' },
      ramp: { type: 'string', value: 'S', default: '0', help: 'start the devices spread over S seconds' },
      timeout: { type: 'string', value: 'S', default: '900', help: 'give up on the fleet getting ready after S seconds' },
      'peer-deadline': { type: 'string', value: 'S', default: '180', help: "give up on a peer broker's burst after S seconds" },
      'no-peers': { type: 'boolean', default: false, help: 'skip the bare Aedes and Mosquitto runs' },
      'heap-snapshots': {
        type: 'string',
        value: 'DIR',
        help: "write the broker's heap snapshots at idle and with every device connected into DIR, and print what grew per device by constructor",
      },
    },
  }),
);
const DEVICES = Number(values.devices);
const RAMP_S = Number(values.ramp);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const PEER_DEADLINE_MS = Number(values['peer-deadline']) * 1000;
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

interface PeerRow {
  name: string;
  result: BurstResult | null;
  why?: string;
}

async function peerRun(name: string, start: () => Promise<{ url: string; pid: number | null; stop(): Promise<void> }>): Promise<PeerRow> {
  let peer: Awaited<ReturnType<typeof start>> | null = null;
  try {
    peer = await start();
    const result = await burst(peer.url, DEVICES, PEER_DEADLINE_MS, peer.pid, (done, elapsed) => {
      const line = `${name} [${(elapsed / 1000).toFixed(0).padStart(4)} s] connected ${done}/${DEVICES}`;
      if (tty) process.stdout.write(`\r${line}\x1b[K`);
      else if (Math.round(elapsed / 1000) % 5 === 0) console.log(line);
    });
    if (tty) process.stdout.write('\n');
    return { name, result };
  } catch (err) {
    return { name, result: null, why: (err as Error).message };
  } finally {
    await peer?.stop();
  }
}

try {
  console.log(`bench:fleet: ${DEVICES} simulated devices${RAMP_S > 0 ? `, started over ${RAMP_S} s` : ''}; broker data in ${dataDir}`);
  if (SNAPSHOT_DIR) mkdirSync(SNAPSHOT_DIR, { recursive: true });
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
  broker = await BrokerProcess.start(dataDir, adminToken, [...BROKER_FLAGS, '--mqtt-port', mqttPort, '--http-port', httpPort]);
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

  // Like the peers below: every device starts its session at the same instant.
  await new Promise((r) => setTimeout(r, 3000));
  fleet = newFleet(broker.mqttUrl);
  const bootedAt = Date.now();
  const rebootCounters0 = await brokerCounters(broker);
  const rebootCpu0 = cpuMsOf(broker.child.pid!)!;
  fleet.start();
  await until('reboot', fleet, bootedAt, broker, (s) => s.connected === DEVICES);
  const rebootCpuMs = cpuMsOf(broker.child.pid!)! - rebootCpu0;
  const rebootCounters = await brokerCounters(broker);
  const perDevice = (k: 'sql' | 'messagesOut'): string => ((rebootCounters[k] - rebootCounters0[k]) / DEVICES).toFixed(1);
  const rebootMs = fleet.allConnectedAt! - bootedAt;
  const rebootAttempts = fleet.stats().connectAttempts;
  await new Promise((r) => setTimeout(r, 3000));
  const rebootRss = brokerRss(broker);
  const restartCompactions = compactionPauses(broker);
  fleet.stop();
  fleet = null;
  await broker.kill();
  broker = null;

  const peers: PeerRow[] = [];
  if (!values['no-peers']) {
    const bare = (p: 'upstream' | 'indexed') => async () => {
      const b = await startBareAedes(p);
      return { url: b.url, pid: b.child.pid ?? null, stop: b.stop };
    };
    peers.push(await peerRun('bare Aedes', bare('upstream')));
    peers.push(await peerRun('bare Aedes + retained trie', bare('indexed')));
    const pid = mosquittoPid();
    if (pid === null)
      peers.push({ name: 'Mosquitto', result: null, why: 'no Mosquitto pid file (/run/mosquitto/mosquitto.pid); is it running on 127.0.0.1:1883?' });
    else peers.push(await peerRun('Mosquitto', async () => ({ url: 'mqtt://127.0.0.1:1883', pid, stop: async () => undefined })));
  }

  // Over the first broker's idle memory: the restarted one had devices arriving as it listened.
  const rebootPerDevice = (rebootRss - idleRss) / DEVICES;
  const peerLine = (row: PeerRow): string => {
    const r = row.result;
    if (!r) return `  ${row.name.padEnd(29)}not run: ${row.why}`;
    const time =
      r.ms === null
        ? `not all within ${secs(PEER_DEADLINE_MS)} (${r.connected}/${DEVICES})`
        : `${secs(r.ms)}  → fleetbind takes ${(rebootMs / r.ms).toFixed(2)}×`;
    const perClient = r.rssBytes === null || r.idleRssBytes === null ? null : (r.rssBytes - r.idleRssBytes) / DEVICES;
    // A small burst may not grow a peer's resident memory at all; then there is no ratio to give.
    const ratio = perClient !== null && perClient > 0 ? ` → fleetbind uses ${(rebootPerDevice / perClient).toFixed(2)}×` : ' (no measurable growth)';
    const mem =
      perClient === null ? '' : `; RSS ${mib(r.rssBytes!)} (idle ${mib(r.idleRssBytes!)}), ${(perClient / 1024).toFixed(1)} KiB per client over idle${ratio}`;
    const cpu =
      r.cpuMs === null
        ? ''
        : `; CPU ${((r.cpuMs * 1000) / DEVICES).toFixed(0)} µs per client${r.cpuMs > 0 ? ` → fleetbind ${(rebootCpuMs / r.cpuMs).toFixed(2)}×` : ''}`;
    return `  ${row.name.padEnd(29)}${time}${mem}${cpu}`;
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
      `  reboot, all at once          ${secs(rebootMs)} until all ${DEVICES} had a session (${rebootAttempts} attempts); broker RSS ${mib(rebootRss)}, ${(rebootPerDevice / 1024).toFixed(1)} KiB per device over idle; broker CPU ${((rebootCpuMs * 1000) / DEVICES).toFixed(0)} µs, ${perDevice('sql')} SQL statements and ${perDevice('messagesOut')} messages out per device; since the restart, ${restartCompactions}`,
      `  targets                      RSS < 1 GiB: ${readyRss < GiB ? 'met' : 'MISSED'}; back within 60 s: ${backMs <= 60_000 ? 'met' : 'MISSED'}`,
      ...(peers.length > 0
        ? ['', `peers: ${DEVICES} plain clients at once (connect with will, subscribe config+cmd, retained status, hello)`, ...peers.map(peerLine)]
        : []),
      ...heapLines,
    ].join('\n'),
  );
} finally {
  fleet?.stop();
  await broker?.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
