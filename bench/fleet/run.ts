// Fleet benchmark (issue 4): 10,000 simulated devices, each the real firmware core, enroll with
// one token and connect to one broker running as its own process, then the broker is killed
// and restarted on the same ports. Prints devices registered per second, the time until all
// are ready, the broker's RSS per connected device, and how long all took to come back.
// Targets: all ready with broker RSS under 1 GiB, all back within 60 s of the restart.
//
//   npm run bench:fleet -- [--devices 10000] [--ramp 0] [--timeout 900]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SimFleet, type FleetStats } from '../../host-tools/simulate/fleet';
import { progressLine } from '../../host-tools/simulate/progress';
import { BrokerProcess } from '../../test/helpers/broker-process';

const GiB = 1024 ** 3;
const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    ramp: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '900' },
  },
  strict: true,
});
const DEVICES = Number(values.devices);
const RAMP_S = Number(values.ramp);
const TIMEOUT_MS = Number(values.timeout) * 1000;
if (!Number.isInteger(DEVICES) || DEVICES < 1) throw new Error(`--devices must be a positive integer, got ${values.devices}`);

/** The broker's resident memory; a broker that died is reported with the end of its output. */
function brokerRss(b: BrokerProcess): number {
  let status = '';
  try {
    status = readFileSync(`/proc/${b.child.pid}/status`, 'utf8');
  } catch {
    // Gone already; reported below.
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  // An exited process has no status file, or no VmRSS while it is a zombie.
  if (!m) throw new Error(`the broker process ${b.child.pid} has exited; its last output:\n${b.stderr.slice(-3000)}\n${b.stdout.slice(-1500)}`);
  return Number(m[1]) * 1024;
}

function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Infinity;
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
if (limit < DEVICES + 1024) console.warn(`warning: open files limit is ${limit}; ${DEVICES} devices need about ${DEVICES + 1024} (ulimit -n)`);

const dataDir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-fleet-'));
const adminToken = randomBytes(24).toString('hex');
let broker: BrokerProcess | null = null;
let fleet: SimFleet | null = null;
try {
  console.log(`bench:fleet: ${DEVICES} simulated devices${RAMP_S > 0 ? `, started over ${RAMP_S} s` : ''}; broker data in ${dataDir}`);
  broker = await BrokerProcess.start(dataDir, adminToken);
  const { port: mqttPort } = new URL(broker.mqttUrl);
  const { port: httpPort } = new URL(broker.httpUrl);
  const idleRss = brokerRss(broker);
  const token = await broker.api<{ token: string }>('POST', '/api/enrollment-tokens', { uses: DEVICES, expiresIn: 3600 });
  if (token.status !== 201) throw new Error(`creating the enrollment token failed: ${token.status} ${JSON.stringify(token.body)}`);

  fleet = new SimFleet({
    devices: DEVICES,
    broker: broker.mqttUrl,
    enrollToken: token.body.token,
    machinesPrefix: 'BENCH-',
    rampMs: RAMP_S * 1000,
    log: pino({ level: 'silent' }),
  });
  const started = Date.now();
  fleet.start();
  await until('enroll', fleet, started, broker, (s) => s.registered === DEVICES && s.connected === DEVICES);
  const allRegisteredAt = fleet.lastEnrolledAt!;
  const readyMs = fleet.allConnectedAt! - started;
  // Let the broker settle (hello handling, presence, GC) before reading its memory.
  await new Promise((r) => setTimeout(r, 3000));
  const readyRss = brokerRss(broker);
  const attemptsToReady = fleet.stats().connectAttempts;

  const killedAt = Date.now();
  await broker.stop('SIGKILL');
  broker = null;
  await until('down', fleet, killedAt, null, (s) => s.connected === 0);
  broker = await BrokerProcess.start(dataDir, adminToken, ['--mqtt-port', mqttPort, '--http-port', httpPort]);
  const upAt = Date.now();
  await until('back', fleet, upAt, broker, (s) => s.connected === DEVICES);
  const backMs = fleet.lastAllConnectedAt! - upAt;
  const after = fleet.stats();

  console.log(
    [
      '',
      `bench:fleet results (${DEVICES} devices, one broker process)`,
      `  registered/s                 ${(DEVICES / ((allRegisteredAt - started) / 1000)).toFixed(0)} (all registered after ${secs(allRegisteredAt - started)})`,
      `  time until all ready         ${secs(readyMs)}  (${attemptsToReady} MQTT attempts)`,
      `  broker RSS                   ${mib(readyRss)} (idle ${mib(idleRss)}), ${((readyRss - idleRss) / DEVICES / 1024).toFixed(1)} KiB per connected device over idle, ${(readyRss / DEVICES / 1024).toFixed(1)} KiB in all`,
      `  back after restart           ${secs(backMs)} after the new broker listened (${secs(fleet.lastAllConnectedAt! - killedAt)} after the kill; ${after.connectAttempts - attemptsToReady} attempts)`,
      `  targets                      RSS < 1 GiB: ${readyRss < GiB ? 'met' : 'MISSED'}; back within 60 s: ${backMs <= 60_000 ? 'met' : 'MISSED'}`,
    ].join('\n'),
  );
} finally {
  fleet?.stop();
  await broker?.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
