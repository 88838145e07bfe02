// Jobs benchmark: a broker in its own process, devices (mqtt.js clients that answer every cmd at
// once: accepted, then done) and agents that each claim a share of them. Two phases:
//   saturation: every device keeps one job in flight, so the broker is the limit; prints
//     completed jobs/s and the broker's CPU time per job;
//   fixed rate: jobs are offered at --rate jobs/s spread over all devices (below saturation);
//     prints p50/p99 from submit to done and CPU per job at that rate.
// Done is observed the way an agent sees it, in the device's queue snapshot. CPU comes from
// /proc/<pid>/stat of the broker process, which a loaded machine inflates far less than time.
// --cpu-prof <dir> writes the broker's V8 CPU profile there when it stops.
//
//   npm run bench:jobs -- [--devices 1000] [--agents 100] [--seconds 15] [--rate 500] [--cpu-prof dir]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import type { JobsSnapshot } from '../../protocol/messages';
import { agentTopic } from '../../protocol/topics';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { end } from '../../test/helpers/mqtt';
import { percentile } from '../lib/load';
import { cpuMsOf, UNLIMITED_REQUESTS } from '../lib/proc';
import { type AgentRun, connectFleet, log, provisionFleet } from './fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:jobs --',
    usage: ['[--devices 1000] [--agents 100] [--seconds 15] [--rate 500] [--cpu-prof DIR]'],
    summary: 'A broker in its own process; devices answer every job at once. Saturation: one job in flight on every device. Fixed rate: jobs offered at --rate. Prints jobs/s, submit-to-done p50/p99 and the broker\'s CPU time per job.',
    options: {
      devices: { type: 'string', value: 'N', default: '1000', help: 'simulated devices (plain MQTT clients)' },
      agents: { type: 'string', value: 'N', default: '100', help: 'agents, each holding devices/agents devices' },
      seconds: { type: 'string', value: 'S', default: '15', help: 'length of each phase' },
      rate: { type: 'string', value: 'JOBS', default: '500', help: 'jobs offered per second in the fixed-rate phase' },
      'cpu-prof': { type: 'string', value: 'DIR', help: 'write the broker\'s V8 CPU profile into DIR when it stops' },
    },
  }),
);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
if (!Number.isInteger(DEVICES) || !Number.isInteger(AGENTS) || AGENTS < 1 || DEVICES < AGENTS) throw new Error('--devices and --agents must be integers with devices >= agents >= 1');
if (!(SECONDS > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);
if (!(RATE > 0)) throw new Error(`--rate must be positive, got ${values.rate}`);

interface Phase { jobsPerSec: number; done: number; failed: number; refused: number; p50: number; p99: number; cpuUsPerJob: number }

/**
 * Submits jobs for `seconds`: `next` says which device gets the next job and when. Every submit is
 * timed from its publish to the snapshot that shows it ended.
 */
async function phase(bp: BrokerProcess, runs: AgentRun[], seconds: number, mode: 'saturate' | 'rate'): Promise<Phase> {
  const latencies: number[] = [];
  let done = 0;
  let failed = 0;
  let refused = 0;
  let stopping = false;
  const inFlight = new Map<string, number>();
  const submitters = new Map<string, (device: string) => void>();
  for (const r of runs) {
    let seq = 0;
    const byRequest = new Map<string, { device: string; at: number }>();
    /** Ends that arrived before the submit's response named the job. */
    const early = new Map<string, { state: string; at: number }>();
    const finish = (job: string, device: string, state: string, at: number): void => {
      const startedAt = inFlight.get(job)!;
      inFlight.delete(job);
      if (state === 'done') {
        done++;
        latencies.push(at - startedAt);
      } else failed++;
      if (mode === 'saturate') submitTo(device);
    };
    const submitTo = (device: string): void => {
      if (stopping) return;
      const id = `s${++seq}`;
      byRequest.set(id, { device, at: performance.now() });
      r.client.publish(agentTopic(r.id, 'req'), JSON.stringify({ id, op: 'submit', device, kind: 'identify', params: { seconds: 1 } }));
    };
    for (const d of r.devices) submitters.set(d, submitTo);
    r.client.removeAllListeners('message');
    r.client.on('message', (topic, payload) => {
      const now = performance.now();
      const body = JSON.parse(payload.toString('utf8'));
      if (topic === agentTopic(r.id, 'res')) {
        const req = byRequest.get(body.id);
        if (!req) return;
        byRequest.delete(body.id);
        if (!body.ok) {
          refused++;
          if (mode === 'saturate') setTimeout(() => submitTo(req.device), 50);
          return;
        }
        inFlight.set(body.result.job, req.at);
        const e = early.get(body.result.job);
        if (e) {
          early.delete(body.result.job);
          finish(body.result.job, req.device, e.state, e.at);
        }
        return;
      }
      const snap = body as JobsSnapshot;
      for (const e of snap.ended ?? []) {
        if (inFlight.has(e.job)) finish(e.job, snap.device, e.state, now);
        else early.set(e.job, { state: e.state, at: now });
      }
    });
  }

  const devices = [...submitters.keys()];
  const cpuBefore = cpuMsOf(bp.child.pid!)!;
  const started = performance.now();
  let ticker: NodeJS.Timeout | null = null;
  if (mode === 'saturate') {
    for (const [d, submit] of submitters) submit(d);
  } else {
    // Open loop: the offered rate does not slow down when the broker does.
    let offered = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE);
      for (; offered < due; offered++) {
        const d = devices[offered % devices.length]!;
        submitters.get(d)!(d);
      }
    }, 2);
  }
  let last = 0;
  const progress = setInterval(() => {
    log(`  ${((performance.now() - started) / 1000).toFixed(0)} s: ${done} done (${((done - last) / 2).toFixed(0)} jobs/s now), ${inFlight.size} in flight, ${failed} failed, ${refused} refused`);
    last = done;
  }, 2000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const completed = done;
  const cpuMs = cpuMsOf(bp.child.pid!)! - cpuBefore;
  stopping = true;
  if (ticker) clearInterval(ticker);
  // Let what is in flight finish, so the next phase starts on empty queues.
  const drainBy = performance.now() + 10_000;
  while (inFlight.size > 0 && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 50));
  clearInterval(progress);
  latencies.sort((a, b) => a - b);
  return { jobsPerSec: completed / elapsed, done: completed, failed, refused, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuUsPerJob: (cpuMs * 1000) / Math.max(1, completed) };
}

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-jobs-'));
const admin = randomBytes(24).toString('hex');
const clients: MqttClient[] = [];
let broker: BrokerProcess | null = null;

