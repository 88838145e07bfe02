// Jobs benchmark: a broker in its own process, 1000 devices (plain mqtt.js clients that
// answer every cmd at once: accepted, then done) and 200 agents that keep one job in flight on
// each of their devices for 20 s. Done is observed the way an agent sees it, in the device's
// queue snapshot. Prints completed jobs/s and p50/p99 from submit to done.
//
//   npm run bench:jobs -- [--devices 1000] [--agents 200] [--seconds 20]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli, readCli } from '../../host-tools/cli/args';
import type { MqttClient } from 'mqtt';
import type { Cmd, JobsSnapshot } from '../../protocol/messages';
import { agentTopic, deviceTopic } from '../../protocol/topics';
import { connectAgent, connectDevice, randomMac } from '../../test/helpers/broker';
import { BrokerProcess } from '../../test/helpers/broker-process';
import { end, publish, subscribe } from '../../test/helpers/mqtt';
import type { Dev } from '../../test/scenarios/fleet';

const { values } = readCli(
  defineCli({
    command: 'npm run bench:jobs --',
    usage: ['[--devices 1000] [--agents 200] [--seconds 20]'],
    summary: 'A broker in its own process; devices answer every job at once while agents keep one job in flight on each of their devices. Prints completed jobs/s and submit-to-done p50/p99, beside the broker\'s CPU time.',
    options: {
      devices: { type: 'string', value: 'N', default: '1000', help: 'simulated devices (plain MQTT clients)' },
      agents: { type: 'string', value: 'N', default: '200', help: 'agents, each holding devices/agents devices' },
      seconds: { type: 'string', value: 'S', default: '20', help: 'how long jobs are submitted' },
    },
  }),
);
const DEVICES = Number(values.devices);
const AGENTS = Number(values.agents);
const SECONDS = Number(values.seconds);
if (!Number.isInteger(DEVICES) || !Number.isInteger(AGENTS) || AGENTS < 1 || DEVICES < AGENTS) throw new Error('--devices and --agents must be integers with devices >= agents >= 1');
if (!(SECONDS > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);

const log = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Runs fn over items with at most `limit` at once, reporting progress every 2 s. */
async function pool<T, R>(what: string, items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const timer = setInterval(() => log(`${what}: ${done}/${items.length}`), 2000);
  try {
    await Promise.all(
      Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await fn(items[i]!, i);
          done++;
        }
      }),
    );
  } finally {
    clearInterval(timer);
  }
  log(`${what}: ${done}/${items.length} done`);
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A device that answers every cmd at once, as the firmware would for an instant job. */
async function device(url: string, d: Dev): Promise<MqttClient> {
  const { client } = await connectDevice(url, d, { caps: ['identify'] });
  const ack = deviceTopic(d.id, 'ack');
  client.on('message', (topic, payload) => {
    if (topic !== deviceTopic(d.id, 'cmd')) return;
    const cmd = JSON.parse(payload.toString('utf8')) as Cmd;
    if (cmd.cancel || cmd.complete) return;
    client.publish(ack, JSON.stringify({ job: cmd.job, state: 'accepted' }));
    client.publish(ack, JSON.stringify({ job: cmd.job, state: 'done' }));
  });
  return client;
}

interface AgentRun { client: MqttClient; id: string; devices: string[] }

const dir = mkdtempSync(join(tmpdir(), 'fleetbind-bench-jobs-'));
const admin = randomBytes(24).toString('hex');
const clients: MqttClient[] = [];
let broker: BrokerProcess | null = null;

