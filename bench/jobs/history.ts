// Jobs with a long history: CPU per job must not grow with the jobs a device has already finished.
// A broker in its own process runs the same load (every device answering at once, one job in
// flight on each) at growing history sizes; the history is written straight into the stopped
// broker's SQLite file between rounds. Devices and the agent are raw MQTT clients
// (bench/jobs/rig.ts). Prints the broker's CPU time per completed job (from /proc/<pid>/stat) at
// each size, and its ratio to the empty registry.
//
//   npm run bench:jobs-history -- [--devices 50] [--jobs 3000] [--history 0,25000,50000,100000]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { cpuMsOf, UNLIMITED_REQUESTS } from '../lib/proc';
import { log, provisionFleet } from './fleet';
import { fleetbindRig, type JobRig } from './rig';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:jobs-history --',
    usage: ['[--devices 50] [--jobs 3000] [--history 0,25000,50000,100000]'],
    summary:
      "A broker in its own process runs the same job load at growing job histories; prints the broker's CPU time per job at each, and its ratio to the empty registry.",
    options: {
      devices: { type: 'string', value: 'N', default: '50', help: 'devices answering at once, one job in flight on each' },
      jobs: { type: 'string', value: 'N', default: '3000', help: 'jobs measured at each history size' },
      history: { type: 'string', value: 'LIST', default: '0,25000,50000,100000', help: 'finished jobs in the registry for each round, rising' },
    },
  }),
);
const DEVICES = Number(values.devices);
const JOBS = Number(values.jobs);
const HISTORY = values.history.split(',').map(Number);
if (!(DEVICES >= 1) || !(JOBS >= DEVICES)) throw new Error('--devices must be >= 1 and --jobs >= --devices');
if (HISTORY.some((h, i) => !Number.isInteger(h) || h < 0 || (i > 0 && h < HISTORY[i - 1]!)))
  throw new Error('--history must be non-negative integers in rising order');

/** Finished jobs spread over the devices, older than any real job (negative seq). */
function fillHistory(file: string, devices: string[], from: number, to: number): void {
  const db = new SQLite(file);
  try {
    const insert = db.prepare(
      `INSERT INTO jobs (id, device, agent, kind, params, hold, seq, state, attempt, ttl_ms, expires_at, retries, queued_at, done_at, updated_at)
       VALUES (?, ?, 'history', 'identify', '{"seconds":1}', 0, ?, 'done', 1, 60000, 0, 0, 0, 0, 0)`,
    );
    db.transaction(() => {
      for (let i = from; i < to; i++) insert.run(`history-${i}`, devices[i % devices.length], -1 - Math.floor(i / devices.length));
    })();
  } finally {
    db.close();
  }
}

/** Keeps one job in flight per device until `jobs` have completed; resolves with the completions' wall time. */
function drive(rig: JobRig, jobs: number): Promise<{ completed: number; ms: number }> {
  const started = performance.now();
  let completed = 0;
  let submitted = 0;
  return new Promise((resolve, reject) => {
    const submitTo = (device: string): void => {
      if (submitted >= jobs) return;
      submitted++;
      rig.submit(device, (outcome) => {
        if (outcome !== 'done') return reject(new Error(`a job on ${device} ended ${outcome}`));
        if (++completed === jobs) resolve({ completed, ms: performance.now() - started });
        submitTo(device);
      });
    };
    rig.devices.forEach(submitTo);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-history-'));
const admin = randomBytes(24).toString('hex');
let rig: JobRig | null = null;
let broker: BrokerProcess | null = null;
const rows: { history: number; jobsPerSec: number; cpuUsPerJob: number }[] = [];

try {
  broker = await BrokerProcess.start(dir, admin, ['--log-level', 'info', '--device-limit', String(DEVICES), ...UNLIMITED_REQUESTS]);
  const fleet = await provisionFleet(broker, DEVICES, 1);
  let filled = 0;
  for (const history of HISTORY) {
    if (history > filled) {
      await rig?.close();
      rig = null;
      await broker.stop('SIGTERM');
      broker = null;
      log(`writing ${history - filled} finished jobs (history ${history})`);
      fillHistory(
        join(dir, 'fleetbind.db'),
        fleet.devs.map((d) => d.id),
        filled,
        history,
      );
      filled = history;
      broker = await BrokerProcess.start(dir, admin, ['--log-level', 'info', '--device-limit', String(DEVICES), ...UNLIMITED_REQUESTS]);
    }
    const bp = broker!;
    rig ??= await fleetbindRig(bp, fleet);
    // A warm-up round, so the measured one sees a settled process.
    await drive(rig, DEVICES * 4);
    const cpuBefore = cpuMsOf(bp.child.pid!)!;
    const r = await drive(rig, JOBS);
    const cpuMs = cpuMsOf(bp.child.pid!)! - cpuBefore;
    rows.push({ history, jobsPerSec: (r.completed * 1000) / r.ms, cpuUsPerJob: (cpuMs * 1000) / r.completed });
    log(
      `history ${history}: ${r.completed} jobs, ${((r.completed * 1000) / r.ms).toFixed(0)} jobs/s, ${((cpuMs * 1000) / r.completed).toFixed(0)} µs broker CPU per job`,
    );
  }
  console.log('');
  console.log(`jobs with history: ${DEVICES} devices answering at once, ${JOBS} jobs measured per size (the machine may be loaded: compare CPU, not time)`);
  console.log('  history   jobs/s   broker CPU/job   × empty');
  for (const r of rows)
    console.log(
      `  ${String(r.history).padStart(7)}  ${r.jobsPerSec.toFixed(0).padStart(7)}  ${r.cpuUsPerJob.toFixed(0).padStart(11)} µs  ${(r.cpuUsPerJob / rows[0]!.cpuUsPerJob).toFixed(2).padStart(7)}`,
    );
} finally {
  await rig?.close();
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
