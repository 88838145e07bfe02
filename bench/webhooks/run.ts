// Webhooks benchmark: jobs offered at --rate jobs/s for --seconds against a broker in its own
// process, once without webhooks and once with one endpoint subscribed to job.state and
// binding.changed (a receiver in this process). Prints delivery latency p50/p99 from the event's
// commit time to the receiver, the outbox depth every 5 s, and the broker's CPU time per job with
// and without webhooks (from /proc, which a loaded machine inflates far less than wall time).
//
//   npm run bench:webhooks -- [--devices 200] [--agents 20] [--seconds 60] [--rate 500]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { defineCli, readCli } from '../../host-tools/cli/args';
import type { JobsSnapshot } from '../../protocol/messages';
import { agentTopic } from '../../protocol/topics';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { metric } from '../../test/helpers/metrics';
import { end } from '../../test/helpers/mqtt';
import { type AgentRun, connectFleet, log, provisionFleet } from '../jobs/fleet';
import { percentile } from '../lib/load';
import { cpuMsOf } from '../lib/proc';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:webhooks --',
    usage: ['[--devices 200] [--agents 20] [--seconds 60] [--rate 500]'],
    summary:
      'Jobs at a fixed rate without and with one webhook endpoint: delivery latency p50/p99 (commit to receiver), outbox depth over time, broker CPU per job.',
    options: {
      devices: { type: 'string', value: 'N', default: '200', help: 'simulated devices that answer every job at once' },
      agents: { type: 'string', value: 'N', default: '20', help: 'agents, each holding devices/agents devices' },
      seconds: { type: 'string', value: 'S', default: '60', help: 'length of each run' },
      rate: { type: 'string', value: 'JOBS', default: '500', help: 'jobs offered per second' },
    },
  }),
);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
if (!Number.isInteger(DEVICES) || !Number.isInteger(AGENTS) || AGENTS < 1 || DEVICES < AGENTS)
  throw new Error('--devices and --agents must be integers with devices >= agents >= 1');

interface Receiver {
  url: string;
  latencies: number[];
  events: number;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', latencies: [], events: 0, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const ev = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { time: string };
      r.events++;
      r.latencies.push(now - Date.parse(ev.time));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  r.close = () => new Promise((ok) => server.close(() => ok()));
  return r;
}

interface Run {
  submitted: number;
  done: number;
  refused: number;
  cpuUsPerJob: number;
  depth: number[];
}

/** Offers RATE jobs/s over the devices (open loop) for SECONDS; counts the ones that end done. */
async function drive(bp: BrokerProcess, runs: AgentRun[]): Promise<Run> {
  let submitted = 0;
  let done = 0;
  let refused = 0;
  const targets: { run: AgentRun; device: string }[] = runs.flatMap((run) => run.devices.map((device) => ({ run, device })));
  for (const run of runs) {
    run.client.removeAllListeners('message');
    run.client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString('utf8'));
      if (topic === agentTopic(run.id, 'res')) {
        if (!body.ok) refused++;
        return;
      }
      for (const e of (body as JobsSnapshot).ended ?? []) if (e.state === 'done') done++;
    });
  }
  const depth: number[] = [];
  const sampler = setInterval(() => {
    void fetch(`${bp.httpUrl}/metrics`)
      .then((r) => r.text())
      .then((t) => depth.push(metric(t, 'fleetbind_webhook_outbox_depth')));
  }, 5000);
  const cpuBefore = cpuMsOf(bp.child.pid!)!;
  const started = performance.now();
  const ticker = setInterval(() => {
    const due = Math.min(RATE * SECONDS, Math.floor(((performance.now() - started) / 1000) * RATE));
    for (; submitted < due; submitted++) {
      const t = targets[submitted % targets.length]!;
      t.run.client.publish(
        agentTopic(t.run.id, 'req'),
        JSON.stringify({ id: `s${submitted}`, op: 'submit', device: t.device, kind: 'identify', params: { seconds: 1 } }),
      );
    }
  }, 2);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(ticker);
  // Jobs still in flight finish (and their events go out) before the CPU is read.
  await new Promise((r) => setTimeout(r, 5000));
  clearInterval(sampler);
  const cpuMs = cpuMsOf(bp.child.pid!)! - cpuBefore;
  return { submitted, done, refused, cpuUsPerJob: (cpuMs * 1000) / Math.max(1, done), depth };
}

async function once(withWebhooks: boolean, rx: Receiver | null): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-webhooks-'));
  const admin = randomBytes(24).toString('hex');
  const clients: MqttClient[] = [];
  const bp = await BrokerProcess.start(dir, admin, ['--log-level', 'info', '--device-limit', String(Math.ceil(DEVICES / AGENTS)), '--webhooks-allow-private']);
  try {
    if (withWebhooks && rx) {
      const r = await bp.api('POST', '/api/webhooks', { url: rx.url, events: ['job.state', 'binding.changed'], secret: randomBytes(16).toString('hex') });
      if (r.status !== 201) throw new Error(`registering the webhook failed: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const runs = await connectFleet(bp, await provisionFleet(bp, DEVICES, AGENTS), clients);
    log(`${withWebhooks ? 'with' : 'without'} webhooks: ${RATE} jobs/s for ${SECONDS} s over ${DEVICES} devices`);
    if (rx) rx.latencies.length = 0;
    return await drive(bp, runs);
  } finally {
    await end(...clients);
    await bp.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const rx = await receiver();
try {
  const plain = await once(false, null);
  const hooked = await once(true, rx);
  const lat = [...rx.latencies].sort((a, b) => a - b);
  console.log('');
  console.log(`webhooks benchmark: ${RATE} jobs/s offered for ${SECONDS} s, ${DEVICES} devices answering at once, one endpoint on loopback`);
  const row = (name: string, r: Run): string =>
    `  ${name.padEnd(18)} ${String(r.submitted).padStart(7)} ${String(r.done).padStart(7)} ${(r.done / SECONDS).toFixed(0).padStart(7)} ${r.cpuUsPerJob.toFixed(0).padStart(9)} µs   ${r.refused} refused`;
  console.log(`  ${'run'.padEnd(18)} ${'offered'.padStart(7)} ${'done'.padStart(7)} ${'jobs/s'.padStart(7)} ${'CPU/job'.padStart(12)}`);
  console.log(row('without webhooks', plain));
  console.log(row('with webhooks', hooked));
  console.log(`  broker CPU per job with webhooks: ${(hooked.cpuUsPerJob / plain.cpuUsPerJob).toFixed(2)}x without`);
  console.log(
    `  deliveries: ${rx.events} (job.state per state change), commit → receiver p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${lat.at(-1)} ms`,
  );
  console.log(`  outbox depth every 5 s: ${hooked.depth.join(', ')}`);
} finally {
  await rx.close();
}
