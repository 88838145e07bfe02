// Machine state benchmark (docs/architecture.md, Machine state): a broker in its own process, N
// devices each reporting once per second, and agents subscribed to their devices' shadows. Two
// phases in one run: the reports as state patches (validated, merged, stored, shadow republished)
// and the same payloads as plain evt messages (forwarded only). Prints the broker's CPU time per
// report (from /proc, which a loaded machine inflates far less than wall time), p50/p99 from a
// report's publish to the agent receiving the shadow (or the evt), reports stored per second and
// shadow rows written per second (reports waiting for a write share it).
//
// --cpu-prof <dir> writes the broker's V8 CPU profile there when it stops (bench/lib/profile-top.ts
// summarises it).
//
//   npm run bench:state -- [--devices 5000] [--agents 50] [--seconds 60] [--cpu-prof DIR]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { deviceTopic, eventTopic } from '../../protocol/topics';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { metric } from '../../test/helpers/metrics';
import { end, subscribe } from '../../test/helpers/mqtt';
import { connectFleet, log, provisionFleet } from '../jobs/fleet';
import { percentile } from '../lib/load';
import { cpuMsOf, UNLIMITED_REQUESTS } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:state --',
    usage: ['[--devices 5000] [--agents 50] [--seconds 60] [--cpu-prof DIR]'],
    summary:
      'Devices report machine state once per second for --seconds, then send the same payloads as plain evt; prints broker CPU per report, report-to-agent p50/p99, reports stored and shadow rows written per second for both.',
    options: {
      devices: { type: 'string', value: 'N', default: '5000', help: 'reporting devices (plain MQTT clients)' },
      agents: { type: 'string', value: 'N', default: '50', help: 'agents, each holding devices/agents devices and subscribed to their shadows' },
      seconds: { type: 'string', value: 'S', default: '60', help: 'length of each phase' },
      'cpu-prof': { type: 'string', value: 'DIR', help: "write the broker's V8 CPU profile into DIR when it stops" },
    },
  }),
);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SECONDS = Number(values.seconds);
if (!Number.isInteger(DEVICES) || !Number.isInteger(AGENTS) || AGENTS < 1 || DEVICES < AGENTS)
  throw new Error('--devices and --agents must be integers with devices >= agents >= 1');