try {
  const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [];
  broker = await BrokerProcess.start(dir, admin, ['--log-level', 'info', '--device-limit', String(Math.ceil(DEVICES / AGENTS)), ...UNLIMITED_REQUESTS], nodeFlags);
  const bp = broker;
  log(`broker pid ${bp.child.pid} on ${bp.mqttUrl}; ${DEVICES} devices, ${AGENTS} agents, ${SECONDS} s per phase`);
  const runs = await connectFleet(bp, await provisionFleet(bp, DEVICES, AGENTS), clients);

  log('saturation: one job in flight on every device');
  const sat = await phase(bp, runs, SECONDS, 'saturate');
  log(`fixed rate: ${RATE} jobs/s over ${DEVICES} devices`);
  const fixed = await phase(bp, runs, SECONDS, 'rate');

  const row = (name: string, p: Phase): string =>
    `  ${name.padEnd(22)} ${p.jobsPerSec.toFixed(0).padStart(6)}  ${p.p50.toFixed(1).padStart(8)} ${p.p99.toFixed(1).padStart(8)}  ${p.cpuUsPerJob.toFixed(0).padStart(8)} µs   ${p.done} done, ${p.failed} failed, ${p.refused} refused`;
  console.log('');
  console.log(`jobs benchmark: ${DEVICES} devices answering at once, ${AGENTS} agents, ${SECONDS} s per phase (compare CPU per job; wall time moves with the machine's load)`);
  console.log(`  ${'phase'.padEnd(22)} ${'jobs/s'.padStart(6)}  ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  ${'CPU/job'.padStart(11)}`);
  console.log(row('saturation', sat));
  console.log(row(`fixed ${RATE} jobs/s`, fixed));
  const errors = bp.logLines().filter((l) => Number(l.level) >= 50);
  if (errors.length > 0) console.log(`  the broker logged ${errors.length} errors; the first: ${JSON.stringify(errors[0])}`);
} finally {
  await end(...clients);
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