try {
  broker = await BrokerProcess.start(dir, admin, ['--log-level', 'info']);
  const bp = broker;
  log(`broker pid ${bp.child.pid} on ${bp.mqttUrl}; ${DEVICES} devices, ${AGENTS} agents, ${SECONDS} s`);

  const devs = await pool('provisioning devices', Array.from({ length: DEVICES }), 16, async (): Promise<Dev> => {
    const mac = randomMac();
    const r = await bp.api('POST', '/api/devices', { mac, model: 'bench' });
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.id, secret: r.body.secret, mac };
  });
  const agents = await pool('creating and logging in agents', Array.from({ length: AGENTS }, (_, i) => `bench-${i}`), 8, async (id) => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const created = await bp.api('POST', '/api/agents', { id, name: id, password });
    if (created.status !== 201) throw new Error(`creating agent ${id} failed: ${created.status} ${JSON.stringify(created.body)}`);
    const login = await bp.api('POST', '/api/login', { id, password }, undefined);
    if (login.status !== 200) throw new Error(`login ${id} failed: ${login.status}`);
    return { id, token: login.body.token as string };
  });
  clients.push(...(await pool('connecting devices', devs, 50, (d) => device(bp.mqttUrl, d))));

  // Each agent claims its share of the devices and watches their queues.
  const runs: AgentRun[] = await pool('connecting agents and claiming', agents, 20, async (a, i) => {
    const client = await connectAgent(bp.mqttUrl, a.id, a.token);
    clients.push(client);
    const mine = devs.filter((_, j) => j % AGENTS === i).map((d) => d.id);
    for (const device of mine) {
      const rid = `claim-${device}`;
      const answered = new Promise<any>((resolve) => {
        const on = (topic: string, payload: Buffer): void => {
          const body = JSON.parse(payload.toString('utf8'));
          if (topic === agentTopic(a.id, 'res') && body.id === rid) {
            client.removeListener('message', on);
            resolve(body);
          }
        };
        client.on('message', on);
      });
      await publish(client, agentTopic(a.id, 'req'), { id: rid, op: 'claim', target: device });
      const res = await answered;
      if (!res.ok) throw new Error(`claim of ${device} by ${a.id} failed: ${JSON.stringify(res.error)}`);
    }
    await subscribe(client, mine.map((d) => deviceTopic(d, 'jobs')));
    return { client, id: a.id, devices: mine };
  });

  const latencies: number[] = [];
  let completed = 0;
  let failed = 0;
  let refused = 0;
  let stopping = false;
  const started = performance.now();
  const inFlight = new Map<string, { device: string; at: number }>();

  for (const r of runs) {
    let seq = 0;
    const byRequest = new Map<string, { device: string; at: number }>();
    /** Ends that arrived before the submit's response named the job. */
    const early = new Map<string, { state: string; at: number }>();
    const finish = (job: string, state: string, at: number): void => {
      const f = inFlight.get(job)!;
      inFlight.delete(job);
      if (state === 'done') {
        completed++;
        latencies.push(at - f.at);
      } else failed++;
      submitTo(f.device);
    };
    const submitTo = (device: string): void => {
      if (stopping) return;
      const id = `s${++seq}`;
      byRequest.set(id, { device, at: performance.now() });
      r.client.publish(agentTopic(r.id, 'req'), JSON.stringify({ id, op: 'submit', device, kind: 'identify', params: { seconds: 1 } }));
    };
    r.client.on('message', (topic, payload) => {
      const now = performance.now();
      const body = JSON.parse(payload.toString('utf8'));
      if (topic === agentTopic(r.id, 'res')) {
        const req = byRequest.get(body.id);
        if (!req) return;
        byRequest.delete(body.id);
        if (!body.ok) {
          refused++;
          setTimeout(() => submitTo(req.device), 50);
          return;
        }
        inFlight.set(body.result.job, req);
        const e = early.get(body.result.job);
        if (e) {
          early.delete(body.result.job);
          finish(body.result.job, e.state, e.at);
        }
        return;
      }
      for (const e of (body as JobsSnapshot).ended ?? []) {
        if (inFlight.has(e.job)) finish(e.job, e.state, now);
        else early.set(e.job, { state: e.state, at: now });
      }
    });
    for (const d of r.devices) submitTo(d);
  }

  let lastCompleted = 0;
  const progress = setInterval(() => {
    const secs = (performance.now() - started) / 1000;
    log(`${secs.toFixed(0)} s: ${completed} done (${((completed - lastCompleted) / 2).toFixed(0)} jobs/s now), ${inFlight.size} in flight, ${failed} failed, ${refused} refused`);
    lastCompleted = completed;
  }, 2000);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const done = completed;
  stopping = true;
  clearInterval(progress);

  latencies.sort((a, b) => a - b);
  console.log('');
  console.log(`jobs benchmark: ${DEVICES} devices, ${AGENTS} agents, one job in flight per device, ${elapsed.toFixed(1)} s`);
  console.log(`  completed jobs/s   ${(done / elapsed).toFixed(0)}  (${done} done, ${failed} failed, ${refused} submits refused)`);
  console.log(`  submit → done p50  ${percentile(latencies, 50).toFixed(1)} ms`);
  console.log(`  submit → done p99  ${percentile(latencies, 99).toFixed(1)} ms`);
  const errors = bp.logLines().filter((l) => Number(l.level) >= 50);
  if (errors.length > 0) console.log(`  the broker logged ${errors.length} errors; the first: ${JSON.stringify(errors[0])}`);
} finally {
  await end(...clients);
  if (broker) await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