if (!(SECONDS > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);

interface Phase {
  sent: number;
  received: number;
  p50: number;
  p99: number;
  cpuUsPerReport: number;
  storedPerSec: number;
  writesPerSec: number;
}

async function phase(bp: BrokerProcess, devices: Array<{ id: string; client: MqttClient }>, agents: MqttClient[], kind: 'state' | 'evt'): Promise<Phase> {
  /** Per device, the reports not yet seen by its agent: [sequence, sent at], oldest first. */
  const sentAt = new Map<string, Array<[number, number]>>();
  const latencies: number[] = [];
  let sent = 0;
  let pending = 0;
  for (const a of agents) {
    a.removeAllListeners('message');
    a.on('message', (topic, payload) => {
      const now = performance.now();
      const body = JSON.parse(payload.toString('utf8'));
      const device = topic.split('/')[3]!;
      const seq = (kind === 'state' ? body.reported?.counters?.prints : body.counters?.prints) as number;
      // A shadow carries every report merged into it: the earlier reports of that device waiting
      // for the same write arrive with it.
      const waiting = sentAt.get(device);
      while (waiting && waiting.length > 0 && waiting[0]![0] <= seq) {
        latencies.push(now - waiting.shift()![1]);
        pending--;
      }
    });
  }
  const metricsBefore = (await bp.api<string>('GET', '/metrics')).body;
  const cpuBefore = cpuMsOf(bp.child.pid!)!;
  const started = performance.now();
  let seq = kind === 'state' ? 1_000_000 : 2_000_000;
  // Each device reports once a second; the devices are spread evenly over the second.
  const ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * DEVICES);
    for (; sent < due; sent++) {
      const d = devices[sent % devices.length]!;
      const n = ++seq;
      const body = JSON.stringify({
        machine: { status: n % 7 === 0 ? 'busy' : 'idle' },
        consumables: { 'ink.k': { level: n % 100 } },
        counters: { prints: n },
      });
      const waiting = sentAt.get(d.id) ?? [];
      waiting.push([n, performance.now()]);
      sentAt.set(d.id, waiting);
      pending++;
      d.client.publish(kind === 'state' ? deviceTopic(d.id, 'state') : eventTopic(d.id, 'telemetry'), body);
    }
  }, 5);
  let last = 0;
  const progress = setInterval(() => {
    log(
      `  ${kind} ${((performance.now() - started) / 1000).toFixed(0)} s: ${sent} sent, ${latencies.length} delivered (${((latencies.length - last) / 5).toFixed(0)}/s now)`,
    );
    last = latencies.length;
  }, 5000);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(ticker);
  const drainBy = performance.now() + 10_000;
  while (pending > 0 && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 50));
  const cpuMs = cpuMsOf(bp.child.pid!)! - cpuBefore;
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(progress);
  const metricsAfter = (await bp.api<string>('GET', '/metrics')).body;
  const stored = metric(metricsAfter, 'fleetbind_state_reports_total') - metric(metricsBefore, 'fleetbind_state_reports_total');
  const writes = metric(metricsAfter, 'fleetbind_shadow_writes_total') - metric(metricsBefore, 'fleetbind_shadow_writes_total');
  latencies.sort((a, b) => a - b);
  return {
    sent,
    received: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerReport: (cpuMs * 1000) / Math.max(1, sent),
    storedPerSec: stored / elapsed,
    writesPerSec: writes / elapsed,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-state-'));
const admin = randomBytes(24).toString('hex');
const clients: MqttClient[] = [];
let broker: BrokerProcess | null = null;
try {
  const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [];
  broker = await BrokerProcess.start(
    dir,
    admin,
    ['--log-level', 'info', '--device-limit', String(Math.ceil(DEVICES / AGENTS)), ...UNLIMITED_REQUESTS],
    nodeFlags,
  );
  const bp = broker;
  log(`broker pid ${bp.child.pid} on ${bp.mqttUrl}; ${DEVICES} devices, ${AGENTS} agents, ${SECONDS} s per phase`);
  const fleet = await provisionFleet(bp, DEVICES, AGENTS);
  const runs = await connectFleet(bp, fleet, clients);
  // connectFleet connects the devices first, in fleet order.
  const devices = fleet.devs.map((d, i) => ({ id: d.id, client: clients[i]! }));
  for (const r of runs)
    await subscribe(
      r.client,
      r.devices.flatMap((d) => [deviceTopic(d, 'shadow'), eventTopic(d, 'telemetry')]),
    );
  const agents = runs.map((r) => r.client);

  log('state: every device reports a state patch once per second');
  const state = await phase(bp, devices, agents, 'state');
  log('evt: the same payloads as plain evt messages');
  const evt = await phase(bp, devices, agents, 'evt');

  const row = (name: string, p: Phase): string =>
    `  ${name.padEnd(6)} ${String(p.sent).padStart(8)} ${String(p.received).padStart(9)}  ${p.p50.toFixed(1).padStart(8)} ${p.p99.toFixed(1).padStart(8)}  ${p.cpuUsPerReport.toFixed(0).padStart(8)} µs  ${p.storedPerSec.toFixed(0).padStart(9)} ${p.writesPerSec.toFixed(0).padStart(8)}`;
  console.log('');
  console.log(
    `state benchmark: ${DEVICES} devices reporting once per second, ${AGENTS} agents, ${SECONDS} s per phase (compare CPU per report; wall time moves with the machine's load)`,
  );
  console.log(
    `  ${'kind'.padEnd(6)} ${'sent'.padStart(8)} ${'delivered'.padStart(9)}  ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  ${'CPU/report'.padStart(11)}  ${'stored/s'.padStart(9)} ${'writes/s'.padStart(8)}`,
  );
  console.log(row('state', state));
  console.log(row('evt', evt));
  const errors = bp.logLines().filter((l) => Number(l.level) >= 50);
  if (errors.length > 0) console.log(`  the broker logged ${errors.length} errors; the first: ${JSON.stringify(errors[0])}`);
} finally {
  await end(...clients);
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
